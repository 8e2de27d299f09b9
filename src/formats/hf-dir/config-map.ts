import { type ArchConfig, ArchConfigSchema } from '../../tensor/bundle.js';
import { FormatError } from '../errors.js';
import { archExtrasFromHf, archKeysToHf, HF_ARCHITECTURES, HF_CLASSES, hfRopeTheta } from './config-arch.js';

function num(path: string, cfg: Record<string, unknown>, key: string, fallback?: number): number {
  const v = cfg[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new FormatError(path, key, `expected a number, got ${JSON.stringify(v)}`);
  return v;
}

/** Hugging Face config.json → ArchConfig (validated). */
export function archConfigFromHf(path: string, cfg: Record<string, unknown>): ArchConfig {
  const archName = Array.isArray(cfg['architectures']) ? String(cfg['architectures'][0]) : String(cfg['model_type']);
  const architecture = HF_ARCHITECTURES[archName] ?? HF_ARCHITECTURES[String(cfg['model_type'])];
  if (!architecture) throw new FormatError(path, 'architectures', `unsupported architecture ${JSON.stringify(archName)} (supported: ${Object.values(HF_CLASSES).join(', ')})`);
  const hidden = num(path, cfg, 'hidden_size');
  const heads = num(path, cfg, 'num_attention_heads');
  const layers = num(path, cfg, 'num_hidden_layers');
  const gemma = architecture === 'gemma2' || architecture === 'gemma3';
  const candidate = {
    architecture,
    hidden_size: hidden,
    num_layers: layers,
    num_heads: heads,
    num_kv_heads: num(path, cfg, 'num_key_value_heads', heads),
    head_dim: num(path, cfg, 'head_dim', Math.floor(hidden / heads)),
    vocab_size: num(path, cfg, 'vocab_size'),
    intermediate_size: num(path, cfg, 'intermediate_size'),
    rope_theta: hfRopeTheta(cfg),
    rms_norm_eps: num(path, cfg, 'rms_norm_eps', 1e-6),
    max_position_embeddings: num(path, cfg, 'max_position_embeddings', 2048),
    tie_word_embeddings: typeof cfg['tie_word_embeddings'] === 'boolean' ? cfg['tie_word_embeddings'] : gemma,
    attention_bias: typeof cfg['attention_bias'] === 'boolean' ? cfg['attention_bias'] : architecture === 'qwen2',
    bos_token_id: (cfg['bos_token_id'] ?? null) as number | null,
    eos_token_id: (cfg['eos_token_id'] ?? null) as number | number[] | null,
    ...archExtrasFromHf(path, architecture, cfg, layers),
  };
  const parsed = ArchConfigSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // Stryker disable next-line OptionalChaining: a failed safeParse always has at least one issue.
    throw new FormatError(path, issue?.path.join('.') ?? 'config', issue?.message ?? 'invalid');
  }
  return parsed.data;
}

/** ArchConfig → a Hugging Face config.json object that transformers loads. */
export function archConfigToHf(c: ArchConfig): Record<string, unknown> {
  const { rope_parameters: ropeParameters, architectures, model_type: modelType, hidden_act: hiddenAct, ...extra } = archKeysToHf(c);
  return {
    architectures,
    model_type: modelType,
    attention_bias: c.attention_bias,
    bos_token_id: c.bos_token_id ?? null,
    eos_token_id: c.eos_token_id ?? null,
    head_dim: c.head_dim,
    hidden_act: hiddenAct,
    hidden_size: c.hidden_size,
    intermediate_size: c.intermediate_size,
    max_position_embeddings: c.max_position_embeddings,
    num_attention_heads: c.num_heads,
    num_hidden_layers: c.num_layers,
    num_key_value_heads: c.num_kv_heads,
    rms_norm_eps: c.rms_norm_eps,
    rope_theta: c.rope_theta,
    rope_parameters: ropeParameters,
    tie_word_embeddings: c.tie_word_embeddings,
    vocab_size: c.vocab_size,
    dtype: 'float32',
    ...extra,
  };
}

/**
 * The architecture-specific keys of a Hugging Face config.json (transformers' Qwen3, Mistral, Phi3, Gemma2
 * and Gemma3 configs) ↔ the optional ArchConfig fields of src/tensor/bundle.ts. Both the legacy keys
 * (rope_theta, rope_local_base_freq, sliding_window_pattern, rope_scaling) and transformers 5's
 * (rope_parameters per layer type, layer_types) are read; both are written.
 */
import type { ArchConfig } from '../../tensor/bundle.js';
import { FormatError } from '../errors.js';

type Arch = ArchConfig['architecture'];
type Extras = Partial<Pick<ArchConfig, 'sliding_window' | 'layer_types' | 'partial_rotary_factor' | 'rope_local_theta' | 'query_pre_attn_scalar' | 'attn_logit_softcapping' | 'final_logit_softcapping'>>;
type LayerType = 'full_attention' | 'sliding_attention';

export const HF_CLASSES: Record<Arch, string> = {
  llama: 'LlamaForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
  qwen3: 'Qwen3ForCausalLM',
  mistral: 'MistralForCausalLM',
  phi3: 'Phi3ForCausalLM',
  gemma2: 'Gemma2ForCausalLM',
  gemma3: 'Gemma3ForCausalLM',
};
const MODEL_TYPES: Record<Arch, string> = { llama: 'llama', qwen2: 'qwen2', qwen3: 'qwen3', mistral: 'mistral', phi3: 'phi3', gemma2: 'gemma2', gemma3: 'gemma3_text' };

/** architectures[0] or model_type → our architecture name. */
export const HF_ARCHITECTURES: Record<string, Arch> = Object.fromEntries([
  ...Object.entries(HF_CLASSES).map(([a, cls]) => [cls, a]),
  ...Object.entries(MODEL_TYPES).map(([a, t]) => [t, a]),
]) as Record<string, Arch>;

const isGemma = (a: Arch): boolean => a === 'gemma2' || a === 'gemma3';

function rec(v: unknown): Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function optNum(path: string, cfg: Record<string, unknown>, key: string): number | undefined {
  const v = cfg[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new FormatError(path, key, `expected a number, got ${JSON.stringify(v)}`);
  return v;
}

/** rope_parameters (transformers 5) or rope_scaling (4.x); for Gemma 3 the full-attention entry. */
function ropeParams(cfg: Record<string, unknown>): Record<string, unknown> {
  const rp = rec(cfg['rope_parameters'] ?? cfg['rope_scaling']);
  return 'full_attention' in rp ? rec(rp['full_attention']) : rp;
}

/** Only plain RoPE is supported for the newer architectures (no linear/dynamic/yarn/longrope scaling). */
function checkPlainRope(path: string, cfg: Record<string, unknown>): void {
  const rp = ropeParams(cfg);
  const type = rp['rope_type'] ?? rp['type'];
  if (type !== undefined && type !== null && type !== 'default') throw new FormatError(path, 'rope_scaling', `RoPE scaling ${JSON.stringify(type)} is not supported (plain RoPE only)`);
}

/** The RoPE base of the global (full-attention) layers. */
export function hfRopeTheta(cfg: Record<string, unknown>): number {
  const top = cfg['rope_theta'];
  const nested = ropeParams(cfg)['rope_theta'];
  return typeof top === 'number' ? top : typeof nested === 'number' ? nested : 10000;
}

function gemmaLayerTypes(path: string, a: Arch, cfg: Record<string, unknown>, layers: number): LayerType[] {
  const given = cfg['layer_types'];
  if (Array.isArray(given)) {
    if (!given.every((t) => t === 'full_attention' || t === 'sliding_attention')) throw new FormatError(path, 'layer_types', 'expected "full_attention" / "sliding_attention" entries');
    return given as LayerType[];
  }
  const pattern = a === 'gemma2' ? 2 : (optNum(path, cfg, 'sliding_window_pattern') ?? 6);
  return Array.from({ length: layers }, (_, i) => ((i + 1) % pattern === 0 ? 'full_attention' : 'sliding_attention'));
}

function gemmaExtras(path: string, a: Arch, cfg: Record<string, unknown>, layers: number): Extras {
  const act = cfg['hidden_activation'] ?? cfg['hidden_act'];
  if (act !== undefined && act !== 'gelu_pytorch_tanh') throw new FormatError(path, 'hidden_activation', `expected "gelu_pytorch_tanh", got ${JSON.stringify(act)}`);
  const window = optNum(path, cfg, 'sliding_window');
  const local = rec(rec(cfg['rope_parameters'])['sliding_attention'])['rope_theta'] ?? cfg['rope_local_base_freq'];
  const out: Extras = {
    query_pre_attn_scalar: optNum(path, cfg, 'query_pre_attn_scalar') ?? optNum(path, cfg, 'head_dim') ?? 256,
    attn_logit_softcapping: optNum(path, cfg, 'attn_logit_softcapping') ?? null,
    final_logit_softcapping: optNum(path, cfg, 'final_logit_softcapping') ?? null,
  };
  if (window !== undefined) Object.assign(out, { sliding_window: window, layer_types: gemmaLayerTypes(path, a, cfg, layers) });
  if (a === 'gemma3') out.rope_local_theta = typeof local === 'number' ? local : 10000;
  return out;
}

/** The optional ArchConfig fields from config.json, per architecture. */
export function archExtrasFromHf(path: string, a: Arch, cfg: Record<string, unknown>, layers: number): Extras {
  if (a === 'llama' || a === 'qwen2') return {};
  checkPlainRope(path, cfg);
  if (a === 'qwen3') {
    if (cfg['use_sliding_window'] === true) throw new FormatError(path, 'use_sliding_window', 'Qwen sliding-window layers are not supported');
    return {};
  }
  if (isGemma(a)) return gemmaExtras(path, a, cfg, layers);
  const window = optNum(path, cfg, 'sliding_window');
  const out: Extras = window !== undefined && window > 0 ? { sliding_window: window } : {};
  const partial = optNum(path, cfg, 'partial_rotary_factor') ?? optNum(path, rec(cfg['rope_parameters']), 'partial_rotary_factor');
  if (a === 'phi3' && partial !== undefined && partial !== 1) out.partial_rotary_factor = partial;
  return out;
}

/** The smallest period p with layer i sliding ⇔ (i + 1) mod p ≠ 0, as Gemma's sliding_window_pattern; undefined if none. */
export function slidingPattern(types: readonly LayerType[]): number | undefined {
  for (let p = 1; p <= types.length + 1; p++) {
    if (types.every((t, i) => (t === 'sliding_attention') === ((i + 1) % p !== 0))) return p;
  }
  return undefined;
}

function ropeParameters(c: ArchConfig): Record<string, unknown> {
  const full = { rope_theta: c.rope_theta, rope_type: 'default', ...(c.partial_rotary_factor !== undefined ? { partial_rotary_factor: c.partial_rotary_factor } : {}) };
  if (c.architecture !== 'gemma3') return full;
  return { full_attention: full, sliding_attention: { rope_theta: c.rope_local_theta ?? 10000, rope_type: 'default' } };
}

function gemmaKeys(c: ArchConfig): Record<string, unknown> {
  const pattern = c.layer_types ? slidingPattern(c.layer_types) : undefined;
  return {
    hidden_activation: 'gelu_pytorch_tanh',
    query_pre_attn_scalar: c.query_pre_attn_scalar ?? c.head_dim,
    attn_logit_softcapping: c.attn_logit_softcapping ?? null,
    final_logit_softcapping: c.final_logit_softcapping ?? null,
    ...(c.architecture === 'gemma3' ? { rope_local_base_freq: c.rope_local_theta ?? 10000, ...(pattern !== undefined ? { sliding_window_pattern: pattern } : {}) } : {}),
  };
}

/** The config.json keys of an ArchConfig that depend on the architecture. */
export function archKeysToHf(c: ArchConfig): Record<string, unknown> {
  const a = c.architecture;
  const out: Record<string, unknown> = { architectures: [HF_CLASSES[a]], model_type: MODEL_TYPES[a], hidden_act: isGemma(a) ? 'gelu_pytorch_tanh' : 'silu' };
  if (isGemma(a)) Object.assign(out, gemmaKeys(c));
  if (a === 'phi3') Object.assign(out, { original_max_position_embeddings: c.max_position_embeddings, partial_rotary_factor: c.partial_rotary_factor ?? 1 });
  if (c.sliding_window !== undefined) out['sliding_window'] = c.sliding_window;
  if (c.layer_types !== undefined) out['layer_types'] = c.layer_types;
  out['rope_parameters'] = ropeParameters(c);
  return out;
}

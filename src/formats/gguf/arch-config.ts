/** GGUF `<arch>.*` hyper-parameter keys ↔ ArchConfig, as convert_hf_to_gguf.py writes them (see arch-extra.ts). */
import { type ArchConfig, ArchConfigSchema } from '../../tensor/bundle.js';
import { FormatError } from '../errors.js';
import type { GgufTensorInfo, GgufValue } from './types.js';
import { archExtraKeys, archExtrasFromGguf, ggufArchName } from './arch-extra.js';
import { rotaryDim } from '../../tensor/arch.js';

const ARCHS = ['llama', 'qwen2', 'qwen3', 'phi3', 'gemma2', 'gemma3'] as const;

/** The shortest decimal that rounds to the same float32: GGUF stores 1e-5 as 9.99999974e-6; HF says 1e-5. */
function shortestF32(x: number): number {
  for (let p = 1; p <= 9; p++) {
    const v = Number(x.toPrecision(p));
    if (Math.fround(v) === x) return v;
  }
  return x;
}

export class KvReader {
  readonly used = new Set<string>();

  constructor(
    readonly file: string,
    readonly kv: ReadonlyMap<string, GgufValue>,
  ) {}

  get(key: string): GgufValue | undefined {
    const v = this.kv.get(key);
    if (v !== undefined) this.used.add(key);
    return v;
  }

  int(key: string, required: true): number;
  int(key: string, required?: false): number | undefined;
  int(key: string, required = false): number | undefined {
    const v = this.get(key);
    if (v === undefined) {
      if (required) throw new FormatError(this.file, key, 'missing');
      return undefined;
    }
    const n = v.type === 'u64' || v.type === 'i64' ? Number(v.value) : v.value;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || v.type === 'f32' || v.type === 'f64') throw new FormatError(this.file, key, `expected an integer, got ${v.type}`);
    return n;
  }

  float(key: string): number | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (v.type === 'f32') return shortestF32(v.value);
    if (v.type === 'f64') return v.value;
    throw new FormatError(this.file, key, `expected a float, got ${v.type}`);
  }

  string(key: string): string | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (v.type !== 'string') throw new FormatError(this.file, key, `expected a string, got ${v.type}`);
    return v.value;
  }
}

function ggufArchitecture(r: KvReader): (typeof ARCHS)[number] {
  const arch = r.string('general.architecture');
  const known = ARCHS.find((a) => a === arch);
  if (!known) throw new FormatError(r.file, 'general.architecture', `unsupported architecture ${JSON.stringify(arch)} (supported: ${ARCHS.join(', ')})`);
  return known;
}

/** ArchConfig from the `<arch>.*` keys (validated); vocab size from the key, the token list or the embedding. */
export function archConfigFromGguf(r: KvReader, tensors: readonly GgufTensorInfo[], vocabLength: number | undefined): ArchConfig {
  const a = ggufArchitecture(r);
  const hidden = r.int(`${a}.embedding_length`, true);
  const heads = r.int(`${a}.attention.head_count`, true);
  const embd = tensors.find((t) => t.name === 'token_embd.weight');
  const eps = r.float(`${a}.attention.layer_norm_rms_epsilon`);
  if (eps === undefined) throw new FormatError(r.file, `${a}.attention.layer_norm_rms_epsilon`, 'missing');
  const layers = r.int(`${a}.block_count`, true);
  const headDim = r.int(`${a}.attention.key_length`) ?? Math.floor(hidden / heads);
  const ropeTheta = r.float(`${a}.rope.freq_base`) ?? 10000;
  const x = archExtrasFromGguf(r, a, { num_layers: layers, hidden_size: hidden, num_heads: heads, head_dim: headDim, rope_theta: ropeTheta });
  const candidate = {
    architecture: x.architecture,
    hidden_size: hidden,
    num_layers: layers,
    num_heads: heads,
    num_kv_heads: r.int(`${a}.attention.head_count_kv`) ?? heads,
    head_dim: x.head_dim ?? headDim,
    vocab_size: r.int(`${a}.vocab_size`) ?? vocabLength ?? embd?.dims[1],
    intermediate_size: r.int(`${a}.feed_forward_length`, true),
    rope_theta: ropeTheta,
    rms_norm_eps: eps,
    max_position_embeddings: r.int(`${a}.context_length`, true),
    tie_word_embeddings: !tensors.some((t) => t.name === 'output.weight'),
    attention_bias: tensors.some((t) => t.name === 'blk.0.attn_q.bias'),
    bos_token_id: r.int('tokenizer.ggml.bos_token_id') ?? null,
    eos_token_id: r.int('tokenizer.ggml.eos_token_id') ?? null,
    ...x.extras,
  };
  const parsed = ArchConfigSchema.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FormatError(r.file, `${a}.${issue?.path.join('.') ?? 'config'}`, issue?.message ?? 'invalid');
  }
  return parsed.data;
}

/** The `<arch>.*` keys convert_hf_to_gguf.py writes (in its order), from an ArchConfig. */
export function archKeys(c: ArchConfig): [string, GgufValue][] {
  const a = ggufArchName(c.architecture);
  const u32 = (value: number): GgufValue => ({ type: 'u32', value });
  const f32 = (value: number): GgufValue => ({ type: 'f32', value });
  return [
    [`${a}.block_count`, u32(c.num_layers)],
    [`${a}.context_length`, u32(c.max_position_embeddings)],
    [`${a}.embedding_length`, u32(c.hidden_size)],
    [`${a}.feed_forward_length`, u32(c.intermediate_size)],
    [`${a}.attention.head_count`, u32(c.num_heads)],
    [`${a}.attention.head_count_kv`, u32(c.num_kv_heads)],
    [`${a}.rope.freq_base`, f32(c.rope_theta)],
    [`${a}.attention.layer_norm_rms_epsilon`, f32(c.rms_norm_eps)],
    ...(a === 'phi3' ? [] : ([[`${a}.attention.key_length`, u32(c.head_dim)], [`${a}.attention.value_length`, u32(c.head_dim)]] as [string, GgufValue][])),
  ];
}

/**
 * Keys written after general.file_type, as convert_hf_to_gguf.py's LlamaModel does, then the
 * architecture's own (arch-extra.ts; `path` names the source in errors for configs GGUF cannot express).
 */
export function archTailKeys(c: ArchConfig, path = ''): [string, GgufValue][] {
  const a = ggufArchName(c.architecture);
  return [
    [`${a}.vocab_size`, { type: 'u32', value: c.vocab_size }],
    [`${a}.rope.dimension_count`, { type: 'u32', value: rotaryDim(c) }],
    ...archExtraKeys(path, c),
  ];
}

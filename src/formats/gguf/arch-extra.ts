/**
 * The architecture-specific GGUF keys, as llama.cpp's converter writes them and its loader reads them
 * (src/models/{llama,qwen3,phi3,gemma2,gemma3}.cpp):
 * - Mistral is written as general.architecture = llama (convert_hf_to_gguf.py's LlamaModel); its
 *   sliding_window goes to llama.attention.sliding_window, a key llama.cpp's llama graph does not read (it
 *   attends to every position), so such a file reads back as mistral and a file without it as llama.
 * - phi3: rope.dimension_count = ⌊head_dim · partial_rotary_factor⌋, attention.sliding_window (0 = none),
 *   rope.scaling.original_context_length; head_dim = hidden / heads (no key_length).
 * - gemma2: attn_logit_softcapping (default 50), final_logit_softcapping (default 30),
 *   attention.sliding_window (default 4096) on layers i with i mod p < p − 1, p = sliding_window_pattern
 *   (default 2), rope.freq_base_swa (default: rope.freq_base).
 * - gemma3: sliding window only when attention.sliding_window > 0, pattern default 6, rope.freq_base_swa
 *   default 10000; final_logit_softcapping only when present.
 * - Gemma's attention scale is not stored: llama.cpp uses 1/√head_dim, or 1/√(hidden/heads) for its 27B
 *   models (46 layers for gemma2, 62 for gemma3); that is the query_pre_attn_scalar read and required here.
 */
import type { ArchConfig } from '../../tensor/bundle.js';
import { FormatError } from '../errors.js';
import type { KvReader } from './arch-config.js';
import type { GgufValue } from './types.js';

type Arch = ArchConfig['architecture'];
type LayerType = 'full_attention' | 'sliding_attention';
type Extras = Partial<ArchConfig>;

/** The GGUF general.architecture of an architecture (Mistral is written as llama). */
export function ggufArchName(a: Arch): string {
  return a === 'mistral' ? 'llama' : a;
}

const GEMMA_27B_LAYERS: Partial<Record<Arch, number>> = { gemma2: 46, gemma3: 62 };
const DEFAULT_PATTERN: Partial<Record<Arch, number>> = { gemma2: 2, gemma3: 6 };

/** llama.cpp's layer kinds for a period p: layer i slides when i mod p < p − 1 (p = 0: every layer). */
function patternLayers(layers: number, p: number): LayerType[] {
  return Array.from({ length: layers }, (_, i) => (p === 0 || i % p < p - 1 ? 'sliding_attention' : 'full_attention'));
}

/** The query_pre_attn_scalar llama.cpp implies for a Gemma model. */
export function gemmaImpliedScalar(c: Pick<ArchConfig, 'architecture' | 'num_layers' | 'hidden_size' | 'num_heads' | 'head_dim'>): number {
  return c.num_layers === GEMMA_27B_LAYERS[c.architecture] ? Math.floor(c.hidden_size / c.num_heads) : c.head_dim;
}

function gemmaFromGguf(r: KvReader, a: Arch, base: Pick<ArchConfig, 'architecture' | 'num_layers' | 'hidden_size' | 'num_heads' | 'head_dim' | 'rope_theta'>): Extras {
  const window = r.int(`${a}.attention.sliding_window`) ?? (a === 'gemma2' ? 4096 : 0);
  const pattern = r.int(`${a}.attention.sliding_window_pattern`) ?? DEFAULT_PATTERN[a] ?? 0;
  const swaTheta = r.float(`${a}.rope.freq_base_swa`);
  const out: Extras = {
    query_pre_attn_scalar: gemmaImpliedScalar(base),
    attn_logit_softcapping: a === 'gemma2' ? (r.float(`${a}.attn_logit_softcapping`) ?? 50) : null,
    final_logit_softcapping: r.float(`${a}.final_logit_softcapping`) ?? (a === 'gemma2' ? 30 : null),
  };
  if (window > 0) {
    out.sliding_window = window;
    out.layer_types = patternLayers(base.num_layers, pattern);
    const local = swaTheta ?? (a === 'gemma3' ? 10000 : undefined);
    if (local !== undefined && local !== base.rope_theta) out.rope_local_theta = local;
  }
  return out;
}

/** The architecture and its optional config fields from the `<arch>.*` keys. */
export function archExtrasFromGguf(r: KvReader, ggufArch: string, base: Pick<ArchConfig, 'num_layers' | 'hidden_size' | 'num_heads' | 'head_dim' | 'rope_theta'>): { architecture: Arch; head_dim?: number; extras: Extras } {
  if (ggufArch === 'llama') {
    const window = r.int('llama.attention.sliding_window');
    return window !== undefined && window > 0 ? { architecture: 'mistral', extras: { sliding_window: window } } : { architecture: 'llama', extras: {} };
  }
  if (ggufArch === 'phi3') {
    const headDim = r.int('phi3.attention.key_length') ?? Math.floor(base.hidden_size / base.num_heads);
    const rot = r.int('phi3.rope.dimension_count') ?? headDim;
    const window = r.int('phi3.attention.sliding_window') ?? 0;
    const extras: Extras = { ...(rot !== headDim ? { partial_rotary_factor: rot / headDim } : {}), ...(window > 0 ? { sliding_window: window } : {}) };
    return { architecture: 'phi3', head_dim: headDim, extras };
  }
  const a = ggufArch as Arch;
  if (a === 'gemma2' || a === 'gemma3') return { architecture: a, extras: gemmaFromGguf(r, a, { ...base, architecture: a }) };
  return { architecture: a, extras: {} };
}

const u32 = (value: number): GgufValue => ({ type: 'u32', value });
const f32 = (value: number): GgufValue => ({ type: 'f32', value });

/** The llama.cpp period of the config's layer_types (0: every layer slides), or an error. */
function ggufPattern(path: string, c: ArchConfig): number {
  const types = c.layer_types ?? patternLayers(c.num_layers, 0);
  const fits = (p: number): boolean => patternLayers(c.num_layers, p).every((t, i) => t === types[i]);
  const preferred = DEFAULT_PATTERN[c.architecture] ?? 0;
  if (fits(preferred)) return preferred;
  for (let p = 0; p <= c.num_layers + 1; p++) if (fits(p)) return p;
  throw new FormatError(path, 'layer_types', 'the sliding/full layer sequence is not periodic, which llama.cpp cannot express');
}

function gemmaKeys(path: string, c: ArchConfig): [string, GgufValue][] {
  const a = c.architecture;
  const scalar = c.query_pre_attn_scalar ?? c.head_dim;
  if (scalar !== gemmaImpliedScalar(c)) throw new FormatError(path, 'query_pre_attn_scalar', `${scalar}, but llama.cpp derives ${gemmaImpliedScalar(c)} for this shape (GGUF has no key for it)`);
  const out: [string, GgufValue][] = [];
  if (a === 'gemma2') {
    if (typeof c.attn_logit_softcapping !== 'number' || typeof c.final_logit_softcapping !== 'number') throw new FormatError(path, 'attn_logit_softcapping', 'llama.cpp soft-caps every gemma2 model: both soft-caps must be set');
    out.push([`${a}.attn_logit_softcapping`, f32(c.attn_logit_softcapping)], [`${a}.final_logit_softcapping`, f32(c.final_logit_softcapping)]);
  } else if (typeof c.attn_logit_softcapping === 'number') {
    throw new FormatError(path, 'attn_logit_softcapping', 'llama.cpp has no attention soft-capping for gemma3');
  } else if (typeof c.final_logit_softcapping === 'number') out.push([`${a}.final_logit_softcapping`, f32(c.final_logit_softcapping)]);
  if (typeof c.sliding_window !== 'number') return a === 'gemma3' ? out : [...out, [`${a}.attention.sliding_window`, u32(1 << 30)]];
  out.push([`${a}.attention.sliding_window`, u32(c.sliding_window)]);
  const p = ggufPattern(path, c);
  if (p !== DEFAULT_PATTERN[a]) out.push([`${a}.attention.sliding_window_pattern`, u32(p)]);
  if (c.rope_local_theta !== undefined) out.push([`${a}.rope.freq_base_swa`, f32(c.rope_local_theta)]);
  return out;
}

/** The architecture-specific keys written after the common ones. */
export function archExtraKeys(path: string, c: ArchConfig): [string, GgufValue][] {
  const a = c.architecture;
  if (a === 'mistral' && typeof c.sliding_window === 'number') return [['llama.attention.sliding_window', u32(c.sliding_window)]];
  if (a === 'phi3') return [['phi3.rope.scaling.original_context_length', u32(c.max_position_embeddings)], ['phi3.attention.sliding_window', u32(c.sliding_window ?? 0)]];
  if (a === 'gemma2' || a === 'gemma3') return gemmaKeys(path, c);
  if ((a === 'llama' || a === 'qwen2' || a === 'qwen3') && typeof c.sliding_window === 'number') throw new FormatError(path, 'sliding_window', `${a} in llama.cpp has no sliding window`);
  return [];
}

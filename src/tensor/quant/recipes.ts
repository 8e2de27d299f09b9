/**
 * Which dtype each tensor gets under a scheme: a port of llama-quantize's tensor selection
 * (llama.cpp src/llama-quant.cpp at commit 80fb11a: tensor_allows_quantization, llama_tensor_get_type_impl,
 * tensor_type_fallback), so that our files compare with llama.cpp's tensor by tensor.
 *
 * - Only tensors with ≥ 2 dims whose name ends in "weight" are quantized; 1-D tensors (norms, biases) are
 *   stored as F32, other excluded tensors keep their dtype. Roles (output, token_embd, attn_v, attn_output,
 *   ffn_down) are recognised from Hugging Face names (lm_head, model.embed_tokens, self_attn.v_proj,
 *   self_attn.o_proj, mlp.down_proj)
 *   and from llama.cpp's GGUF names alike.
 * - output.weight (and token_embd.weight when the embeddings are tied, i.e. there is no output.weight) gets
 *   Q6_K under every k-quant and legacy scheme except q8_0, where it stays Q8_0; Q8_0 when its rows are not
 *   a multiple of the scheme's block size. token_embd.weight (untied) gets the scheme's type.
 * - attn_v (and fused attn_qkv / attn_kv_b): Q6_K in q4_k_m / q5_k_m where use_more_bits(i, n) holds, with i
 *   the index of the attn_v tensor and n their count; Q5_K for the first four in q4_k_s.
 * - ffn_down of layer i of n: Q6_K in q4_k_m / q5_k_m where use_more_bits(i, n); Q5_K in q4_k_s for
 *   i < n/8; with an importance matrix, q4_0 / q5_0 use Q4_1 / Q5_1 for i < n/8.
 *   use_more_bits(i, n) = i < n/8 ∨ i ≥ 7n/8 ∨ (i − n/8) mod 3 = 2 (integer division).
 * - iq4_nl / iq4_xs: attn_v Q5_K when n_head / n_head_kv ≥ 4; ffn_down Q5_K for i < n/8 without an
 *   importance matrix; output.weight Q6_K (Q8_0 when the scheme's block does not divide its rows).
 * - q2_k: attn_v Q4_K when n_head / n_head_kv ≥ 4, else Q3_K; ffn_down and attn_output Q3_K. q3_k_m: attn_v
 *   Q5_K for the first two, then Q4_K; ffn_down Q5_K for i < n/16, then Q4_K; attn_output Q4_K. q3_k_l:
 *   attn_v, ffn_down and attn_output Q5_K. q3_k_s: Q3_K throughout (output.weight Q6_K as above).
 * - A row length that the chosen type's block does not divide falls back: Q2_K, Q3_K → Q4_0, Q4_K → Q5_0,
 *   Q5_K → Q5_1, Q6_K → Q8_0, IQ4_XS → IQ4_NL, a 32-value type stays; F16 when even that does not divide it.
 * - `pure` (llama-quantize --pure) skips the mixture rules: every quantizable tensor gets the scheme's type.
 * llama.cpp counts attn_v and ffn_down tensors in file order; we take the layer number from the name, which
 * is the same thing for files whose layers are stored in order (every convert_hf_to_gguf.py output). The
 * Falcon, 70B and mixture-of-experts special cases, Q2_K_S and the IQ1/IQ2/IQ3 mixtures are not ported.
 * Our own schemes (f16, bf16, nf4, int8, int4) quantize the same tensors, with no mixture, F16 fallback.
 */
import { type DType, DTYPES } from '../dtype.js';

export interface Scheme {
  /** The dtype most tensors get. */
  readonly base: DType;
  /** llama_ftype (general.file_type), for schemes llama.cpp has. */
  readonly ftype?: number;
  /** Which llama.cpp mixture rules apply. */
  readonly mix?: 'q2_k' | 'q3_k_s' | 'q3_k_m' | 'q3_k_l' | 'q4_k_s' | 'q4_k_m' | 'q5_k_s' | 'q5_k_m' | 'iq4';
  readonly description: string;
}

export const SCHEMES = {
  q8_0: { base: 'Q8_0', ftype: 7, description: 'llama.cpp Q8_0: 8.5 bits per weight' },
  q4_0: { base: 'Q4_0', ftype: 2, description: 'llama.cpp Q4_0 (output.weight Q6_K)' },
  q4_1: { base: 'Q4_1', ftype: 3, description: 'llama.cpp Q4_1 (output.weight Q6_K)' },
  q5_0: { base: 'Q5_0', ftype: 8, description: 'llama.cpp Q5_0 (output.weight Q6_K)' },
  q5_1: { base: 'Q5_1', ftype: 9, description: 'llama.cpp Q5_1 (output.weight Q6_K)' },
  q2_k: { base: 'Q2_K', ftype: 10, mix: 'q2_k', description: 'llama.cpp Q2_K (attn_v Q3_K/Q4_K, ffn_down and attn_output Q3_K)' },
  q3_k_s: { base: 'Q3_K', ftype: 11, mix: 'q3_k_s', description: 'llama.cpp Q3_K_S' },
  q3_k_m: { base: 'Q3_K', ftype: 12, mix: 'q3_k_m', description: 'llama.cpp Q3_K_M (attn_v Q5_K/Q4_K, ffn_down Q5_K/Q4_K, attn_output Q4_K)' },
  q3_k: { base: 'Q3_K', ftype: 12, mix: 'q3_k_m', description: 'llama-quantize\'s Q3_K: the same as q3_k_m' },
  q3_k_l: { base: 'Q3_K', ftype: 13, mix: 'q3_k_l', description: 'llama.cpp Q3_K_L (attn_v, ffn_down, attn_output Q5_K)' },
  q4_k_s: { base: 'Q4_K', ftype: 14, mix: 'q4_k_s', description: 'llama.cpp Q4_K_S' },
  q4_k_m: { base: 'Q4_K', ftype: 15, mix: 'q4_k_m', description: 'llama.cpp Q4_K_M (some attn_v / ffn_down Q6_K)' },
  q4_k: { base: 'Q4_K', ftype: 15, mix: 'q4_k_m', description: 'llama-quantize\'s Q4_K: the same as q4_k_m' },
  q5_k_s: { base: 'Q5_K', ftype: 16, mix: 'q5_k_s', description: 'llama.cpp Q5_K_S' },
  q5_k_m: { base: 'Q5_K', ftype: 17, mix: 'q5_k_m', description: 'llama.cpp Q5_K_M' },
  q5_k: { base: 'Q5_K', ftype: 17, mix: 'q5_k_m', description: 'llama-quantize\'s Q5_K: the same as q5_k_m' },
  q6_k: { base: 'Q6_K', ftype: 18, description: 'llama.cpp Q6_K: 6.56 bits per weight' },
  iq4_nl: { base: 'IQ4_NL', ftype: 25, mix: 'iq4', description: 'llama.cpp IQ4_NL: non-linear 4-bit levels, 32-value blocks (4.5 bpw)' },
  iq4_xs: { base: 'IQ4_XS', ftype: 30, mix: 'iq4', description: 'llama.cpp IQ4_XS: IQ4_NL levels, 256-value blocks with 6-bit scales (4.25 bpw)' },
  f16: { base: 'F16', ftype: 1, description: 'IEEE half precision' },
  bf16: { base: 'BF16', ftype: 32, description: 'bfloat16' },
  nf4: { base: 'NF4', description: 'QLoRA NormalFloat4, 64-value blocks with an f16 absmax (APR only)' },
  int8: { base: 'APR_Q8', description: 'aprender APR_Q8: one f32 scale per tensor (APR only)' },
  int4: { base: 'APR_Q4', description: 'aprender APR_Q4: 32-value blocks, f16 scale (APR only)' },
} as const satisfies Record<string, Scheme>;

export type SchemeName = keyof typeof SCHEMES;

export function isSchemeName(s: string): s is SchemeName {
  return Object.hasOwn(SCHEMES, s);
}

/** A tensor as the selection sees it. */
export interface TensorInfo {
  /** Hugging Face (canonical) or llama.cpp GGUF name. */
  readonly name: string;
  readonly dtype: DType;
  readonly shape: readonly number[];
}

export interface SelectionContext {
  readonly numLayers: number;
  /** Number of attn_v-like tensors (llama.cpp's n_attention_wv). */
  readonly attnV: number;
  /** Query heads per key/value head (llama.cpp's n_gqa(): n_head / n_head_kv, 0 without kv heads). */
  readonly gqa: number;
  /** No output.weight: token_embd doubles as the output (llama.cpp's has_tied_embeddings). */
  readonly tied: boolean;
  readonly pure: boolean;
  readonly imatrix: boolean;
}

/** The counts llama.cpp derives from the whole model before choosing types. */
export function selectionContext(tensors: readonly TensorInfo[], numLayers: number, opts: { tied: boolean; pure?: boolean; imatrix?: boolean; heads?: number; kvHeads?: number }): SelectionContext {
  const attnV = tensors.filter((t) => roleOf(t.name) === 'attn_v').length;
  const hasOutput = !opts.tied && tensors.some((t) => roleOf(t.name) === 'output');
  const gqa = opts.kvHeads ? Math.floor((opts.heads ?? 0) / opts.kvHeads) : 0;
  return { numLayers, attnV, gqa, tied: !hasOutput, pure: opts.pure ?? false, imatrix: opts.imatrix ?? false };
}

type Role = 'output' | 'token_embd' | 'attn_v' | 'attn_output' | 'ffn_down' | 'other';

/** llama.cpp's tensor categories (tensor_get_category), on HF or GGUF names. */
const ROLES: readonly (readonly [RegExp, Role])[] = [
  [/^(output|lm_head)\.weight$/, 'output'],
  [/^(token_embd|model\.embed_tokens)\.weight$/, 'token_embd'],
  [/(attn_v|attn_qkv|attn_kv_b|self_attn\.v_proj|self_attn\.qkv_proj)\.weight$/, 'attn_v'],
  [/(attn_output|self_attn\.o_proj)\.weight$/, 'attn_output'],
  [/(ffn_down|mlp\.down_proj)/, 'ffn_down'],
];

function roleOf(name: string): Role {
  return ROLES.find(([re]) => re.test(name))?.[1] ?? 'other';
}

function layerOf(name: string): number {
  const m = /^(?:blk|model\.layers)\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : 0;
}

const NEVER_QUANTIZED = ['_norm.weight', 'ffn_gate_inp.weight', 'altup', 'laurel', 'per_layer_model_proj', 'ssm_conv1d', 'attn_rel_b.weight', 'position_embd', 'token_types'];

/** llama.cpp's tensor_allows_quantization. */
function allowsQuantization(name: string, shape: readonly number[]): boolean {
  return shape.length >= 2 && name.endsWith('weight') && !NEVER_QUANTIZED.some((s) => name.includes(s));
}

export function useMoreBits(i: number, n: number): boolean {
  const n8 = Math.floor(n / 8);
  return i < n8 || i >= Math.floor((7 * n) / 8) || (i - n8) % 3 === 2;
}

function blockOf(t: DType): number {
  return DTYPES[t].blockSize;
}

function outputType(base: DType, cols: number): DType {
  if (cols % blockOf(base) !== 0) return 'Q8_0';
  return base === 'Q8_0' ? base : 'Q6_K';
}

function attnVType(base: DType, mix: Scheme['mix'], i: number, ctx: SelectionContext): DType {
  switch (mix) {
    case 'q2_k': return ctx.gqa >= 4 ? 'Q4_K' : 'Q3_K';
    case 'q3_k_m': return i < 2 ? 'Q5_K' : 'Q4_K';
    case 'q3_k_l': return 'Q5_K';
    case 'q4_k_m':
    case 'q5_k_m': return useMoreBits(i, ctx.attnV) ? 'Q6_K' : base;
    case 'q4_k_s': return i < 4 ? 'Q5_K' : base;
    default: return base;
  }
}

type Mix = NonNullable<Scheme['mix']>;

/** ffn_down of layer i of n under the mixtures that change it (llama.cpp's non-Falcon branches); undefined keeps the base. */
const q6WhereMoreBits = (i: number, n: number): DType | undefined => (useMoreBits(i, n) ? 'Q6_K' : undefined);
const FFN_DOWN: Partial<Record<Mix, (i: number, n: number) => DType | undefined>> = {
  q2_k: () => 'Q3_K',
  q3_k_m: (i, n) => (i < Math.floor(n / 16) ? 'Q5_K' : 'Q4_K'),
  q3_k_l: () => 'Q5_K',
  q4_k_m: q6WhereMoreBits,
  q5_k_m: q6WhereMoreBits,
  q4_k_s: (i, n) => (i < Math.floor(n / 8) ? 'Q5_K' : undefined),
};

function ffnDownType(base: DType, mix: Scheme['mix'], i: number, ctx: SelectionContext): DType {
  const rule = mix && FFN_DOWN[mix];
  if (rule) return rule(i, ctx.numLayers) ?? base;
  const early = i < Math.floor(ctx.numLayers / 8);
  if (ctx.imatrix && early && base === 'Q4_0') return 'Q4_1';
  return ctx.imatrix && early && base === 'Q5_0' ? 'Q5_1' : base;
}

/** attn_output under the mixtures that change it (llama.cpp's non-Falcon, non-8-expert branch). */
const ATTN_OUTPUT: Partial<Record<Mix, DType>> = { q2_k: 'Q3_K', q3_k_m: 'Q4_K', q3_k_l: 'Q5_K' };

/** IQ4_NL / IQ4_XS: attn_v Q5_K when n_gqa ≥ 4; ffn_down Q5_K for i < n/8 unless there is an importance matrix. */
function iq4Type(base: DType, role: Role, i: number, ctx: SelectionContext): DType {
  if (role === 'attn_v') return ctx.gqa >= 4 ? 'Q5_K' : base;
  if (role === 'ffn_down') return !ctx.imatrix && i < Math.floor(ctx.numLayers / 8) ? 'Q5_K' : base;
  return base;
}

/** llama_tensor_get_type_impl for the mixtures we support (ggml block types only). */
function mixtureType(scheme: Scheme, name: string, cols: number, ctx: SelectionContext): DType {
  const role = roleOf(name);
  if (role === 'output' || (ctx.tied && role === 'token_embd')) return outputType(scheme.base, cols);
  if (scheme.mix === 'iq4') return iq4Type(scheme.base, role, layerOf(name), ctx);
  if (role === 'attn_v') return attnVType(scheme.base, scheme.mix, layerOf(name), ctx);
  if (role === 'ffn_down') return ffnDownType(scheme.base, scheme.mix, layerOf(name), ctx);
  if (role === 'attn_output') return (scheme.mix && ATTN_OUTPUT[scheme.mix]) ?? scheme.base;
  return scheme.base;
}

const FALLBACK: Partial<Record<DType, DType>> = { Q2_K: 'Q4_0', Q3_K: 'Q4_0', Q4_K: 'Q5_0', Q5_K: 'Q5_1', Q6_K: 'Q8_0', IQ4_XS: 'IQ4_NL' };

/** llama.cpp's tensor_type_fallback: a type whose block divides the row length, else F16. */
function fallbackType(t: DType, cols: number): DType {
  if (cols % blockOf(t) === 0) return t;
  const next = FALLBACK[t] ?? t;
  return cols % blockOf(next) === 0 ? next : 'F16';
}

const GGML_QUANTIZED: readonly DType[] = ['Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'IQ4_NL', 'IQ4_XS'];

/** The dtype `t` gets under `scheme`. */
export function targetType(t: TensorInfo, scheme: Scheme, ctx: SelectionContext): DType {
  if (!allowsQuantization(t.name, t.shape)) return t.shape.length <= 1 ? 'F32' : t.dtype;
  const cols = t.shape[t.shape.length - 1] ?? 1;
  if (!GGML_QUANTIZED.includes(scheme.base)) return fallbackType(scheme.base, cols);
  const chosen = ctx.pure ? scheme.base : mixtureType(scheme, t.name, cols, ctx);
  return fallbackType(chosen, cols);
}

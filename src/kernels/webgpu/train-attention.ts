import { type Bindable, type CommandRecorder, recorders } from './encoder.js';
import { trainKernelsContract } from './train-ops.js';
import { TRAIN_ATTN_MAX_HEAD_DIM, TRAIN_ATTN_WGSL } from './wgsl-train-attention.js';

/**
 * Attention of a training step over a packed micro-batch: n rows holding several examples back to back, each
 * row attending causally within its own example (seg[t] = the first row of row t's example, segEnd[t] = one
 * past its last; examples are contiguous, so both never decrease along the rows). These functions only
 * record dispatches on a CommandRecorder; the caller owns the buffers, uploads and readbacks. CPU reference:
 * src/train/autograd/attention.ts run on each example alone.
 *
 * Forward: one workgroup per (block of 32 query rows, head), online softmax over tiles of the block's keys.
 * Backward (recomputation, flash-attention style): D = rowsum(dOut ⊙ out), then dq per query row and dk, dv
 * per key row, each written by one thread (deterministic). dk and dv are two kernels because one would bind
 * nine storage buffers and the device grants eight (src/kernels/webgpu/limits.ts).
 */

export interface PackedAttentionShape {
  n: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** score scale, usually 1/√headDim */
  scale: number;
}

const { f32Bits } = recorders;

function check(s: PackedAttentionShape): void {
  const { n, heads, kvHeads, headDim, scale } = s;
  const fail = (what: string): never => {
    throw new RangeError(`packed attention: ${what}`);
  };
  if (![n, heads, kvHeads, headDim].every((x) => Number.isInteger(x) && x >= 0)) fail('n, heads, kvHeads and headDim must be integers ≥ 0');
  if (heads < 1 || kvHeads < 1 || heads % kvHeads !== 0) fail(`kvHeads (${kvHeads}) must divide heads (${heads})`);
  if (headDim < 2 || headDim % 2 !== 0 || headDim > TRAIN_ATTN_MAX_HEAD_DIM) fail(`headDim ${headDim} must be even, 2..${TRAIN_ATTN_MAX_HEAD_DIM}`);
  if (!Number.isFinite(scale)) fail('scale must be finite');
}

/** P0 n, P1 heads, P2 kvHeads, P3 scale bits. */
function params(s: PackedAttentionShape): number[] {
  return [s.n, s.heads, s.kvHeads, f32Bits(s.scale)];
}

/** Workgroups of own rows along n (the kernels' tiling for head dimension d). */
const blocks = (s: PackedAttentionShape): number => Math.ceil(s.n / TRAIN_ATTN_WGSL.tiling(s.headDim).br);

/**
 * out[t, h, :] = Σ_{j=seg[t]}^{t} softmax_j(scale · q[t,h,:]·k[j,g,:]) · v[j,g,:] with g = ⌊h / (heads/kvHeads)⌋;
 * lse[t·heads + h] = logsumexp_j(scale · q·k) (kept for the backward). q [n, heads, d], k and v [n, kvHeads, d],
 * seg: u32 [n], the first row of row t's example.
 */
export function recordPackedAttention(rec: CommandRecorder, q: Bindable, k: Bindable, v: Bindable, seg: Bindable, s: PackedAttentionShape, out: Bindable, lse: Bindable): void {
  trainKernelsContract.run({ kernel: 'recordPackedAttention', sizes: [s.n, s.heads, s.kvHeads, s.headDim] }, () => {
    check(s);
    if (s.n === 0) return undefined;
    const d = s.headDim;
    rec.dispatch(`train:packed-attn-fwd:d${d}`, () => TRAIN_ATTN_WGSL.forward(d), params(s), [q, k, v, seg, out, lse], recorders.fold(blocks(s) * s.heads));
  });
}

/**
 * Gradients of the above given dOut [n, heads, d]: dq [n, heads, d], dk and dv [n, kvHeads, d] (written, not accumulated).
 * segEnd: u32 [n], one past the last row of row t's example. `scratch` is ≥ n·heads floats (D_t,h = Σ dOut·out).
 */
export function recordPackedAttentionBack(rec: CommandRecorder, q: Bindable, k: Bindable, v: Bindable, out: Bindable, lse: Bindable, dOut: Bindable, seg: Bindable, segEnd: Bindable, s: PackedAttentionShape, scratch: Bindable, dq: Bindable, dk: Bindable, dv: Bindable): void {
  trainKernelsContract.run({ kernel: 'recordPackedAttentionBack', sizes: [s.n, s.heads, s.kvHeads, s.headDim] }, () => {
    check(s);
    if (s.n === 0) return undefined;
    const d = s.headDim;
    const p = params(s);
    rec.dispatch('train:packed-attn-rowsum', () => TRAIN_ATTN_WGSL.rowsum, [s.n * s.heads, d], [dOut, out, scratch], recorders.fold(Math.ceil((s.n * s.heads) / 256)));
    rec.dispatch(`train:packed-attn-dq:d${d}`, () => TRAIN_ATTN_WGSL.dq(d), p, [q, k, v, lse, dOut, scratch, seg, dq], recorders.fold(blocks(s) * s.heads));
    rec.dispatch(`train:packed-attn-dk:d${d}`, () => TRAIN_ATTN_WGSL.dk(d), p, [q, k, v, lse, dOut, scratch, segEnd, dk], recorders.fold(blocks(s) * s.kvHeads));
    rec.dispatch(`train:packed-attn-dv:d${d}`, () => TRAIN_ATTN_WGSL.dv(d), p, [q, k, lse, dOut, segEnd, dv], recorders.fold(blocks(s) * s.kvHeads));
  });
}

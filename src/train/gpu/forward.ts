import type { GpuBuf, GpuWeight, WebGpuBackend } from '../../kernels/webgpu/backend.js';
import { bufferIds } from '../../kernels/webgpu/encoder.js';
import { recordPackedAttention } from '../../kernels/webgpu/train-attention.js';
import { recordAxpy, recordCrossEntropy, recordRopeRows } from '../../kernels/webgpu/train-ops.js';
import type { ArchConfig } from '../../tensor/bundle.js';
import type { LinearModule } from '../model/params.js';
import type { StepBuffers } from './activations.js';
import type { GpuBase } from './base-weights.js';
import type { LoraSet } from './lora-params.js';

/**
 * The training forward pass of one packed micro-batch on the device, the computation of
 * src/train/model/decoder.ts (transformers' Llama / Qwen2) with every row at its own position inside its
 * own example. Keeps what the backward pass reads in `StepBuffers.layers`.
 */

/** The per-row arrays of a packed micro-batch on the device (see pack.ts). */
export interface RowBuffers {
  readonly pos: GpuBuf;
  readonly seg: GpuBuf;
  readonly segEnd: GpuBuf;
  readonly targets: GpuBuf;
  readonly rowWeight: GpuBuf;
  /** Per-row losses of the whole group; this micro-batch's start at `lossOffset`. */
  readonly rowLoss: GpuBuf;
  readonly lossOffset: number;
}

export interface StepContext {
  readonly be: WebGpuBackend;
  readonly c: ArchConfig;
  readonly base: GpuBase;
  readonly lora: LoraSet;
  readonly s: StepBuffers;
  readonly rows: RowBuffers;
  readonly n: number;
}

/** y = x·Wᵀ (+ bias) (+ scale·(x·Aᵀ)·Bᵀ, keeping u = x·Aᵀ) for the module `m` of layer `l`. */
function linear(ctx: StepContext, l: number, m: LinearModule, x: GpuBuf, y: GpuBuf): void {
  const { be, base, n } = ctx;
  const layer = base.layers[l];
  if (!layer) throw new Error(`webgpu training: no layer ${l}`);
  be.matmul(layer.proj[m], x, n, y);
  const bias = layer.bias[m];
  if (bias) be.addBias(y, bias, n, layer.proj[m].rows);
  const slot = ctx.lora.slot(l, m);
  if (!slot) return;
  const u = ctx.s.layers[l]?.loraU.get(m);
  if (!u) throw new Error(`webgpu training: no LoRA buffer for layer ${l} ${m}`);
  be.matmul(slot.a, x, n, u);
  be.matmul(slot.b, u, n, ctx.s.loraOut);
  recordAxpy(be.recorder, ctx.s.loraOut, slot.scale, y, n * slot.b.rows);
}

function rope(ctx: StepContext, x: GpuBuf, heads: number, inverse: boolean): void {
  const { be, c } = ctx;
  const table = be.ropeTable(c.head_dim, c.rope_theta, ctx.s.rows);
  recordRopeRows(be.recorder, x, table, ctx.rows.pos, ctx.n, heads, c.head_dim, inverse);
}

/** Layer l of the forward pass from its input s.layers[l].x into `out` (the backward pass reruns it under checkpointing). */
export function recordBlock(ctx: StepContext, l: number, out: GpuBuf): void {
  const { be, c, n } = ctx;
  const a = ctx.s.layers[l];
  const layer = ctx.base.layers[l];
  if (!a || !layer) throw new Error(`webgpu training: no layer ${l}`);
  const H = c.hidden_size;
  be.rmsnorm(a.x, layer.inNorm, c.rms_norm_eps, n, H, a.h1);
  linear(ctx, l, 'q_proj', a.h1, a.q);
  linear(ctx, l, 'k_proj', a.h1, a.k);
  linear(ctx, l, 'v_proj', a.h1, a.v);
  rope(ctx, a.q, c.num_heads, false);
  rope(ctx, a.k, c.num_kv_heads, false);
  const shape = { n, heads: c.num_heads, kvHeads: c.num_kv_heads, headDim: c.head_dim, scale: 1 / Math.sqrt(c.head_dim) };
  recordPackedAttention(be.recorder, a.q, a.k, a.v, ctx.rows.seg, shape, a.att, a.lse);
  linear(ctx, l, 'o_proj', a.att, ctx.s.dTmp);
  be.add(a.x, ctx.s.dTmp, n * H, a.x1);
  be.rmsnorm(a.x1, layer.postNorm, c.rms_norm_eps, n, H, a.h2);
  linear(ctx, l, 'gate_proj', a.h2, a.gate);
  linear(ctx, l, 'up_proj', a.h2, a.up);
  be.swiglu(a.gate, a.up, n * c.intermediate_size, a.act);
  linear(ctx, l, 'down_proj', a.act, ctx.s.dTmp);
  be.add(a.x1, ctx.s.dTmp, n * H, out);
}

/** Embedding, every layer and the final norm: leaves hf [n, hidden] normed for the head. */
export function recordForward(ctx: StepContext, ids: ArrayLike<number>): void {
  const { be, c, s } = ctx;
  const first = s.layers[0];
  be.embed(ctx.base.embed, ids, first ? first.x : s.xOut);
  for (let l = 0; l < c.num_layers; l++) recordBlock(ctx, l, s.layers[l + 1]?.x ?? s.xOut);
  be.rmsnorm(s.xOut, ctx.base.norm, c.rms_norm_eps, ctx.n, c.hidden_size, s.hf);
}

const views = new Map<string, GpuBuf>();

/**
 * A view of rows [r0, r0 + count) of a row-major [·, width] buffer (r0·width·4 must be 256-byte aligned);
 * the same range gets the same view (and id), so the recorder's bind groups are reused across steps.
 */
export function rowView(b: GpuBuf, r0: number, count: number, width: number): GpuBuf {
  if (r0 === 0 && count * width === b.length) return b;
  const key = `${b.id}:${r0}:${count}:${width}`;
  let v = views.get(key);
  if (!v) {
    v = { buffer: b.buffer, length: count * width, id: bufferIds.next(), view: { offset: (b.view?.offset ?? 0) + r0 * width * 4, size: count * width * 4 } };
    if (views.size > 4096) views.clear();
    views.set(key, v);
  }
  return v;
}

/**
 * The head and the loss, chunk by chunk: logits of `chunkRows` rows, their cross-entropy (per-row loss into
 * rowLoss, the weighted gradient in place), and — when `back` is given — dhf of those rows = dlogits · W_head.
 */
export function recordHeadLoss(ctx: StepContext, back?: (head: GpuWeight, dLogits: GpuBuf, r0: number, count: number) => void): void {
  const { be, c, s, n, rows } = ctx;
  const V = c.vocab_size;
  const H = c.hidden_size;
  for (let r0 = 0; r0 < n; r0 += s.chunkRows) {
    const count = Math.min(s.chunkRows, n - r0);
    be.matmul(ctx.base.lmHead, rowView(s.hf, r0, count, H), count, s.logits);
    recordCrossEntropy(be.recorder, s.logits, rowView(rows.targets, r0, count, 1), rowView(rows.rowWeight, r0, count, 1), count, V, rows.rowLoss, rows.lossOffset + r0);
    back?.(ctx.base.lmHead, s.logits, r0, count);
  }
}

import type { GpuBuf } from '../../kernels/webgpu/backend.js';
import { recordPackedAttentionBack } from '../../kernels/webgpu/train-attention.js';
import { recordAxpy, recordBackInput, recordBackWeight, recordRmsnormBackInput, recordRopeRows, recordSwigluBack } from '../../kernels/webgpu/train-ops.js';
import type { LinearModule } from '../model/params.js';
import { recordBlock, recordHeadLoss, rowView, type StepContext } from './forward.js';

/**
 * The backward pass of one packed micro-batch, the reverse of forward.ts: the gradient of the weighted
 * loss flows from the head through every layer to the embedding (which is frozen, so it stops there); the
 * LoRA factors' gradients are added into the gradient buffer (so micro-batches of a group accumulate), the
 * frozen base gets none. Same products as src/train/autograd/linear.ts: dB += s·dyᵀ·u, du = dy·B,
 * dA += s·duᵀ·x, dx += dy·W + s·du·A.
 */

/** dx (+)= dy·W, and the LoRA gradients of module m of layer l, whose forward input was x. */
function linearBack(ctx: StepContext, l: number, m: LinearModule, x: GpuBuf, dy: GpuBuf, dx: GpuBuf, accumulate: boolean): void {
  const { be, n, s } = ctx;
  const rec = be.recorder;
  const w = ctx.base.layers[l]?.proj[m];
  if (!w) throw new Error(`webgpu training: no layer ${l}`);
  const slot = ctx.lora.slot(l, m);
  if (slot) {
    const u = s.layers[l]?.loraU.get(m);
    if (!u) throw new Error(`webgpu training: no LoRA buffer for layer ${l} ${m}`);
    recordBackWeight(rec, dy, u, n, w.rows, slot.r, slot.scale, slot.bGrad);
    recordBackInput(rec, slot.b, dy, n, s.loraDu, false);
    recordBackWeight(rec, s.loraDu, x, n, slot.r, w.cols, slot.scale, slot.aGrad);
    recordBackInput(rec, slot.a, s.loraDu, n, s.loraDx, false);
  }
  recordBackInput(rec, w, dy, n, dx, accumulate);
  if (slot) recordAxpy(rec, s.loraDx, slot.scale, dx, n * w.cols);
}

/** dTmp = RMSNorm's input gradient for input x, weight w and output gradient dy; then dX += dTmp. */
function rmsnormBackInto(ctx: StepContext, x: GpuBuf, w: GpuBuf, dy: GpuBuf, dX: GpuBuf, accumulate: boolean): void {
  const { be, c, n, s } = ctx;
  const H = c.hidden_size;
  const target = accumulate ? s.dTmp : dX;
  recordRmsnormBackInput(be.recorder, x, w, dy, n, H, c.rms_norm_eps, target, s.rs);
  if (accumulate) recordAxpy(be.recorder, s.dTmp, 1, dX, n * H);
}

function rope(ctx: StepContext, x: GpuBuf, heads: number): void {
  const { be, c } = ctx;
  recordRopeRows(be.recorder, x, be.ropeTable(c.head_dim, c.rope_theta, ctx.s.rows), ctx.rows.pos, ctx.n, heads, c.head_dim, true);
}

function blockBack(ctx: StepContext, l: number): void {
  const { be, c, n, s } = ctx;
  const a = s.layers[l];
  const layer = ctx.base.layers[l];
  if (!a || !layer) throw new Error(`webgpu training: no layer ${l}`);
  linearBack(ctx, l, 'down_proj', a.act, s.dX, s.dAct, false);
  recordSwigluBack(be.recorder, a.gate, a.up, s.dAct, n * c.intermediate_size, s.dGate, s.dUp);
  linearBack(ctx, l, 'gate_proj', a.h2, s.dGate, s.dH, false);
  linearBack(ctx, l, 'up_proj', a.h2, s.dUp, s.dH, true);
  rmsnormBackInto(ctx, a.x1, layer.postNorm, s.dH, s.dX, true);
  linearBack(ctx, l, 'o_proj', a.att, s.dX, s.dAtt, false);
  const shape = { n, heads: c.num_heads, kvHeads: c.num_kv_heads, headDim: c.head_dim, scale: 1 / Math.sqrt(c.head_dim) };
  recordPackedAttentionBack(be.recorder, a.q, a.k, a.v, a.att, a.lse, s.dAtt, ctx.rows.seg, ctx.rows.segEnd, shape, s.attScratch, s.dQ, s.dK, s.dV);
  rope(ctx, s.dQ, c.num_heads);
  rope(ctx, s.dK, c.num_kv_heads);
  linearBack(ctx, l, 'q_proj', a.h1, s.dQ, s.dH, false);
  linearBack(ctx, l, 'k_proj', a.h1, s.dK, s.dH, true);
  linearBack(ctx, l, 'v_proj', a.h1, s.dV, s.dH, true);
  rmsnormBackInto(ctx, a.x, layer.inNorm, s.dH, s.dX, true);
}

/** The loss of the micro-batch (per-row into rowLoss) and the backward pass through every layer. */
export function recordLossAndBackward(ctx: StepContext): void {
  const { be, c, s } = ctx;
  const H = c.hidden_size;
  recordHeadLoss(ctx, (head, dLogits, r0, count) => recordBackInput(be.recorder, head, dLogits, count, rowView(s.dH, r0, count, H), false));
  rmsnormBackInto(ctx, s.xOut, ctx.base.norm, s.dH, s.dX, false);
  for (let l = c.num_layers - 1; l >= 0; l--) {
    // checkpointing: refill the shared activations with layer l's (its output goes to hf, free once the head's backward is recorded)
    if (s.checkpoint) recordBlock(ctx, l, s.hf);
    blockBack(ctx, l);
  }
}

import type { GpuBuf, WebGpuBackend } from '../../kernels/webgpu/backend.js';
import type { GpuCounters } from '../../kernels/webgpu/encoder.js';
import { recordAdamW, recordSumSquares } from '../../kernels/webgpu/train-ops.js';
import type { ModelBundle } from '../../tensor/bundle.js';
import type { AdapterModule } from '../model/lora.js';
import { allocStepBuffers, releaseStepBuffers, type StepBuffers } from './activations.js';
import { recordLossAndBackward } from './backward.js';
import { type BaseForm, type GpuBase, uploadBase } from './base-weights.js';
import { recordForward, recordHeadLoss, type RowBuffers, type StepContext } from './forward.js';
import { type LoraSet, uploadLora } from './lora-params.js';
import type { PackedRows } from './pack.js';

/**
 * A LoRA / QLoRA run on a WebGPU device: the frozen base, the adapter factors, their gradients and AdamW
 * moments and every activation live on the device; a group (one optimizer step) is recorded as forward,
 * loss and backward per packed micro-batch, then the gradient norm, clipping and AdamW, and only the
 * per-row losses come back.
 */

export interface GpuTrainerInit {
  readonly be: WebGpuBackend;
  readonly bundle: ModelBundle;
  readonly form: BaseForm;
  /** The adapter modules with their initial values (src/train/model/lora.ts initLoraModules). */
  readonly modules: readonly AdapterModule[];
  readonly rank: number;
  readonly scale: number;
  /** Most rows of one packed micro-batch. */
  readonly maxRows: number;
  /** Largest logits chunk in bytes (default 256 MiB or the device's binding limit). */
  readonly maxChunkBytes?: number;
  readonly onLayer?: (done: number, total: number) => void;
  /** Per-layer gradient checkpointing (activations.ts): one layer's activations instead of all, one more forward pass. */
  readonly checkpoint?: boolean;
}

export interface GroupUpdate {
  readonly lr: number;
  readonly weightDecay: number;
  readonly maxGradNorm: number;
  /** AdamW's step number after this update (1-based, for the bias corrections). */
  readonly step: number;
}

const ROW_ARRAYS = ['pos', 'seg', 'segEnd', 'targets', 'rowWeight'] as const;

export class GpuLoraTrainer {
  readonly base: GpuBase;
  readonly lora: LoraSet;
  private readonly s: StepBuffers;
  private readonly rowBufs: Record<(typeof ROW_ARRAYS)[number], GpuBuf>;
  private rowLoss: GpuBuf;
  /** The micro-batch forwardLoss ran, whose backward pass is still to come. */
  private pending: StepContext | undefined;

  constructor(private readonly init: GpuTrainerInit) {
    const { be, bundle } = init;
    this.base = uploadBase(be, bundle, init.form, init.onLayer);
    this.lora = uploadLora(be, init.modules, init.scale);
    const modules = [...new Set(init.modules.map((m) => m.module.split('.').at(-1) ?? ''))];
    this.s = allocStepBuffers(be, bundle.config, init.maxRows, { rank: init.rank, modules }, init.maxChunkBytes ?? 256 * 2 ** 20, init.checkpoint ?? false);
    this.rowBufs = { pos: be.alloc(init.maxRows), seg: be.alloc(init.maxRows), segEnd: be.alloc(init.maxRows), targets: be.alloc(init.maxRows), rowWeight: be.alloc(init.maxRows) };
    this.rowLoss = be.alloc(init.maxRows);
  }

  /** Device bytes held: base, the four adapter buffers and the step's activations. */
  get deviceBytes(): number {
    return this.base.bytes + 16 * this.lora.length + 4 * this.s.floats + 24 * this.init.maxRows;
  }

  counters(): GpuCounters {
    return this.init.be.counters();
  }

  private context(p: PackedRows, lossOffset: number): StepContext {
    const { be } = this.init;
    if (p.n > this.init.maxRows) throw new RangeError(`webgpu training: a micro-batch of ${p.n} rows exceeds the ${this.init.maxRows} allocated`);
    be.recorder.flush();
    const q = be.recorder.device.queue;
    for (const k of ROW_ARRAYS) q.writeBuffer(this.rowBufs[k].buffer, 0, p[k]);
    const rows: RowBuffers = { ...this.rowBufs, rowLoss: this.rowLoss, lossOffset };
    return { be, c: this.init.bundle.config, base: this.base, lora: this.lora, s: this.s, rows, n: p.n };
  }

  private lossRows(total: number): void {
    if (this.rowLoss.length >= total) return;
    this.init.be.release(this.rowLoss);
    this.rowLoss = this.init.be.alloc(total);
  }

  /** One optimizer step over the packed micro-batches of a group; returns every row's loss (the micro-batches in order). */
  async trainGroup(micro: readonly PackedRows[], u: GroupUpdate): Promise<Float32Array> {
    const total = micro.reduce((a, p) => a + p.n, 0);
    this.lossRows(total);
    let offset = 0;
    for (const p of micro) {
      const ctx = this.context(p, offset);
      recordForward(ctx, p.ids);
      recordLossAndBackward(ctx);
      offset += p.n;
    }
    this.recordUpdate(u);
    return this.read(this.rowLoss, total);
  }

  /**
   * The first half of a step whose loss weights depend on the forward pass (DPO, ORPO: a sequence's weight
   * comes from its summed log-probability): the forward pass of `p`, kept on the device, and its per-row
   * losses −log p(y_t). `backwardWith` then runs the loss and the backward pass of the same rows.
   */
  async forwardLoss(p: PackedRows): Promise<Float32Array> {
    this.lossRows(p.n);
    const ctx = this.context(p, 0);
    recordForward(ctx, p.ids);
    recordHeadLoss(ctx);
    this.pending = ctx;
    return this.read(this.rowLoss, p.n);
  }

  /** The backward pass of the rows `forwardLoss` ran, with per-row loss weights (gradients add up until `update`). */
  backwardWith(rowWeight: Float32Array): void {
    const ctx = this.pending;
    if (!ctx || rowWeight.length !== ctx.n) throw new Error(`webgpu training: backwardWith needs ${ctx?.n ?? 0} row weights after a forwardLoss`);
    this.pending = undefined;
    this.init.be.recorder.flush();
    this.init.be.recorder.device.queue.writeBuffer(this.rowBufs.rowWeight.buffer, 0, rowWeight);
    recordLossAndBackward(ctx);
  }

  /** Clipping and AdamW over the gradients added since the last update (which it clears). */
  update(u: GroupUpdate): void {
    this.recordUpdate(u);
    this.init.be.flush();
  }

  private recordUpdate(u: GroupUpdate): void {
    const rec = this.init.be.recorder;
    recordSumSquares(rec, this.lora.grads, this.lora.length, this.s.partials, this.s.sumsq, 0);
    recordAdamW(rec, this.lora.params, this.lora.grads, this.lora.m, this.lora.v, this.lora.length, this.s.sumsq, {
      lr: u.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, decay: u.lr * u.weightDecay, step: u.step, gradScale: 1, maxNorm: u.maxGradNorm,
    });
  }

  /** The per-row losses of one packed micro-batch, forward only. */
  async evaluate(p: PackedRows): Promise<Float32Array> {
    this.lossRows(p.n);
    const ctx = this.context(p, 0);
    recordForward(ctx, p.ids);
    recordHeadLoss(ctx);
    return this.read(this.rowLoss, p.n);
  }

  private async read(buf: GpuBuf, length: number): Promise<Float32Array> {
    const out = await this.init.be.readAsync(buf, 0, length);
    if (this.init.be.firstError !== undefined) throw new Error(`webgpu training: device error: ${this.init.be.firstError}`);
    return out;
  }

  /** The flat parameter, first- and second-moment images (pack.ts / lora-params.ts layout). */
  async readState(): Promise<{ params: Float32Array; m: Float32Array; v: Float32Array }> {
    const n = this.lora.length;
    return { params: await this.read(this.lora.params, n), m: await this.read(this.lora.m, n), v: await this.read(this.lora.v, n) };
  }

  /** Frees every device buffer the trainer holds (it is unusable after). */
  dispose(): void {
    const { be } = this.init;
    releaseStepBuffers(be, this.s);
    for (const b of [...Object.values(this.rowBufs), this.rowLoss, this.lora.params, this.lora.grads, this.lora.m, this.lora.v]) be.release(b);
    const weights = new Set([this.base.embed, this.base.lmHead, ...this.base.layers.flatMap((l) => Object.values(l.proj))]);
    for (const w of weights) be.releaseWeight(w);
    for (const b of [this.base.norm, ...this.base.layers.flatMap((l) => [l.inNorm, l.postNorm, ...Object.values(l.bias)])]) be.release(b);
    be.flush();
  }

  /** Replaces the parameters and moments (a resumed checkpoint). */
  writeState(s: { params: Float32Array; m: Float32Array; v: Float32Array }): void {
    const { be } = this.init;
    be.recorder.flush();
    const q = be.recorder.device.queue;
    q.writeBuffer(this.lora.params.buffer, 0, s.params);
    q.writeBuffer(this.lora.m.buffer, 0, s.m);
    q.writeBuffer(this.lora.v.buffer, 0, s.v);
  }
}

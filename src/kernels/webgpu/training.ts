import { defineContract } from '../../contract/index.js';
import type { GpuHandle } from './device.js';
import { type Bindable, bufferIds, type CommandRecorder, GPU_USAGE, recorders } from './encoder.js';
import { RMSNORM_BACK_W, RMSNORM_BACK_X, SOFTMAX_CE_BACK, STRIDED_MATMUL } from './wgsl-backward.js';

/**
 * The backward kernels training needs, in WGSL (issue #12): the two products of a linear layer's backward
 * pass, RMSNorm's backward and softmax-cross-entropy's loss and gradient. Each call uploads its operands,
 * dispatches, and reads the result back (host Float32Arrays in and out); the CPU reference is
 * src/train/autograd (backInput, backWeight, rmsnorm) and src/train/losses/cross-entropy.ts.
 */

/** Target id of an ignored position (as src/train/losses/cross-entropy.ts). */
const IGNORE = -100;

export interface RmsnormBackwardResult {
  readonly dX: Float32Array;
  readonly dWeight: Float32Array;
}

export interface SoftmaxCrossEntropyResult {
  /** Mean of logsumexp(z_p) − z_p[y_p] over the non-ignored positions (0 when there is none). */
  readonly loss: number;
  readonly dLogits: Float32Array;
}

export interface WebGpuTrainingKernels {
  /** dX [n, cols] = dY [n, rows] · W [rows, cols]. */
  matmulBackwardInput(dY: Float32Array, W: Float32Array, n: number, rows: number, cols: number): Promise<Float32Array>;
  /** dW [rows, cols] = dYᵀ · X with dY [n, rows], X [n, cols]. */
  matmulBackwardWeight(dY: Float32Array, X: Float32Array, n: number, rows: number, cols: number): Promise<Float32Array>;
  /** Gradients of y = weight ⊙ x / √(mean x² + eps) over rows of x [n, dim], given dY [n, dim]. */
  rmsnormBackward(x: Float32Array, weight: Float32Array, dY: Float32Array, n: number, dim: number, eps: number): Promise<RmsnormBackwardResult>;
  /** Mean cross-entropy of logits [n, V] against targets (−100 = ignored) and its gradient. */
  softmaxCrossEntropyBackward(logits: Float32Array, targets: Int32Array, vocab: number): Promise<SoftmaxCrossEntropyResult>;
}

export interface TrainingKernelsInput {
  readonly gpu: GpuHandle;
}

const KERNEL_NAMES = ['matmulBackwardInput', 'matmulBackwardWeight', 'rmsnormBackward', 'softmaxCrossEntropyBackward'] as const;

export const trainingKernelsContract = defineContract<TrainingKernelsInput, WebGpuTrainingKernels>({
  id: 'webgpu-training-v1',
  equation: 'training_backward',
  spec: 'dX = dY·W; dW = dYᵀ·X; RMSNorm: dx = r·w⊙dy − r³/dim·x·Σ w·dy·x, dw = Σ_t r_t·dy_t⊙x_t; CE: d = (softmax(z) − e_y)/|M| on kept rows, L = mean_{p∈M}(lse(z_p) − z_p[y_p])',
  pre: [['a WebGPU device', (i) => typeof i.gpu.device.createBuffer === 'function']],
  post: [['every kernel is a function', (_i, k) => KERNEL_NAMES.every((name) => typeof k[name] === 'function')]],
});

interface Buf extends Bindable {
  readonly bytes: number;
}

const { f32Bits } = recorders;

function need(ok: boolean, message: string): void {
  if (!ok) throw new RangeError(`webgpu training: ${message}`);
}

function dims(...values: number[]): boolean {
  return values.every((v) => Number.isInteger(v) && v >= 0);
}

/** Upload, scratch and readback on one recorder; buffers are released once their readback has been submitted. */
function deviceIo(gpu: GpuHandle, rec: CommandRecorder): {
  upload: (data: Float32Array | Int32Array) => Buf;
  alloc: (floats: number) => Buf;
  readAll: (bufs: readonly Buf[], release: readonly Buf[]) => Promise<Float32Array[]>;
} {
  const usage = GPU_USAGE.STORAGE | GPU_USAGE.COPY_SRC | GPU_USAGE.COPY_DST;
  const make = (bytes: number, data?: Uint8Array): Buf => {
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    need(size <= gpu.limits.maxStorageBufferBindingSize, `a ${size}-byte buffer exceeds maxStorageBufferBindingSize ${gpu.limits.maxStorageBufferBindingSize}`);
    const buffer = gpu.device.createBuffer({ size, usage, mappedAtCreation: data !== undefined });
    if (data) {
      new Uint8Array(buffer.getMappedRange()).set(data);
      buffer.unmap();
    }
    return { buffer, bytes, id: bufferIds.next() };
  };
  const readAll = async (bufs: readonly Buf[], release: readonly Buf[]): Promise<Float32Array[]> => {
    const stagings = bufs.map((b) => {
      const staging = gpu.device.createBuffer({ size: Math.max(4, b.bytes), usage: GPU_USAGE.MAP_READ | GPU_USAGE.COPY_DST });
      if (b.bytes > 0) rec.commands().copyBufferToBuffer(b.buffer, 0, staging, 0, b.bytes);
      return staging;
    });
    for (const b of release) {
      rec.forget(b.id);
      rec.destroyLater(b.buffer);
    }
    rec.flush();
    const out = await Promise.all(stagings.map(async (s, i) => {
      await s.mapAsync(1);
      const data = new Float32Array(s.getMappedRange().slice(0, bufs[i]?.bytes ?? 0));
      s.unmap();
      s.destroy();
      return data;
    }));
    if (rec.firstError !== undefined) throw new Error(`webgpu training: device error: ${rec.firstError}`);
    return out;
  };
  return {
    upload: (data) => make(data.byteLength, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)),
    alloc: (floats) => make(floats * 4),
    readAll,
  };
}

/** out[I, J] = A·B with A(i, k) = a[i·sai + k·sak], B(k, j) = b[k·sbk + j·sbj] (16×16 output tiles). */
function stridedProduct(rec: CommandRecorder, io: ReturnType<typeof deviceIo>, shape: { I: number; J: number; K: number; sai: number; sak: number; sbk: number; sbj: number }, a: Float32Array, b: Float32Array): Promise<Float32Array> {
  const { I, J, K } = shape;
  const ab = io.upload(a);
  const bb = io.upload(b);
  const out = io.alloc(I * J);
  if (I > 0 && J > 0) {
    const grid: [number, number] = [Math.ceil(J / 16), Math.ceil(I / 16)];
    need(grid[0] <= 65535 && grid[1] <= 65535, `product of ${I}×${J} outputs needs more than 65,535 workgroups along an axis`);
    rec.dispatch('train:strided-matmul', () => STRIDED_MATMUL, [I, J, K, shape.sai, shape.sak, shape.sbk, shape.sbj], [ab, bb, out], grid);
  }
  return io.readAll([out], [ab, bb, out]).then(([r]) => r ?? new Float32Array(0));
}

async function rmsnormBackwardOn(rec: CommandRecorder, io: ReturnType<typeof deviceIo>, x: Float32Array, weight: Float32Array, dY: Float32Array, n: number, dim: number, eps: number): Promise<RmsnormBackwardResult> {
  need(dims(n, dim) && x.length === n * dim && dY.length === n * dim && weight.length === dim, `rmsnormBackward: x and dY must be [${n}, ${dim}] and weight [${dim}]`);
  need(Number.isFinite(eps) && eps >= 0, 'rmsnormBackward: eps must be finite and ≥ 0');
  const [xb, wb, db] = [io.upload(x), io.upload(weight), io.upload(dY)];
  const dx = io.alloc(n * dim);
  const rs = io.alloc(n);
  const dw = io.alloc(dim);
  if (n > 0 && dim > 0) {
    rec.dispatch('train:rmsnorm-back-x', () => RMSNORM_BACK_X, [n, dim, f32Bits(eps)], [xb, wb, db, dx, rs], recorders.fold(n));
    rec.dispatch('train:rmsnorm-back-w', () => RMSNORM_BACK_W, [n, dim], [xb, db, rs, dw], recorders.fold(Math.ceil(dim / 256)));
  }
  const [dX, dWeight] = await io.readAll([dx, dw], [xb, wb, db, dx, rs, dw]);
  return { dX: dX ?? new Float32Array(0), dWeight: n > 0 ? (dWeight ?? new Float32Array(0)) : new Float32Array(dim) };
}

async function softmaxCeOn(rec: CommandRecorder, io: ReturnType<typeof deviceIo>, logits: Float32Array, targets: Int32Array, vocab: number): Promise<SoftmaxCrossEntropyResult> {
  const n = targets.length;
  need(dims(vocab) && vocab > 0 && logits.length === n * vocab, `softmaxCrossEntropyBackward: logits must be [${n}, ${vocab}]`);
  need(targets.every((t) => t === IGNORE || (t >= 0 && t < vocab)), `softmaxCrossEntropyBackward: targets must be ids < ${vocab} or ${IGNORE}`);
  const count = targets.reduce((c, t) => c + (t === IGNORE ? 0 : 1), 0);
  if (count === 0) return { loss: 0, dLogits: new Float32Array(logits.length) };
  const zb = io.upload(logits);
  const tb = io.upload(targets);
  const d = io.alloc(n * vocab);
  const rowLoss = io.alloc(n);
  rec.dispatch('train:softmax-ce-back', () => SOFTMAX_CE_BACK, [n, vocab, f32Bits(1 / count)], [zb, tb, d, rowLoss], recorders.fold(n));
  const [dLogits, losses] = await io.readAll([d, rowLoss], [zb, tb, d, rowLoss]);
  let total = 0;
  for (const l of losses ?? []) total += l;
  return { loss: total / count, dLogits: dLogits ?? new Float32Array(0) };
}

function build(gpu: GpuHandle): WebGpuTrainingKernels {
  const rec = recorders.open(gpu.device);
  const io = deviceIo(gpu, rec);
  return {
    matmulBackwardInput: async (dY, W, n, rows, cols) => {
      need(dims(n, rows, cols) && dY.length === n * rows && W.length === rows * cols, `matmulBackwardInput: dY must be [${n}, ${rows}] and W [${rows}, ${cols}]`);
      return stridedProduct(rec, io, { I: n, J: cols, K: rows, sai: rows, sak: 1, sbk: cols, sbj: 1 }, dY, W);
    },
    matmulBackwardWeight: async (dY, X, n, rows, cols) => {
      need(dims(n, rows, cols) && dY.length === n * rows && X.length === n * cols, `matmulBackwardWeight: dY must be [${n}, ${rows}] and X [${n}, ${cols}]`);
      return stridedProduct(rec, io, { I: rows, J: cols, K: n, sai: 1, sak: rows, sbk: cols, sbj: 1 }, dY, X);
    },
    rmsnormBackward: (x, weight, dY, n, dim, eps) => rmsnormBackwardOn(rec, io, x, weight, dY, n, dim, eps),
    softmaxCrossEntropyBackward: (logits, targets, vocab) => softmaxCeOn(rec, io, logits, targets, vocab),
  };
}

/** The WGSL backward kernels on `gpu` (see WebGpuTrainingKernels); each call is upload → dispatch → readback. */
export function createWebGpuTrainingKernels(input: TrainingKernelsInput): WebGpuTrainingKernels {
  return trainingKernelsContract.run(input, () => build(input.gpu));
}

import { defineContract } from '../../contract/index.js';
import { DTYPES, type DType } from '../../tensor/dtype.js';
import { type Bindable, type CommandRecorder, recorders } from './encoder.js';
import { RMSNORM_BACK_X } from './wgsl-backward.js';
import { TRAIN_WDECODE, TRAIN_WGSL, type TrainTile } from './wgsl-train-ops.js';

/**
 * The kernels of a LoRA/QLoRA training step on the device (attention aside): the two products of a linear
 * layer's backward pass (the frozen weight read in its stored form, NF4 included), y += s·x, SwiGLU's
 * backward, RoPE at per-row positions (its inverse for the backward pass), softmax cross-entropy with its
 * gradient in place, a deterministic sum of squares (the global gradient norm) and AdamW with clipping. Each
 * function only records dispatches on `rec`: operands stay on the device, nothing is uploaded or read back.
 * All buffers hold f32 unless said; lengths are in elements. The CPU references are src/train/autograd
 * (linalg.ts, ops.ts), src/train/losses/cross-entropy.ts and src/train/optim (adamw.ts, clip.ts).
 * Outputs must not share a buffer with an input of the same call (WebGPU refuses writable aliasing).
 */

/** What the contract sees of one recorded kernel call: its name and its sizes (all integers ≥ 0). */
interface TrainKernelCall {
  readonly kernel: string;
  readonly sizes: readonly number[];
}

export const trainKernelsContract = defineContract<TrainKernelCall, void>({
  id: 'webgpu-train-kernels-v1',
  equation: 'train_kernels',
  spec: 'dX (+)= dY·W (W decoded in-kernel); dW += s·dYᵀ·X; y += s·x; SwiGLU backward; RoPE at per-row positions and its inverse; per-row softmax cross-entropy with (softmax − e_y)·w_t in place; Σx²; AdamW after scale and clip — each the CPU autograd value up to float32 reassociation',
  pre: [['sizes are integers ≥ 0', ({ sizes }) => sizes.every((v) => Number.isInteger(v) && v >= 0)]],
});

export type TrainWeight = Bindable & { readonly dtype: string; readonly rows: number; readonly cols: number };

/** dtypes recordBackInput reads in stored form: every WDECODE key (NF4 included) */
export const TRAIN_WEIGHT_DTYPES: readonly string[] = Object.keys(TRAIN_WDECODE);

/**
 * Product tiles, largest first: 16×16 threads, (16·tm) × (16·tn) outputs per workgroup, at most 12.1 KiB of
 * workgroup memory (the software adapter's 16 KiB and 256 threads hold every one).
 */
export const TRAIN_TILES: readonly TrainTile[] = [
  { tm: 8, tn: 4, bk: 16 },
  { tm: 4, tn: 4, bk: 16 },
  { tm: 2, tn: 2, bk: 32 },
  { tm: 1, tn: 1, bk: 64 },
];

/** Workgroups a product should have at least to fill a large GPU (two per SM of a 132-SM H100). */
const MIN_GROUPS = 264;

const bits = recorders.f32Bits;

function need(ok: boolean, message: string): void {
  if (!ok) throw new RangeError(`webgpu train-ops: ${message}`);
}

function counts(...values: number[]): boolean {
  return values.every((v) => Number.isInteger(v) && v >= 0);
}

function tiles(tile: TrainTile, I: number, J: number): [number, number] {
  return [Math.ceil(J / (16 * tile.tn)), Math.ceil(I / (16 * tile.tm))];
}

/** The largest tile that still gives MIN_GROUPS workgroups over an I × J output, else the smallest (most workgroups). */
function pickTile(I: number, J: number): TrainTile {
  const fits = TRAIN_TILES.find((t) => {
    const [gx, gy] = tiles(t, I, J);
    return gx * gy >= MIN_GROUPS;
  });
  return fits ?? (TRAIN_TILES[TRAIN_TILES.length - 1] as TrainTile);
}

function tileKey(t: TrainTile): string {
  return `${t.tm}x${t.tn}x${t.bk}`;
}

/** One tiled product over an I × J output (grid folded); `extra` is parameter word 4. */
function product(rec: CommandRecorder, key: string, source: () => string, dims: [number, number, number], extra: number, bufs: readonly Bindable[], tile: TrainTile): void {
  const [I, J, K] = dims;
  const [gx, gy] = tiles(tile, I, J);
  rec.dispatch(key, source, [I, J, K, gx, extra], bufs, recorders.fold(gx * gy));
}

/** One dispatch of a flat kernel over `count` elements (none when count is 0). */
function flat(rec: CommandRecorder, key: string, source: string, params: readonly number[], bufs: readonly Bindable[], count: number): void {
  if (count > 0) rec.dispatch(key, () => source, params, bufs, recorders.fold(Math.ceil(count / 256)));
}

/** dx[t, c] (+)= Σ_r dy[t, r] · W[r, c], t < n; W [rows, cols] decoded in-kernel (wload). accumulate=false overwrites dx. */
export function recordBackInput(rec: CommandRecorder, w: TrainWeight, dy: Bindable, n: number, dx: Bindable, accumulate: boolean): void {
  trainKernelsContract.run({ kernel: 'recordBackInput', sizes: [n, w.rows, w.cols] }, () => {
    backInputTiled(rec, w, dy, n, dx, accumulate, pickTile(n, w.cols));
  });
}

function backInputTiled(rec: CommandRecorder, w: TrainWeight, dy: Bindable, n: number, dx: Bindable, accumulate: boolean, tile: TrainTile): void {
  const { dtype, rows, cols } = w;
  need(TRAIN_WDECODE[dtype] !== undefined, `recordBackInput: weight dtype ${dtype} is not read in stored form (${TRAIN_WEIGHT_DTYPES.join(', ')})`);
  need(counts(n, rows, cols), `recordBackInput: n ${n}, rows ${rows}, cols ${cols} must be integers ≥ 0`);
  need(cols % DTYPES[dtype as DType].blockSize === 0, `recordBackInput: ${dtype} rows must be whole blocks, cols ${cols}`);
  if (n === 0 || cols === 0) return;
  const key = `train:back-input:${dtype}:${tileKey(tile)}`;
  product(rec, key, () => TRAIN_WGSL.backInput(dtype, tile), [n, cols, rows], accumulate ? 1 : 0, [w, dy, dx], tile);
}

/** dw[r, c] += scale · Σ_{t<n} dy[t, r] · x[t, c]; dy [n, rows], x [n, cols], dw [rows, cols] */
export function recordBackWeight(rec: CommandRecorder, dy: Bindable, x: Bindable, n: number, rows: number, cols: number, scale: number, dw: Bindable): void {
  trainKernelsContract.run({ kernel: 'recordBackWeight', sizes: [n, rows, cols] }, () => {
    backWeightTiled(rec, dy, x, n, rows, cols, scale, dw, pickTile(rows, cols));
  });
}

function backWeightTiled(rec: CommandRecorder, dy: Bindable, x: Bindable, n: number, rows: number, cols: number, scale: number, dw: Bindable, tile: TrainTile): void {
  need(counts(n, rows, cols), `recordBackWeight: n ${n}, rows ${rows}, cols ${cols} must be integers ≥ 0`);
  if (n === 0 || rows === 0 || cols === 0) return;
  const key = `train:back-weight:${tileKey(tile)}`;
  product(rec, key, () => TRAIN_WGSL.backWeight(tile), [rows, cols, n], bits(scale), [dy, x, dw], tile);
}

/**
 * The two products with a tile given instead of picked by shape (one of TRAIN_TILES; arguments otherwise as
 * recordBackInput and recordBackWeight), so that every tile can be tested on small shapes.
 */
export const trainTiled = { backInput: backInputTiled, backWeight: backWeightTiled } as const;

/**
 * RMSNorm's input gradient (wgsl-backward.ts RMSNORM_BACK_X, as training.ts runs it): dx [n, dim] written from
 * x, the weight w and dy; rs [n] receives each row's 1/rms.
 */
export function recordRmsnormBackInput(rec: CommandRecorder, x: Bindable, w: Bindable, dy: Bindable, n: number, dim: number, eps: number, dx: Bindable, rs: Bindable): void {
  trainKernelsContract.run({ kernel: 'recordRmsnormBackInput', sizes: [n, dim] }, () => {
    if (n > 0) rec.dispatch('train:rmsnorm-back-x', () => RMSNORM_BACK_X, [n, dim, bits(eps)], [x, w, dy, dx, rs], recorders.fold(n));
  });
}

/** y[i] += s · x[i] */
export function recordAxpy(rec: CommandRecorder, x: Bindable, s: number, y: Bindable, length: number): void {
  trainKernelsContract.run({ kernel: 'recordAxpy', sizes: [length] }, () => {
    need(counts(length), `recordAxpy: length ${length}`);
    flat(rec, 'train:axpy', TRAIN_WGSL.axpy, [length, bits(s)], [x, y], length);
  });
}

/** from out = silu(g)·u: dGate = dOut·u·σ(g)(1 + g(1−σ(g))), dUp = dOut·silu(g)  (written, not accumulated) */
export function recordSwigluBack(rec: CommandRecorder, gate: Bindable, up: Bindable, dOut: Bindable, length: number, dGate: Bindable, dUp: Bindable): void {
  trainKernelsContract.run({ kernel: 'recordSwigluBack', sizes: [length] }, () => {
    need(counts(length), `recordSwigluBack: length ${length}`);
    flat(rec, 'train:swiglu-back', TRAIN_WGSL.swigluBack, [length], [gate, up, dOut, dGate, dUp], length);
  });
}

/** x [n, heads, headDim] rotated in place (HF rotate_half) at row t's position pos[t] (pos: u32 [n]) using a rope-table.ts table (cos at p·half+i, sin at sinOffset + p·half + i); inverse=true rotates by −angle (the backward pass). */
export function recordRopeRows(rec: CommandRecorder, x: Bindable, table: { buf: Bindable; sinOffset: number }, pos: Bindable, n: number, heads: number, headDim: number, inverse: boolean): void {
  trainKernelsContract.run({ kernel: 'recordRopeRows', sizes: [n, heads, headDim] }, () => {
    need(counts(n, heads, headDim, table.sinOffset) && headDim % 2 === 0, `recordRopeRows: n ${n}, heads ${heads}, even headDim ${headDim}, sinOffset ${table.sinOffset}`);
    flat(rec, 'train:rope-rows', TRAIN_WGSL.ropeRows, [n, heads, headDim, table.sinOffset, inverse ? 1 : 0], [x, table.buf, pos], (n * heads * headDim) / 2);
  });
}

/** Per row t of logits [n, vocab] (in place): target = targets[t] (i32; −100 = ignored). Kept: rowLoss[lossOffset+t] = logsumexp(z) − z[y], row := (softmax(z) − onehot(y)) · rowWeight[t]. Ignored: rowLoss = 0, row := 0. vocab up to ~160k. */
export function recordCrossEntropy(rec: CommandRecorder, logits: Bindable, targets: Bindable, rowWeight: Bindable, n: number, vocab: number, rowLoss: Bindable, lossOffset: number): void {
  trainKernelsContract.run({ kernel: 'recordCrossEntropy', sizes: [n, vocab, lossOffset] }, () => {
    need(counts(n, vocab, lossOffset) && vocab > 0, `recordCrossEntropy: n ${n}, vocab ${vocab} > 0, lossOffset ${lossOffset}`);
    if (n > 0) rec.dispatch('train:cross-entropy', () => TRAIN_WGSL.crossEntropy, [n, vocab, lossOffset], [logits, targets, rowWeight, rowLoss], recorders.fold(n));
  });
}

/** Workgroups of the first sum-of-squares pass (each lane sums ≥ 4 values; ≤ 1024 partials). */
const SUM_SQUARES_GROUPS = 1024;

/** out[outOffset] = Σ_{i<length} x[i]² (deterministic reduction order; may use `partials` scratch of ≥ 1024 floats) */
export function recordSumSquares(rec: CommandRecorder, x: Bindable, length: number, partials: Bindable, out: Bindable, outOffset: number): void {
  trainKernelsContract.run({ kernel: 'recordSumSquares', sizes: [length, outOffset] }, () => {
    need(counts(length, outOffset), `recordSumSquares: length ${length}, outOffset ${outOffset}`);
    const groups = Math.max(1, Math.min(SUM_SQUARES_GROUPS, Math.ceil(length / 1024)));
    rec.dispatch('train:sumsq-partial', () => TRAIN_WGSL.sumSquaresPartial, [length, groups], [x, partials], recorders.fold(groups));
    rec.dispatch('train:sumsq-final', () => TRAIN_WGSL.sumSquaresFinal, [groups, outOffset], [partials, out], [1, 1]);
  });
}

export interface AdamWStepParams { lr: number; beta1: number; beta2: number; eps: number; /** lr·λ for decayed params */ decay: number; step: number; /** multiply grads by this first (1/examples) */ gradScale: number; /** 0 = no clipping */ maxNorm: number }

/**
 * One AdamW update over p/g/m/v [length] as src/train/optim/adamw.ts after clip.ts's scaleGrads and
 * clipGradNorm: g' = g·gradScale; norm = √(sumsq[0])·gradScale (sumsq[0] = Σ g² of the unscaled grads over all
 * params, from recordSumSquares); maxNorm > 0 and norm > maxNorm scale g' by maxNorm/(norm + 1e-6); then
 * the moments and p·(1 − decay) − lr/bc1 · m/(√v/√bc2 + ε), bc1 = 1 − β1^step and bc2 = 1 − β2^step taken in
 * float64 here and passed as floats. g is zeroed afterwards.
 */
export function recordAdamW(rec: CommandRecorder, p: Bindable, g: Bindable, m: Bindable, v: Bindable, length: number, sumsq: Bindable, o: AdamWStepParams): void {
  trainKernelsContract.run({ kernel: 'recordAdamW', sizes: [length, o.step] }, () => {
    need(counts(length) && Number.isInteger(o.step) && o.step >= 1, `recordAdamW: length ${length}, step ${o.step} ≥ 1`);
    const bc1 = 1 - o.beta1 ** o.step;
    const bc2 = 1 - o.beta2 ** o.step;
    const words = [o.gradScale, o.maxNorm, o.beta1, 1 - o.beta1, o.beta2, 1 - o.beta2, o.eps, o.lr / bc1, Math.sqrt(bc2), 1 - o.decay].map(bits);
    flat(rec, 'train:adamw', TRAIN_WGSL.adamw, [length, ...words], [p, g, m, v, sumsq], length);
  });
}

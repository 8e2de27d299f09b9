import { afterEach, describe, expect, test } from 'vitest';
import { rope as cpuRope } from '../../src/kernels/cpu/rope.js';
import { type Bindable, bufferIds, GPU_USAGE, recorders } from '../../src/kernels/webgpu/encoder.js';
import { ropeTables } from '../../src/kernels/webgpu/rope-table.js';
import {
  recordAdamW, recordAxpy, recordBackInput, recordBackWeight, recordCrossEntropy, recordRopeRows, recordSumSquares, recordSwigluBack, TRAIN_TILES,
  TRAIN_WEIGHT_DTYPES, trainTiled, type TrainWeight,
} from '../../src/kernels/webgpu/train-ops.js';
import { TRAIN_WGSL } from '../../src/kernels/webgpu/wgsl-train-ops.js';
import { DTYPES, type DType } from '../../src/tensor/dtype.js';
import { decode, encode } from '../../src/tensor/quant/index.js';
import { backInput, backWeight } from '../../src/train/autograd/linalg.js';
import { rope, swiglu } from '../../src/train/autograd/ops.js';
import { Tape, Var } from '../../src/train/autograd/tape.js';
import { crossEntropy, IGNORE } from '../../src/train/losses/cross-entropy.js';
import { AdamW } from '../../src/train/optim/adamw.js';
import { clipGradNorm, scaleGrads } from '../../src/train/optim/clip.js';
import type { TrainParam } from '../../src/train/types.js';
import { randomF32 } from './kernels-helpers.js';
import { gpu, noGpuReason, U32 } from './webgpu-helpers.js';

/**
 * The training-step kernels of src/kernels/webgpu/train-ops.ts, recorded on one CommandRecorder over buffers of
 * this file, against the CPU references (src/train/autograd, losses, optim) on seeded random inputs, odd sizes
 * and sizes off the tiles included. Tolerances are float32 bounds with u = 2⁻²⁴, each stated where it is used;
 * one recorder serves every test, so two kernels sharing a dispatch key would run each other's pipeline and fail.
 */

const rec = gpu ? recorders.open(gpu.device) : undefined;
const live: Bindable[] = [];

function upload(data: ArrayBufferView): Bindable {
  const device = (gpu as NonNullable<typeof gpu>).device;
  const size = Math.max(4, Math.ceil(data.byteLength / 4) * 4);
  const buffer = device.createBuffer({ size, usage: GPU_USAGE.STORAGE | GPU_USAGE.COPY_SRC | GPU_USAGE.COPY_DST, mappedAtCreation: true });
  new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  buffer.unmap();
  const b = { buffer, id: bufferIds.next() };
  live.push(b);
  return b;
}

async function read(b: Bindable, length: number): Promise<Float32Array> {
  const r = rec as NonNullable<typeof rec>;
  const staging = r.device.createBuffer({ size: Math.max(4, length * 4), usage: GPU_USAGE.MAP_READ | GPU_USAGE.COPY_DST });
  if (length > 0) r.commands().copyBufferToBuffer(b.buffer, 0, staging, 0, length * 4);
  r.flush();
  await staging.mapAsync(1);
  const out = new Float32Array(staging.getMappedRange().slice(0, length * 4));
  staging.unmap();
  staging.destroy();
  expect(r.firstError).toBeUndefined();
  return out;
}

afterEach(() => {
  for (const b of live.splice(0)) {
    rec?.forget(b.id);
    rec?.destroyLater(b.buffer);
  }
  rec?.flush();
});

/** Seeded integers in [lo, hi]. */
function ints(seed: number): (lo: number, hi: number) => number {
  let s = seed >>> 0 || 1;
  return (lo, hi) => lo + ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 8) % (hi - lo + 1);
}

/** max over i of |a_i − b_i| / bound(i) (≤ 1 passes). */
function worstRatio(a: ArrayLike<number>, b: ArrayLike<number>, bound: (i: number) => number): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)) / bound(i));
  return worst;
}

/** Σ_k |A(i, k)·B(k, j)| for the reassociation bound of one product output. */
function absDot(k: number, a: (k: number) => number, b: (k: number) => number): number {
  let s = 0;
  for (let q = 0; q < k; q++) s += Math.abs(a(q) * b(q));
  return s;
}

describe.skipIf(!rec)(`WebGPU training-step kernels (train-ops.ts) vs the CPU references${noGpuReason}`, () => {
  const r = rec as NonNullable<typeof rec>;

  test('every product tile fits 16 KiB of workgroup memory and the device', () => {
    for (const t of TRAIN_TILES) expect(TRAIN_WGSL.tileBytes(t)).toBeLessThanOrEqual(Math.min(16384, (gpu as NonNullable<typeof gpu>).limits.maxComputeWorkgroupStorageSize));
    expect(TRAIN_WEIGHT_DTYPES).toContain('NF4');
    expect(TRAIN_WEIGHT_DTYPES).toContain('Q4_K');
  });

  for (const dtype of TRAIN_WEIGHT_DTYPES) {
    test(`[ob:webgpu-train-back-input] backInput ${dtype}: dx (+)= dy·W, W read stored, every tile, within 2(rows + 2)·u·Σ|dy·W| of linalg backInput on the decoded W`, async () => {
      const block = DTYPES[dtype as DType].blockSize;
      for (const [ti, tile] of TRAIN_TILES.entries()) {
        const seed = 1000 * ti + dtype.length * 7 + 3;
        const rnd = ints(seed);
        const [n, rows] = [rnd(1, 70), rnd(1, 160)];
        const cols = block === 1 ? rnd(1, 300) : block * rnd(1, Math.max(1, Math.floor(300 / block)));
        const bytes = encode(dtype as DType, randomF32(rows * cols, seed, 2));
        const dense = decode(dtype as DType, bytes, rows * cols);
        const dy = randomF32(n * rows, seed + 1);
        const dx0 = randomF32(n * cols, seed + 2);
        const accumulate = ti % 2 === 1;
        const w: TrainWeight = { ...upload(bytes), dtype, rows, cols };
        const dxb = upload(dx0);
        trainTiled.backInput(r, w, upload(dy), n, dxb, accumulate, tile);
        const cpu = accumulate ? dx0.slice() : new Float32Array(n * cols);
        backInput(dense, rows, cols, dy, n, cpu, !accumulate);
        // Both sides sum rows products in some order (each within (rows + 1)·u·Σ|terms| of the exact sum); the
        // accumulate adds one rounding of the total, ≤ 2u·|dx0 + sum| on the two sides together.
        const ratio = worstRatio(await read(dxb, n * cols), cpu, (i) => {
          const [t, c] = [Math.floor(i / cols), i % cols];
          const s = absDot(rows, (q) => dy[t * rows + q] as number, (q) => dense[q * cols + c] as number);
          return 2 * (rows + 2) * U32 * s + (accumulate ? 2 * U32 * (Math.abs(dx0[i] as number) + s) : 0) + 1e-30;
        });
        expect(ratio, `tile ${JSON.stringify(tile)} n ${n} rows ${rows} cols ${cols}`).toBeLessThanOrEqual(1);
      }
    });
  }

  test('[ob:webgpu-train-back-input] backInput with the tile it picks itself (F32, LoRA-like thin shapes: K = 16 and cols = 16)', async () => {
    for (const [n, rows, cols] of [[37, 16, 203], [53, 211, 16]] as const) {
      const W = randomF32(rows * cols, n, 1);
      const dy = randomF32(n * rows, n + 1);
      const dxb = upload(new Float32Array(n * cols).fill(Number.NaN));
      recordBackInput(r, { ...upload(W), dtype: 'F32', rows, cols }, upload(dy), n, dxb, false);
      const cpu = new Float32Array(n * cols);
      backInput(W, rows, cols, dy, n, cpu, true);
      // As above; the NaN fill shows accumulate = false overwrites without reading dx.
      const ratio = worstRatio(await read(dxb, n * cols), cpu, (i) => 2 * (rows + 2) * U32 * absDot(rows, (q) => dy[Math.floor(i / cols) * rows + q] as number, (q) => W[q * cols + (i % cols)] as number) + 1e-30);
      expect(ratio).toBeLessThanOrEqual(1);
    }
  });

  test('backInput refuses a dtype it cannot read stored and rows that are not whole blocks; AdamW refuses step 0', () => {
    const b = upload(new Float32Array(4));
    expect(() => recordBackInput(r, { ...b, dtype: 'Q5_K', rows: 1, cols: 256 }, b, 1, b, false)).toThrow(/Q5_K is not read in stored form/);
    expect(() => recordBackInput(r, { ...b, dtype: 'NF4', rows: 1, cols: 96 }, b, 1, b, false)).toThrow(/NF4 rows must be whole blocks, cols 96/);
    expect(() => recordAdamW(r, b, b, b, b, 4, b, { lr: 1, beta1: 0.9, beta2: 0.99, eps: 1e-8, decay: 0, step: 0, gradScale: 1, maxNorm: 0 })).toThrow(RangeError);
  });

  test('[ob:webgpu-train-back-weight] backWeight: dw += scale·dyᵀ·x, every tile, within 2(n + 2)·u·|scale|·Σ|dy·x| + 2u·|dw| of linalg backWeight', async () => {
    for (const [ti, tile] of [...TRAIN_TILES.entries(), [4, undefined] as const]) {
      const rnd = ints(77 + ti);
      const [n, rows, cols] = [rnd(1, 70), rnd(1, 300), rnd(1, 300)];
      const dy = randomF32(n * rows, ti + 5);
      const x = randomF32(n * cols, ti + 6, 2);
      const dw0 = randomF32(rows * cols, ti + 7);
      const scale = ti === 0 ? 1 : (rnd(1, 1000) - 500) / 250;
      const dwb = upload(dw0);
      if (tile) trainTiled.backWeight(r, upload(dy), upload(x), n, rows, cols, scale, dwb, tile);
      else recordBackWeight(r, upload(dy), upload(x), n, rows, cols, scale, dwb);
      const sum = new Float32Array(rows * cols);
      backWeight(dy, x, n, rows, cols, sum);
      const want = Array.from(dw0, (d, i) => d + scale * (sum[i] as number));
      // The n-term sums as backInput's; scaling and the add into dw round twice more.
      const ratio = worstRatio(await read(dwb, rows * cols), want, (i) => {
        const s = Math.abs(scale) * absDot(n, (t) => dy[t * rows + Math.floor(i / cols)] as number, (t) => x[t * cols + (i % cols)] as number);
        return 2 * (n + 2) * U32 * s + 2 * U32 * (Math.abs(dw0[i] as number) + s) + 1e-30;
      });
      expect(ratio, `tile ${JSON.stringify(tile)} n ${n} rows ${rows} cols ${cols}`).toBeLessThanOrEqual(1);
    }
  });

  test('[ob:webgpu-train-back-weight] backWeight past 65,535 workgroups (the grid folds): 256×257 tiles of 16×16, every output right', async () => {
    const [n, rows, cols] = [2, 4096, 4112];
    const dy = randomF32(n * rows, 11);
    const x = randomF32(n * cols, 12);
    const dwb = upload(new Float32Array(rows * cols));
    trainTiled.backWeight(r, upload(dy), upload(x), n, rows, cols, 1, dwb, TRAIN_TILES[TRAIN_TILES.length - 1] as (typeof TRAIN_TILES)[number]);
    const got = await read(dwb, rows * cols);
    let worst = 0;
    for (let i = 0; i < rows; i++) {
      for (let j = 0; j < cols; j++) {
        const [a, b] = [(dy[i] as number) * (x[j] as number), (dy[rows + i] as number) * (x[cols + j] as number)];
        // Two products and one add (fused or not): within 2u·(|a| + |b|).
        worst = Math.max(worst, Math.abs((got[i * cols + j] as number) - (a + b)) / (2 * U32 * (Math.abs(a) + Math.abs(b)) + 1e-30));
      }
    }
    expect(worst).toBeLessThanOrEqual(1);
  });

  test('[ob:webgpu-train-elementwise] axpy: y += s·x within u·(|y + s·x| + |s·x|) of the exact value (one or two roundings), grid folded past 65,535 workgroups', async () => {
    for (const [k, length] of [1, 255, 256, 257, 4099, 65535 * 256 + 300].entries()) {
      const x = randomF32(length, k + 20, 3);
      const y = randomF32(length, k + 30);
      const s = k % 2 === 0 ? -0.37 : 2.5;
      const yb = upload(y);
      recordAxpy(r, upload(x), s, yb, length);
      const got = await read(yb, length);
      // s travels as float32 bits, so the exact value is y + fround(s)·x (a float64 product of two floats is exact).
      const sf = Math.fround(s);
      const ratio = worstRatio(got, Array.from(y, (v, i) => v + sf * (x[i] as number)), (i) => 1.01 * U32 * (Math.abs((y[i] as number) + sf * (x[i] as number)) + Math.abs(sf * (x[i] as number))) + 1e-40);
      expect(ratio, `length ${length}`).toBeLessThanOrEqual(1);
    }
  });

  test('[ob:webgpu-train-elementwise] swigluBack: dGate and dUp of the tape swiglu within 2⁻¹⁶ relative of each term magnitude (WGSL exp ≤ (3 + 2|g|) ulp)', async () => {
    for (const length of [1, 300, 4097]) {
      const [g, u, d] = [randomF32(length, length, 6), randomF32(length, length + 1, 2), randomF32(length, length + 2)];
      const [gb, ub, db, dgb, dub] = [upload(g), upload(u), upload(d), upload(new Float32Array(length)), upload(new Float32Array(length))];
      recordSwigluBack(r, gb, ub, db, length, dgb, dub);
      const tape = new Tape(true);
      const [gv, uv] = [new Var(g, true), new Var(u, true)];
      tape.backward(swiglu(tape, gv, uv), d);
      // σ carries ≤ (3 + 2|g|) + 2 ulp ≤ 17u for |g| ≤ 6, and a handful of products round once each: 2⁻¹⁶ = 256u covers it with room.
      const tol = (i: number): number => 2 ** -16 * Math.abs((d[i] as number) * (u[i] as number)) * (1 + Math.abs(g[i] as number)) + 1e-30;
      expect(worstRatio(await read(dgb, length), gv.g(), tol)).toBeLessThanOrEqual(1);
      expect(worstRatio(await read(dub, length), uv.g(), (i) => 2 ** -16 * Math.abs((d[i] as number) * (g[i] as number)) + 1e-30)).toBeLessThanOrEqual(1);
    }
  });

  /** A rope-table.ts table for headDim / theta on buffers of this file. */
  function table(headDim: number, positions: number): { buf: Bindable; sinOffset: number } {
    return ropeTables.create<Bindable>((d) => upload(d), () => undefined).table(headDim, 10000, positions);
  }

  // Same float32 cos/sin on both sides; each output is a·c ∓ b·s, within 2u·(|a·c| + |b·s|) ≤ 2u·(|a| + |b|) of the exact value either way.
  const pairTol = (x: Float32Array, headDim: number) => (i: number): number => {
    const half = headDim / 2;
    const j = i % headDim;
    const o = i - j + (j % half);
    return 4 * U32 * (Math.abs(x[o] as number) + Math.abs(x[o + half] as number)) + 1e-30;
  };

  test('[ob:webgpu-train-rope-rows] ropeRows at positions 0..n−1: forward = tape rope, inverse = its backward (rotation by −angle)', async () => {
    for (const [n, heads, headDim] of [[1, 1, 2], [37, 3, 64], [70, 2, 6]] as const) {
      const x = randomF32(n * heads * headDim, n + headDim, 2);
      const seed = randomF32(n * heads * headDim, n + headDim + 1, 2);
      const pos = upload(Uint32Array.from({ length: n }, (_, t) => t));
      const [xb, sb, t] = [upload(x), upload(seed), table(headDim, n)];
      recordRopeRows(r, xb, t, pos, n, heads, headDim, false);
      recordRopeRows(r, sb, t, pos, n, heads, headDim, true);
      const tape = new Tape(true);
      const xv = new Var(x, true);
      const out = rope(tape, xv, n, heads, headDim, 10000);
      tape.backward(out, seed);
      expect(worstRatio(await read(xb, x.length), out.value, pairTol(x, headDim))).toBeLessThanOrEqual(1);
      expect(worstRatio(await read(sb, x.length), xv.g(), pairTol(seed, headDim))).toBeLessThanOrEqual(1);
    }
  });

  test('[ob:webgpu-train-rope-rows] ropeRows at arbitrary per-row positions = CPU rope of each row at its position; inverse undoes it', async () => {
    const [n, heads, headDim] = [45, 2, 10];
    const rnd = ints(5);
    const p = Uint32Array.from({ length: n }, () => rnd(0, 900));
    const x = randomF32(n * heads * headDim, 8, 3);
    const [xb, pos, t] = [upload(x), upload(p), table(headDim, 901)];
    recordRopeRows(r, xb, t, pos, n, heads, headDim, false);
    const fwd = await read(xb, x.length);
    const want = new Float32Array(x.length);
    for (let row = 0; row < n; row++) want.set(cpuRope(x.slice(row * heads * headDim, (row + 1) * heads * headDim), 1, heads, headDim, p[row] as number, 10000), row * heads * headDim);
    expect(worstRatio(fwd, want, pairTol(x, headDim))).toBeLessThanOrEqual(1);
    recordRopeRows(r, xb, t, pos, n, heads, headDim, true);
    // Rotating back: both rotations' errors (≤ 4u·(|a| + |b|) each) plus cos² + sin² ≠ 1 in float32 (≤ 4u).
    expect(worstRatio(await read(xb, x.length), x, (i) => 3 * pairTol(x, headDim)(i))).toBeLessThanOrEqual(1);
  });

  test('[ob:webgpu-train-ce-rows] crossEntropy: rowLoss and (softmax − onehot)·rowWeight in place, ignored rows exactly 0, against crossEntropy per row and per batch', async () => {
    for (const [k, [n, vocab, scale]] of ([[1, 1, 1], [23, 300, 8], [9, 1000, 30], [70, 257, 4]] as const).entries()) {
      const rnd = ints(k + 40);
      const logits = randomF32(n * vocab, k + 41, scale);
      const targets = Int32Array.from({ length: n }, (_, t) => (t % 4 === 2 ? IGNORE : rnd(0, vocab - 1)));
      const count = targets.filter((y) => y !== IGNORE).length;
      const weights = k % 2 === 0 ? new Float32Array(n).fill(1 / Math.max(1, count)) : Float32Array.from({ length: n }, () => rnd(1, 2000) / 1000);
      const offset = 3;
      const [zb, lb] = [upload(logits), upload(new Float32Array(n + offset + 1).fill(7))];
      recordCrossEntropy(r, zb, upload(targets), upload(weights), n, vocab, lb, offset);
      const [d, loss] = [await read(zb, n * vocab), await read(lb, n + offset + 1)];
      expect([loss[0], loss[1], loss[2], loss[n + offset]]).toEqual([7, 7, 7, 7]);
      const bound = new Float64Array(n * vocab).fill(1e-30);
      for (let t = 0; t < n; t++) {
        const row = logits.subarray(t * vocab, (t + 1) * vocab);
        const y = targets[t] as number;
        if (y === IGNORE) {
          expect(loss[offset + t]).toBe(0);
          expect(d.subarray(t * vocab, (t + 1) * vocab).every((v) => v === 0)).toBe(true);
          continue;
        }
        const one = crossEntropy({ logits: row, targets: [y], vocab });
        const [mx, mn] = [Math.max(...row), Math.min(...row)];
        const lse = one.loss + (row[y] as number);
        // lse: the lanes' online sums rescale ≤ ⌈V/256⌉ + 1 times by WGSL exp (≤ (3 + 2R) ulp, R the row's
        // range), ≤ ⌈V/256⌉ + 8 adds, WGSL log (≤ 2⁻²¹ absolute) and the rounding of max + log. Each
        // p = exp(z − lse) moves relatively by that plus its own exp; the one-hot term and the weight round once more.
        const per = Math.ceil(vocab / 256);
        const lseErr = 2 ** -21 + ((per + 1) * (3 + 2 * (mx - mn)) + per + 10) * U32 + 2 * U32 * Math.abs(lse);
        const w = weights[t] as number;
        for (let c = 0; c < vocab; c++) {
          const z = (row[c] as number) - lse;
          bound[t * vocab + c] = Math.abs(w) * (Math.exp(z) * (lseErr + (8 + 2 * Math.abs(z)) * U32) + 4 * U32) + 1e-30;
        }
        const ratio = worstRatio(d.subarray(t * vocab, (t + 1) * vocab), Array.from(one.dLogits, (v) => v * w), (c) => bound[t * vocab + c] as number);
        expect(ratio, `row ${t}`).toBeLessThanOrEqual(1);
        expect(Math.abs((loss[offset + t] as number) - one.loss)).toBeLessThanOrEqual(lseErr + 2 * U32 * Math.abs(row[y] as number));
      }
      if (k % 2 === 0) {
        // The trainer's mean: rowWeight = fround(1/count) gives crossEntropy's batch gradient (its 1/count exact: u·|d| more).
        const all = crossEntropy({ logits, targets, vocab });
        expect(worstRatio(d, all.dLogits, (i) => (bound[i] as number) + U32 * Math.abs(all.dLogits[i] as number))).toBeLessThanOrEqual(1);
      }
    }
  });

  test('[ob:webgpu-train-adamw] sumSquares: Σ x² within (terms per lane + tree depth)·u·Σx² of float64, bit-identical on a rerun, only out[outOffset] written', async () => {
    for (const length of [0, 1, 255, 1025, 70001, 1024 * 1024 + 77]) {
      const x = randomF32(length, length + 3, 2);
      const [xb, pb, ob] = [upload(x), upload(new Float32Array(1024)), upload(new Float32Array(4).fill(-1))];
      recordSumSquares(r, xb, length, pb, ob, 2);
      const first = await read(ob, 4);
      recordSumSquares(r, xb, length, pb, ob, 2);
      const again = await read(ob, 4);
      const exact = x.reduce((s, v) => s + v * v, 0);
      // ≤ ⌈length / 2¹⁸⌉ + 4 sequential fmas per lane, 8 tree levels, ≤ 4 partials per lane, 8 more levels.
      const bound = (Math.ceil(length / 2 ** 18) + 4 + 8 + 4 + 8 + 2) * U32 * exact;
      expect(Math.abs((first[2] as number) - exact), `length ${length}`).toBeLessThanOrEqual(bound);
      expect(Array.from(again)).toEqual(Array.from(first));
      expect([first[0], first[1], first[3]]).toEqual([-1, -1, -1]);
    }
  });

  test('[ob:webgpu-train-adamw] adamW: 3 steps over a decayed matrix and an undecayed vector equal AdamW after scaleGrads + clipGradNorm (clipping off, on, not reached); grads zeroed', async () => {
    for (const maxNorm of [0, 0.05, 1e6]) await adamCase(maxNorm);
  });

  async function adamCase(maxNorm: number): Promise<void> {
    const shapes = [[13, 29], [67]];
    const o = { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, gradScale: 1 / 3 };
    const params: TrainParam[] = shapes.map((shape, i) => {
      const len = shape.reduce((a, b) => a * b, 1);
      return { name: `p${i}`, shape, data: randomF32(len, 50 + i), grad: new Float32Array(len) };
    });
    const total = params.reduce((s, p) => s + p.data.length, 0);
    const dev = params.map((p) => ({ p: upload(p.data), g: upload(p.grad), m: upload(p.grad), v: upload(p.grad) }));
    const [all, partials, sumsq] = [upload(new Float32Array(total)), upload(new Float32Array(1024)), upload(new Float32Array(1))];
    const adam = new AdamW(params, { beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: 0.1 });
    /** β1-averages of |g'| (the magnitude m's roundings scale with, as m itself may cancel). */
    const mAbs = params.map((p) => new Float64Array(p.data.length));
    for (let step = 1; step <= 3; step++) {
      let at = 0;
      params.forEach((p, i) => {
        p.grad.set(randomF32(p.grad.length, 100 * step + i, 0.3));
        r.device.queue.writeBuffer((dev[i] as (typeof dev)[number]).g.buffer, 0, p.grad);
        r.commands().copyBufferToBuffer((dev[i] as (typeof dev)[number]).g.buffer, 0, all.buffer, at * 4, p.grad.length * 4);
        at += p.grad.length;
      });
      recordSumSquares(r, all, total, partials, sumsq, 0);
      params.forEach((p, i) => {
        const b = dev[i] as (typeof dev)[number];
        recordAdamW(r, b.p, b.g, b.m, b.v, p.data.length, sumsq, { ...o, step, maxNorm, decay: p.shape.length >= 2 ? o.lr * 0.1 : 0 });
      });
      r.flush();
      scaleGrads(params, o.gradScale);
      clipGradNorm(params, maxNorm);
      params.forEach((p, i) => (mAbs[i] as Float64Array).forEach((a, k) => ((mAbs[i] as Float64Array)[k] = o.beta1 * a + (1 - o.beta1) * Math.abs(p.grad[k] as number))));
      adam.step(o.lr);
    }
    for (const [i, p] of params.entries()) {
      const b = dev[i] as (typeof dev)[number];
      const [m, v] = [adam.state.m[i] as Float32Array, adam.state.v[i] as Float32Array];
      // m, v: three float32 recurrences; g' differs by the clip factor's float32 norm (sumsq ≤ ~30u, so ≤ 16u)
      // and a few roundings per step: ≤ 2⁻¹⁶ (256u) of Σ β-weighted |g'| (m may cancel) and of v (it cannot).
      // p: each step's update lr/bc1·m/(√v/√bc2 + ε) moves by ≤ lr·(2⁻¹⁶ + 2⁻¹⁷)·M̂/√v̂, and M̂/√v̂ ≤ 1.004 for
      // steps ≤ 3 (Cauchy–Schwarz over the bias-corrected weights), so lr·2⁻¹⁴ a step, plus ≤ 4u·|p| of rounding.
      const ma = mAbs[i] as Float64Array;
      expect(worstRatio(await read(b.m, m.length), m, (k) => 2 ** -16 * (ma[k] as number) + 1e-30)).toBeLessThanOrEqual(1);
      expect(worstRatio(await read(b.v, v.length), v, (k) => 2 ** -16 * Math.abs(v[k] as number) + 1e-30)).toBeLessThanOrEqual(1);
      expect(worstRatio(await read(b.p, p.data.length), p.data, (k) => 3 * (2 ** -14 * o.lr + 4 * U32 * Math.abs(p.data[k] as number)))).toBeLessThanOrEqual(1);
      expect((await read(b.g, p.grad.length)).every((g) => g === 0)).toBe(true);
    }
  }
});

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { createWebGpuTrainingKernels } from '../../src/kernels/webgpu/training.js';
import { backInput, backWeight } from '../../src/train/autograd/linalg.js';
import { rmsnorm } from '../../src/train/autograd/ops.js';
import { Tape, Var } from '../../src/train/autograd/tape.js';
import { crossEntropy, IGNORE } from '../../src/train/losses/cross-entropy.js';
import { randomF32 } from './kernels-helpers.js';
import { gpu, noGpuReason, U32 } from './webgpu-helpers.js';

/**
 * Differential tests of the WGSL backward kernels against the CPU autograd (src/train/autograd, the CE loss
 * of src/train/losses) on the same random inputs. Tolerances are float32 reassociation bounds, u = 2⁻²⁴:
 * a k-term sum in any order is within (k + 2)·u·Σ|terms| of the exact one (plus the final rounding), and the
 * CPU side is itself within that bound (float64 or float32 SIMD sums).
 */

const k = gpu ? createWebGpuTrainingKernels({ gpu }) : undefined;
const RUNS = { numRuns: 20 };
const shape = fc.record({ n: fc.integer({ min: 1, max: 37 }), rows: fc.integer({ min: 1, max: 40 }), cols: fc.integer({ min: 1, max: 40 }), seed: fc.integer({ min: 1, max: 1e9 }) });

/** max over i of |a_i − b_i| / bound_i (≤ 1 passes). */
function worstRatio(a: Float32Array, b: Float32Array, bound: (i: number) => number): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)) / bound(i));
  return worst;
}

describe.skipIf(!k)(`WebGPU training backward kernels vs CPU autograd${noGpuReason}`, () => {
  const g = k as NonNullable<typeof k>;

  test('[ob:webgpu-train-matmul-back-input] dX = dY·W within (rows + 2)·u·Σ_r |dY·W| of backInput', async () => {
    await fc.assert(fc.asyncProperty(shape, async ({ n, rows, cols, seed }) => {
      const dY = randomF32(n * rows, seed);
      const W = randomF32(rows * cols, seed + 1, 3);
      const cpu = new Float32Array(n * cols);
      backInput(W, rows, cols, dY, n, cpu, true);
      const got = await g.matmulBackwardInput(dY, W, n, rows, cols);
      const ratio = worstRatio(got, cpu, (i) => {
        const t = Math.floor(i / cols);
        const c = i % cols;
        let s = 0;
        for (let r = 0; r < rows; r++) s += Math.abs((dY[t * rows + r] as number) * (W[r * cols + c] as number));
        return (rows + 2) * U32 * s + 1e-30;
      });
      expect(ratio).toBeLessThanOrEqual(1);
    }), RUNS);
  });

  test('[ob:webgpu-train-matmul-back-weight] dW = dYᵀ·X within (n + 2)·u·Σ_t |dY·X| of backWeight', async () => {
    await fc.assert(fc.asyncProperty(shape, async ({ n, rows, cols, seed }) => {
      const dY = randomF32(n * rows, seed);
      const X = randomF32(n * cols, seed + 2, 2);
      const cpu = new Float32Array(rows * cols);
      backWeight(dY, X, n, rows, cols, cpu);
      const got = await g.matmulBackwardWeight(dY, X, n, rows, cols);
      const ratio = worstRatio(got, cpu, (i) => {
        const r = Math.floor(i / cols);
        const c = i % cols;
        let s = 0;
        for (let t = 0; t < n; t++) s += Math.abs((dY[t * rows + r] as number) * (X[t * cols + c] as number));
        return (n + 2) * U32 * s + 1e-30;
      });
      expect(ratio).toBeLessThanOrEqual(1);
    }), RUNS);
  });

  test('[ob:webgpu-train-matmul-back-weight] a wrong shape is a one-line RangeError', async () => {
    await expect(g.matmulBackwardWeight(new Float32Array(6), new Float32Array(5), 2, 3, 3)).rejects.toThrow(/matmulBackwardWeight: dY must be \[2, 3\] and X \[2, 3\]/);
    await expect(g.matmulBackwardInput(new Float32Array(6), new Float32Array(5), 2, 3, 2)).rejects.toThrow(RangeError);
  });

  test('[ob:webgpu-train-rmsnorm-back] rmsnorm dX and dWeight within the derived float32 bounds of the tape backward', async () => {
    const arb = fc.record({ n: fc.integer({ min: 1, max: 9 }), dim: fc.integer({ min: 1, max: 700 }), seed: fc.integer({ min: 1, max: 1e9 }), eps: fc.constantFrom(1e-6, 1e-5, 0.5) });
    await fc.assert(fc.asyncProperty(arb, async ({ n, dim, seed, eps }) => {
      const x = randomF32(n * dim, seed, 2);
      const w = randomF32(dim, seed + 3, 1.5);
      const dY = randomF32(n * dim, seed + 4);
      const tape = new Tape(true);
      const xv = new Var(x, true);
      const wp = { data: w, grad: new Float32Array(dim) };
      tape.backward(rmsnorm(tape, xv, wp, n, dim, eps), dY);
      const got = await g.rmsnormBackward(x, w, dY, n, dim, eps);
      const r = Array.from({ length: n }, (_, t) => 1 / Math.sqrt(x.subarray(t * dim, (t + 1) * dim).reduce((s, v) => s + v * v, 0) / dim + eps));
      const absDot = r.map((_, t) => { let s = 0; for (let i = 0; i < dim; i++) s += Math.abs(w[i] as number * (dY[t * dim + i] as number) * (x[t * dim + i] as number)); return s; });
      // dx = A − B with A = r·w·dy, B = r³/dim·x·dot: r carries ≤ (dim/2 + 3)u, dot ≤ (dim + 2)u·Σ|w·dy·x|.
      const dxRatio = worstRatio(got.dX, xv.g(), (i) => {
        const t = Math.floor(i / dim);
        const rt = r[t] as number;
        const A = rt * Math.abs((w[i % dim] as number) * (dY[i] as number));
        const B = (rt ** 3 / dim) * Math.abs(x[i] as number) * (absDot[t] as number);
        return (dim + 10) * U32 * (A + 3 * B) + 1e-30;
      });
      // dw = Σ_t dy·x·r: n-term sum (both sides) plus the error of each r_t.
      const dwRatio = worstRatio(got.dWeight, wp.grad, (i) => {
        let s = 0;
        for (let t = 0; t < n; t++) s += Math.abs((dY[t * dim + i] as number) * (x[t * dim + i] as number)) * (r[t] as number);
        return 2 * (n + dim + 8) * U32 * s + 1e-30;
      });
      expect(dxRatio).toBeLessThanOrEqual(1);
      expect(dwRatio).toBeLessThanOrEqual(1);
    }), RUNS);
  });

  test('[ob:webgpu-train-softmax-ce-back] loss and dLogits within the exp/log float32 bounds of crossEntropy', async () => {
    const arb = fc.record({ n: fc.integer({ min: 1, max: 9 }), vocab: fc.integer({ min: 1, max: 600 }), seed: fc.integer({ min: 1, max: 1e9 }), scale: fc.constantFrom(1, 8, 30), ignoreEvery: fc.integer({ min: 0, max: 3 }) });
    await fc.assert(fc.asyncProperty(arb, async ({ n, vocab, seed, scale, ignoreEvery }) => {
      const logits = randomF32(n * vocab, seed, scale);
      const targets = Int32Array.from({ length: n }, (_, p) => (ignoreEvery > 0 && p % (ignoreEvery + 1) === 1 ? IGNORE : (seed + 7 * p) % vocab));
      const cpu = crossEntropy({ logits, targets, vocab });
      const got = await g.softmaxCrossEntropyBackward(logits, targets, vocab);
      const count = targets.filter((t) => t !== IGNORE).length;
      const lse = Array.from({ length: n }, (_, t) => {
        const row = Array.from(logits.subarray(t * vocab, (t + 1) * vocab));
        const m = Math.max(...row);
        return m + Math.log(row.reduce((s, z) => s + Math.exp(z - m), 0));
      });
      // The error of lse (sum of V exps, WGSL log ≤ 2⁻²¹ absolute near 1, rounding of max + log) moves every
      // p = exp(z − lse) relatively; WGSL exp adds (3 + 2|z − lse|) ulp. The one-hot term rounds once.
      const lseErr = lse.map((l) => 2 ** -21 + (vocab + 8) * U32 + 2 * U32 * Math.abs(l));
      const dRatio = worstRatio(got.dLogits, cpu.dLogits, (i) => {
        const t = Math.floor(i / vocab);
        if (targets[t] === IGNORE) return 1e-30;
        const d = (logits[i] as number) - (lse[t] as number);
        const p = Math.exp(d);
        return (p * ((lseErr[t] as number) + (8 + 4 * Math.abs(d)) * U32) + 2 * U32) / count + 1e-30;
      });
      expect(dRatio).toBeLessThanOrEqual(1);
      const lossBound = lse.reduce((s, l, t) => s + (targets[t] === IGNORE ? 0 : (lseErr[t] as number) + 2 * U32 * (Math.abs(l) + Math.abs(logits[t * vocab + (targets[t] as number)] as number))), 0) / Math.max(1, count);
      expect(Math.abs(got.loss - cpu.loss)).toBeLessThanOrEqual(lossBound + 1e-30);
    }), RUNS);
  });

  test('[ob:webgpu-train-ce-ignore] ignored rows get an exactly zero gradient; all ignored gives loss 0', async () => {
    const vocab = 37;
    const logits = randomF32(4 * vocab, 99, 5);
    const got = await g.softmaxCrossEntropyBackward(logits, Int32Array.from([IGNORE, 3, IGNORE, 36]), vocab);
    for (const t of [0, 2]) expect(Array.from(got.dLogits.subarray(t * vocab, (t + 1) * vocab)).every((v) => v === 0)).toBe(true);
    let rowSum = 0;
    for (let i = 0; i < vocab; i++) rowSum += got.dLogits[vocab + i] as number;
    expect(Math.abs(rowSum)).toBeLessThan((vocab + 2) * U32);
    const none = await g.softmaxCrossEntropyBackward(logits, new Int32Array(4).fill(IGNORE), vocab);
    expect(none.loss).toBe(0);
    expect(none.dLogits.every((v) => v === 0)).toBe(true);
    await expect(g.softmaxCrossEntropyBackward(logits, Int32Array.from([0, 1, 2, vocab]), vocab)).rejects.toThrow(/targets must be ids < 37/);
  });
});

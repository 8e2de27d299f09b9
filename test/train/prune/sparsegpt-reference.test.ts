import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/model/rng.js';
import { cholesky, choleskyInverse, upperCholesky } from '../../../src/train/prune/linalg.js';
import { sparseGptContract, sparseGptPrune } from '../../../src/train/prune/sparsegpt.js';

/**
 * SparseGPT against a direct, unoptimised reading of Frantar & Alistarh 2023 (Algorithm 1, OBS form): for each
 * column j, left to right, the inverse Hessian of the still-unprocessed columns F = {j, …, n−1} is formed from
 * scratch (Gauss–Jordan on (H + λI)[F, F]); a pruned weight's error is compensated on the later columns by
 * δ_F = −(w_j / [H_F⁻¹]_00) · [H_F⁻¹]_{0,:}. The mask of a block is the k lowest w²/[H_F⁻¹]_00 over its rows
 * and columns (k = ⌊r·rows·i2⌋ − ⌊r·rows·i1⌋), chosen on the weights as they stand when the block starts;
 * with N:M, each row's N lowest of every M columns, chosen when the group starts. No Cholesky, no lazy batch
 * updates: the implementation's upper Cholesky factor of H⁻¹ and its deferred updates must reproduce this.
 */
function inverse(a: number[][]): number[][] {
  const n = a.length;
  const m = a.map((row, i) => [...row, ...Array.from({ length: n }, (_v, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    const piv = m[c]![c]!;
    for (let k = 0; k < 2 * n; k++) m[c]![k]! /= piv;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]!;
      for (let k = 0; k < 2 * n; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  return m.map((row) => row.slice(n));
}

interface RefOptions {
  rows: number;
  cols: number;
  ratio: number;
  block: number;
  lambda: number;
  pattern?: { n: number; m: number };
}

function referencePrune(w0: Float32Array, h0: Float64Array, o: RefOptions): Float64Array {
  const { rows, cols } = o;
  const h = Array.from({ length: cols }, (_v, i) => Array.from({ length: cols }, (_u, j) => h0[i * cols + j]! + (i === j ? (h0[i * cols + i] === 0 ? 1 : 0) + o.lambda : 0)));
  // [H_F⁻¹] for F = {j..n−1}: row 0 of the inverse of the trailing principal block.
  const tail = Array.from({ length: cols }, (_v, j) => inverse(h.slice(j).map((r) => r.slice(j)))[0]!);
  const w = Float64Array.from(w0);
  const mask = new Uint8Array(rows * cols);
  for (let i1 = 0; i1 < cols; i1 += o.block) {
    const i2 = Math.min(i1 + o.block, cols);
    if (!o.pattern) {
      const k = Math.floor(o.ratio * rows * i2 + 1e-9) - Math.floor(o.ratio * rows * i1 + 1e-9);
      const cand: { s: number; at: number }[] = [];
      for (let r = 0; r < rows; r++) for (let j = i1; j < i2; j++) cand.push({ s: w[r * cols + j]! ** 2 / tail[j]![0]!, at: r * cols + j });
      cand.sort((a, b) => a.s - b.s);
      for (const c of cand.slice(0, k)) mask[c.at] = 1;
    }
    for (let j = i1; j < i2; j++) {
      if (o.pattern && (j - i1) % o.pattern.m === 0) {
        for (let r = 0; r < rows; r++) {
          const idx = Array.from({ length: o.pattern.m }, (_v, i) => j + i).sort((a, b) => w[r * cols + a]! ** 2 / tail[a]![0]! - w[r * cols + b]! ** 2 / tail[b]![0]!);
          for (const c of idx.slice(0, o.pattern.n)) mask[r * cols + c] = 1;
        }
      }
      const row0 = tail[j]!;
      for (let r = 0; r < rows; r++) {
        if (!mask[r * cols + j]) continue;
        const f = w[r * cols + j]! / row0[0]!;
        for (let k = j; k < cols; k++) w[r * cols + k] = w[r * cols + k]! - f * row0[k - j]!;
        w[r * cols + j] = 0;
      }
    }
  }
  return w;
}

/** H = XᵀX of `tokens` random inputs whose columns share a few latent factors (so H is far from diagonal). */
function hessian(tokens: number, cols: number, rng: Rng, dead: readonly number[] = []): Float64Array {
  const a = Array.from({ length: 3 * cols }, () => rng.next() * 2 - 1);
  const h = new Float64Array(cols * cols);
  for (let t = 0; t < tokens; t++) {
    const z = [0, 1, 2].map(() => rng.next() * 2 - 1);
    const x = Array.from({ length: cols }, (_v, c) => (dead.includes(c) ? 0 : 0.1 * (rng.next() * 2 - 1) + z[0]! * a[c]! + z[1]! * a[cols + c]! + z[2]! * a[2 * cols + c]!));
    for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) h[i * cols + j] = h[i * cols + j]! + x[i]! * x[j]!;
  }
  return h;
}

function weights(n: number, rng: Rng): Float32Array {
  return Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
}

const meanDiag = (h: Float64Array, n: number): number => Array.from({ length: n }, (_v, i) => h[i * n + i]!).reduce((s, x) => s + x, 0) / n;

/**
 * Tolerance: the implementation works in float64 through a Cholesky factor and rounds the result to float32 once;
 * the reference works in float64 through explicit inverses. Their difference is float32 rounding of weights of
 * magnitude ≲ 10 (≈ 1e-6) plus float64 noise: 1e-5 absolute. A wrong mask or a wrong update moves weights by
 * ≳ 1e-2.
 */
function expectClose(got: Float32Array, want: Float64Array): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < got.length; i++) {
    if (want[i] === 0) expect(got[i], `element ${i}`).toBe(0);
    else expect(Math.abs(got[i]! - want[i]!), `element ${i}: ${got[i]} vs ${want[i]}`).toBeLessThan(1e-5);
  }
}

describe('SparseGPT against the direct OBS reading of the paper', () => {
  it('one block over all columns, default dampening (1 % of the mean diagonal)', () => {
    const rng = new Rng(11);
    const [rows, cols] = [5, 12];
    const h = hessian(40, cols, rng);
    const w = weights(rows * cols, rng);
    const got = sparseGptPrune({ name: 't', w, rows, cols, ratio: 0.5, hessian: h });
    expectClose(got, referencePrune(w, h, { rows, cols, ratio: 0.5, block: cols, lambda: 0.01 * meanDiag(h, cols) }));
  });

  it('blocks of 4 columns (masks chosen on the updated weights), ratio 0.3, dampening 0.05, a dead input channel', () => {
    const rng = new Rng(12);
    const [rows, cols] = [4, 10];
    const h = hessian(30, cols, rng, [3]);
    const w = weights(rows * cols, rng);
    const got = sparseGptPrune({ name: 't', w, rows, cols, ratio: 0.3, hessian: h, blockSize: 4, damp: 0.05 });
    // the dead channel's zero diagonal becomes 1 before dampening, and the mean is taken before that
    expectClose(got, referencePrune(w, h, { rows, cols, ratio: 0.3, block: 4, lambda: 0.05 * meanDiag(h, cols) }));
  });

  it('2:4 pattern, blocks of 8', () => {
    const rng = new Rng(13);
    const [rows, cols] = [3, 16];
    const h = hessian(50, cols, rng);
    const w = weights(rows * cols, rng);
    const got = sparseGptPrune({ name: 't', w, rows, cols, ratio: 0.5, hessian: h, blockSize: 8, pattern: { n: 2, m: 4 } });
    expectClose(got, referencePrune(w, h, { rows, cols, ratio: 0.5, block: 8, lambda: 0.01 * meanDiag(h, cols), pattern: { n: 2, m: 4 } }));
  });

  it('an indefinite H is dampened tenfold until H + λI is positive definite: [[1,3],[3,1]] (eigenvalues −2, 4) needs λ = 10', () => {
    const h = Float64Array.from([1, 3, 3, 1]);
    const w = Float32Array.from([0.3, -0.9, 0.8, 0.1]);
    const got = sparseGptPrune({ name: 't', w, rows: 2, cols: 2, ratio: 0.5, hessian: h });
    expectClose(got, referencePrune(w, h, { rows: 2, cols: 2, ratio: 0.5, block: 2, lambda: 10 }));
  });

  it('a Hessian that no dampening makes positive definite is refused; eight tries at most (λ up to 10⁵ × 1 % of the mean diagonal)', () => {
    const w = Float32Array.from([1, 2, 3, 4]);
    expect(() => sparseGptPrune({ name: 't', w, rows: 2, cols: 2, ratio: 0.5, hessian: Float64Array.from([-1, 0, 0, -1]) })).toThrow(/not positive definite/);
    // smallest eigenvalue 1 − 5·10⁵: λ = 10⁵ (the eighth try) is not enough, λ = 10⁶ would be
    expect(() => sparseGptPrune({ name: 't', w, rows: 2, cols: 2, ratio: 0.5, hessian: Float64Array.from([1, 5e5, 5e5, 1]) })).toThrow(/not positive definite/);
  });

  it('an all-zero Hessian (every input channel dead): each diagonal becomes 1 and λ is 1 % of 1', () => {
    const w = Float32Array.from([0.5, -0.25, 0.75, 0.1, -0.6, 0.2]);
    const h = new Float64Array(9);
    const got = sparseGptPrune({ name: 't', w, rows: 2, cols: 3, ratio: 0.5, hessian: h });
    expectClose(got, referencePrune(w, h, { rows: 2, cols: 3, ratio: 0.5, block: 3, lambda: 0.01 }));
  });

  it('the contract refuses a Hessian of the wrong size and a non-finite result', () => {
    const w = Float32Array.from([1, 2, 3, 4]);
    expect(() => sparseGptPrune({ name: 't', w, rows: 2, cols: 2, ratio: 0.5, hessian: new Float64Array(3) })).toThrow(/H is cols × cols/);
    const input = { name: 't', w, rows: 2, cols: 2, ratio: 0.5, hessian: new Float64Array(4) };
    expect(() => sparseGptContract.run(input, () => Float32Array.from([0, 1, 0, Number.NaN]))).toThrow(/finite weights/);
    expect(sparseGptContract.run(input, () => Float32Array.from([0, 1, 0, 2]))).toEqual(Float32Array.from([0, 1, 0, 2]));
  });
});

describe('the Cholesky helpers against the definitions', () => {
  it('L Lᵀ = A, (L Lᵀ)⁻¹ · A = I, Uᵀ U = A; a matrix that is not positive definite gives undefined', () => {
    const n = 5;
    const h = hessian(20, n, new Rng(3));
    for (let i = 0; i < n; i++) h[i * n + i]! += 0.1;
    const l = cholesky(h, n)!;
    const u = upperCholesky(h, n)!;
    const inv = choleskyInverse(l, n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let llt = 0;
        let utu = 0;
        let prod = 0;
        for (let k = 0; k < n; k++) {
          llt += l[i * n + k]! * l[j * n + k]!;
          utu += u[k * n + i]! * u[k * n + j]!;
          prod += inv[i * n + k]! * h[k * n + j]!;
        }
        // float64 on entries of size ≲ 30: 1e-9 relative to the largest entry
        expect(Math.abs(llt - h[i * n + j]!)).toBeLessThan(1e-9 * 30);
        expect(Math.abs(utu - h[i * n + j]!)).toBeLessThan(1e-9 * 30);
        expect(Math.abs(prod - (i === j ? 1 : 0))).toBeLessThan(1e-8);
        if (j > i) expect(l[i * n + j]).toBe(0);
        if (j < i) expect(u[i * n + j]).toBe(0);
      }
    }
    expect(cholesky(Float64Array.from([1, 2, 2, 1]), 2)).toBeUndefined();
    expect(upperCholesky(Float64Array.from([1, 2, 2, 1]), 2)).toBeUndefined();
    expect(cholesky(Float64Array.from([0, 0, 0, 1]), 2)).toBeUndefined();
    expect(cholesky(Float64Array.from([0]), 1)).toBeUndefined(); // positive semi-definite is not enough
    expect(Array.from(cholesky(Float64Array.from([4]), 1)!)).toEqual([2]);
  });
});

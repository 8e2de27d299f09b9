/**
 * The error bound of ggml's importance-weighted 32-value quantizers (quantize_row_q4_0_impl, _q5_0_impl,
 * _q4_1_impl, _q5_1_impl), checked on the decoded output. With weights w_j = qw_j·√(σ² + x_j²) (σ² = Σx²/n
 * over the row) each block's weighted error E = Σ w_j (x_j − x̂_j)² is at most that of the search's first
 * candidate, because every later candidate is taken only when it lowers E:
 * - Q4_0 / Q5_0 (make_qx_quants, levels l ∈ [−nmax, nmax)): the first candidate is the levels of
 *   d₀ = max/−nmax with their least-squares scale, so E ≤ Σ w_j d₀² (each |x_j − d₀ l_j| ≤ |d₀|, at the clamp).
 * - Q4_1 / Q5_1 (make_qkx3_quants, levels 0..nmax): the first candidate is the grid from min(0, min x) to max
 *   in nmax steps s₀, so E ≤ Σ w_j (s₀/2)².
 * Storing d (and m) as f16 moves each x̂_j by at most nmax·δd + δm, δ ≤ 2^-10·|f16| + 2^-24, which adds at
 * most √Σw·(nmax·δd + δm) to √E (the triangle inequality in the weighted norm). Float32 evaluation of the
 * search is covered by a relative tolerance of 1e-4 on √E.
 */
import { dequantize } from '../codecs/index.js';
import { halfAt } from './checks.js';

const QK = 32;
const TOLERANCE = 1e-4;

export type WeightedDType = 'Q4_0' | 'Q4_1' | 'Q5_0' | 'Q5_1';

const LAYOUT: Readonly<Record<WeightedDType, { stride: number; nmax: number; affine: boolean }>> = {
  Q4_0: { stride: 18, nmax: 8, affine: false },
  Q5_0: { stride: 22, nmax: 16, affine: false },
  Q4_1: { stride: 20, nmax: 15, affine: true },
  Q5_1: { stride: 24, nmax: 31, affine: true },
};

/** σ² of each row (mean of x²), as the _impl quantizers compute it (here in float64). */
function rowSigma2(x: Float32Array, n: number): Float64Array {
  const out = new Float64Array(x.length / n);
  for (let r = 0; r < out.length; r++) {
    let s = 0;
    for (let j = r * n; j < (r + 1) * n; j++) s += (x[j] ?? 0) ** 2;
    out[r] = s / n;
  }
  return out;
}

/** The first candidate's per-element error bound of block b: |d₀| (symmetric) or s₀/2 (affine). */
function firstCandidateBound(x: Float32Array, b: number, nmax: number, affine: boolean): number {
  let min = Infinity, max = -Infinity, amax = 0;
  for (let j = b * QK; j < (b + 1) * QK; j++) {
    const v = x[j] ?? 0;
    min = Math.min(min, v);
    max = Math.max(max, v);
    amax = Math.max(amax, Math.abs(v));
  }
  return affine ? (max - Math.min(0, min)) / nmax / 2 : amax / nmax;
}

/** The f16 rounding slack of one element of block b: nmax·δd (+ δm for the affine types). */
function halfSlack(bytes: Uint8Array, b: number, stride: number, nmax: number, affine: boolean): number {
  const delta = (o: number): number => Math.abs(halfAt(bytes, o)) * 2 ** -10 + 2 ** -24;
  return nmax * delta(b * stride) + (affine ? delta(b * stride + 2) : 0);
}

/** Whether every block's weighted error is within the bound above (imatrix: one weight per column of a row). */
export function weightedWithin(dtype: WeightedDType, x: Float32Array, imatrix: Float32Array, bytes: Uint8Array): boolean {
  const { stride, nmax, affine } = LAYOUT[dtype];
  const n = imatrix.length;
  const y = dequantize(dtype, bytes, x.length);
  const sigma2 = rowSigma2(x, n);
  for (let b = 0; b * QK < x.length; b++) {
    const row = Math.floor((b * QK) / n);
    let err = 0, sumW = 0;
    for (let j = b * QK; j < (b + 1) * QK; j++) {
      const v = x[j] ?? 0;
      const w = (imatrix[j % n] ?? 0) * Math.sqrt((sigma2[row] ?? 0) + v * v);
      err += w * (v - (y[j] ?? 0)) ** 2;
      sumW += w;
    }
    const first = firstCandidateBound(x, b, nmax, affine);
    const limit = Math.sqrt(sumW) * (first * (1 + TOLERANCE) + halfSlack(bytes, b, stride, nmax, affine));
    if (!(Math.sqrt(err) <= limit)) return false;
  }
  return true;
}

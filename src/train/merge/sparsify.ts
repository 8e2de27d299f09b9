import type { Rng } from '../../model/rng.js';

/**
 * Sparsification of task vectors, as mergekit's `sparsify.py` (magnitude, random, magnitude_outliers,
 * della_magprune). Each works in place on a float64 task vector.
 */

/** Indices of `a[from..to)` sorted by |a_i| ascending; ties keep index order (deterministic). */
function orderByMagnitude(a: Float64Array, from: number, to: number): Uint32Array {
  const idx = new Uint32Array(to - from);
  // Stryker disable next-line EqualityOperator: i <= idx.length writes idx[n], past the end of the Uint32Array (a no-op)
  for (let i = 0; i < idx.length; i++) idx[i] = from + i;
  idx.sort((x, y) => Math.abs(a[x] as number) - Math.abs(a[y] as number) || x - y);
  return idx;
}

/** |a_i| and the same magnitudes sorted ascending (a native sort, no comparator calls). */
interface Magnitudes {
  abs: Float64Array;
  sorted: Float64Array;
}

function magnitudes(a: ArrayLike<number>): Magnitudes {
  const abs = new Float64Array(a.length);
  // Stryker disable next-line EqualityOperator: i <= abs.length writes abs[n], past the end of the Float64Array (a no-op)
  for (let i = 0; i < abs.length; i++) abs[i] = Math.abs(a[i] as number);
  return { abs, sorted: abs.slice().sort() };
}

function maskSmallest({ abs, sorted }: Magnitudes, m: number): Uint8Array {
  const n = abs.length;
  const mask = new Uint8Array(n);
  if (m <= 0) return mask;
  if (m >= n) return mask.fill(1);
  const thr = sorted[m - 1] as number;
  let below = 0;
  // Stryker disable next-line EqualityOperator: i <= n reads abs[n], undefined, never < thr
  for (let i = 0; i < n; i++) if ((abs[i] as number) < thr) below++;
  let ties = m - below;
  // Stryker disable next-line EqualityOperator: i <= n reads abs[n], undefined, neither < nor === thr
  for (let i = 0; i < n; i++) {
    const v = abs[i] as number;
    if (v < thr) mask[i] = 1;
    else if (v === thr && ties > 0) {
      mask[i] = 1;
      ties--;
    }
  }
  return mask;
}

/**
 * Marks the m elements of smallest |a_i| (ties broken by lower index first) with 1. Uses a native sort of
 * the magnitudes to find the threshold, so large tensors cost O(n log n) without comparator calls.
 */
export function smallestMask(a: ArrayLike<number>, m: number): Uint8Array {
  if (m <= 0) return new Uint8Array(a.length);
  if (m >= a.length) return new Uint8Array(a.length).fill(1);
  return maskSmallest(magnitudes(a), m);
}

/** Keeps the k = ⌊density·n⌋ largest |δ_i| (mergekit `magnitude`, used by TIES). */
export function magnitudeTrim(delta: Float64Array, density: number): void {
  if (density >= 1) return;
  const n = delta.length;
  const k = Math.floor(density * n);
  if (k <= 0) throw new Error(`density ${density} keeps no element of a tensor of ${n}`);
  const drop = smallestMask(delta, n - k);
  // Stryker disable next-line EqualityOperator: i <= n reads drop[n], undefined
  for (let i = 0; i < n; i++) if (drop[i]) delta[i] = 0;
}

/** Keeps each element with probability `density` (DARE: drop rate p = 1 − density), rescaled by 1/density. */
export function randomDrop(delta: Float64Array, density: number, rescale: boolean, rng: Rng): void {
  if (density >= 1) return;
  const scale = rescale ? 1 / density : 1;
  // Stryker disable next-line EqualityOperator: i <= delta.length draws once more from a generator used by nothing after, and writes past the end (a no-op)
  for (let i = 0; i < delta.length; i++) {
    delta[i] = rng.next() < density ? (delta[i] as number) * scale : 0;
  }
}

/**
 * Model Breadcrumbs: drops the γ·n largest |δ_i| (outliers) and then the smallest, keeping ⌊density·n⌋
 * elements in between.
 */
export function magnitudeOutliers(delta: Float64Array, density: number, gamma: number): void {
  if (density >= 1) return;
  const n = delta.length;
  const keep = Math.floor(density * n);
  let nTop = Math.floor(gamma * n);
  let nBot = n - keep - nTop;
  if (nBot < 0) {
    nTop += nBot;
    nBot = 0;
  }
  // The nTop largest are the complement of the n − nTop smallest (one sort serves both).
  const mags = magnitudes(delta);
  const low = maskSmallest(mags, nBot);
  const notTop = maskSmallest(mags, n - nTop);
  // Stryker disable next-line EqualityOperator: i <= n writes delta[n], past the end of the Float64Array (a no-op)
  for (let i = 0; i < n; i++) if (low[i] || !notTop[i]) delta[i] = 0;
}

/**
 * DELLA's MAGPRUNE: within each row, element of magnitude rank r (1 = smallest) is kept with probability
 * p_r = (density − ε) + 2ε·(r − 1)/(cols − 1) and rescaled by 1/p_r.
 */
export function dellaMagprune(delta: Float64Array, cols: number, density: number, epsilon: number, rescale: boolean, rng: Rng): void {
  if (density >= 1) return;
  if (density - epsilon <= 0 || density + epsilon >= 1) throw new Error(`della: density ± epsilon must lie in (0, 1), got ${density} ± ${epsilon}`);
  // Stryker disable next-line EqualityOperator: row <= delta.length adds an empty row past the end: its draws come after every real row's and its writes are past the end
  for (let row = 0; row < delta.length; row += cols) {
    const order = orderByMagnitude(delta, row, row + cols);
    for (let r = 0; r < cols; r++) {
      const p = cols > 1 ? density - epsilon + (2 * epsilon * r) / (cols - 1) : density;
      const i = order[r] as number;
      delta[i] = rng.next() < p ? (delta[i] as number) * (rescale ? 1 / p : 1) : 0;
    }
  }
}

/** Σ |a_i| in float64. */
export function l1Norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i] as number);
  return s;
}

/**
 * mergekit's `rescaled_masked_tensor` with the L1 norm (what `rescale: true` means for its magnitude-based
 * sparsifiers): scales the sparsified δ by ‖δ‖₁ / ‖sparsified δ‖₁, so that its L1 norm is the one it had
 * before; skipped when either norm is below 1e-7. `before` is ‖δ‖₁ taken before sparsifying.
 */
export function rescaleToL1(delta: Float64Array, before: number): void {
  const after = l1Norm(delta);
  if (before < 1e-7 || after < 1e-7) return;
  const scale = before / after;
  // Stryker disable next-line EqualityOperator: i <= delta.length writes delta[n], past the end of the Float64Array (a no-op)
  for (let i = 0; i < delta.length; i++) delta[i] = (delta[i] as number) * scale;
}

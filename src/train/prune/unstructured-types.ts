import { type NmPattern, satisfiesPattern, zeroCount } from './select.js';

/** One weight matrix [rows = out, cols = in] to prune to `ratio` zeros (or an N:M pattern). */
export interface PruneTensorInput {
  name: string;
  /** Not modified. */
  w: Float32Array;
  rows: number;
  cols: number;
  ratio: number;
  pattern?: NmPattern | undefined;
}

/**
 * The obligation every unstructured method meets: achieved sparsity within 0.1 % of the target. A tensor of
 * n < 1000 weights can only hit multiples of 1/n, so there the bound is 1/n (⌊r·n⌋ zeros).
 */
const SPARSITY_TOLERANCE = 1e-3;

export function sparsityTolerance(n: number): number {
  return Math.max(SPARSITY_TOLERANCE, 1 / Math.max(n, 1));
}

export function sparsityMet(input: PruneTensorInput, out: Float32Array): boolean {
  if (input.pattern) return satisfiesPattern(out, input.cols, input.pattern);
  return Math.abs(zeroCount(out) / out.length - input.ratio) <= sparsityTolerance(out.length);
}

/** Pruning that only zeroes: every output weight is the input weight or 0. */
export function onlyZeroed(input: PruneTensorInput, out: Float32Array): boolean {
  // Stryker disable next-line EqualityOperator: i <= out.length compares undefined with undefined (Object.is holds)
  for (let i = 0; i < out.length; i++) if (out[i] !== 0 && !Object.is(out[i], input.w[i])) return false;
  return true;
}

export const PRUNE_PRE = [
  ['ratio in [0, 1)', (i: PruneTensorInput) => i.ratio >= 0 && i.ratio < 1],
  ['w is rows × cols', (i: PruneTensorInput) => i.w.length === i.rows * i.cols],
  ['pattern divides the columns', (i: PruneTensorInput) => !i.pattern || i.cols % i.pattern.m === 0],
] as const;

/**
 * Pre- and postconditions shared by the quantizer contracts: whole blocks, finite values whose scale fits
 * the stored format, and per-element error bounds checked on the decoded output.
 */
import { f16ToF32 } from '../half.js';

/** Largest finite f16. */
export const F16_MAX = 65504;

export function wholeBlocks(blockSize: number): readonly [string, (x: Float32Array) => boolean] {
  return [`length is a multiple of ${blockSize}`, (x) => x.length % blockSize === 0];
}

/** Every value finite and |x| ≤ limit (the largest magnitude whose block scale still fits the format). */
export function finiteWithin(limit: number): readonly [string, (x: Float32Array) => boolean] {
  return [`finite values with |x| ≤ ${limit}`, (x) => {
    for (let i = 0; i < x.length; i++) {
      const v = x[i] ?? 0;
      if (!(Math.abs(v) <= limit)) return false;
    }
    return true;
  }];
}

export function halfAt(bytes: Uint8Array, o: number): number {
  return f16ToF32((bytes[o] ?? 0) | ((bytes[o + 1] ?? 0) << 8));
}

/** max |x| over x[from, from + n). */
export function absMax(x: Float32Array, from: number, n: number): number {
  let m = 0;
  for (let i = from; i < from + n; i++) m = Math.max(m, Math.abs(x[i] ?? 0));
  return m;
}

/**
 * Whether |x_i − y_i| ≤ bound(b) for every element i of every block b (blocks of `blockSize` values).
 * `bound` receives the block index; it is called once per block.
 */
export function withinBlockBound(x: Float32Array, y: Float32Array, blockSize: number, bound: (b: number) => number): boolean {
  for (let b = 0; b * blockSize < x.length; b++) {
    const limit = bound(b);
    for (let i = b * blockSize; i < (b + 1) * blockSize; i++) {
      if (!(Math.abs((x[i] ?? 0) - (y[i] ?? 0)) <= limit)) return false;
    }
  }
  return true;
}

/** A quantizer's input: the values and, optionally, llama.cpp's importance weights (one per column of a row). */
export interface QuantInput {
  x: Float32Array;
  imatrix?: Float32Array;
}

/** A clause on the values alone, as a clause on a QuantInput. */
export function onValues(clause: readonly [string, (x: Float32Array) => boolean]): readonly [string, (i: QuantInput) => boolean] {
  const [label, holds] = clause;
  return [label, (i) => holds(i.x)];
}

/** The importance weights, when given, are finite, ≥ 0, a whole number of `blockSize` blocks, and divide x into rows. */
export function imatrixRows(blockSize: number): readonly [string, (i: QuantInput) => boolean] {
  return [`importance weights: finite, ≥ 0, rows of whole ${blockSize}-value blocks dividing the values`, ({ x, imatrix }) => {
    if (imatrix === undefined) return true;
    const rows = imatrix.length > 0 && imatrix.length % blockSize === 0 && x.length % imatrix.length === 0;
    return rows && imatrix.every((w) => w >= 0 && Number.isFinite(w));
  }];
}

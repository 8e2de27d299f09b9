import { defineContract } from '../../contract/index.js';

interface SoftmaxInput {
  x: Float32Array;
  offset: number;
  length: number;
}

export const softmaxContract = defineContract<SoftmaxInput, Float32Array>({
  id: 'kernel-softmax-v1',
  equation: 'softmax',
  spec: 'x[i] ← exp(x[i] − max x) / Σ_j exp(x[j] − max x) over x[offset .. offset+length), float64 sums',
  pre: [
    ['length ≥ 1', ({ length }) => Number.isInteger(length) && length >= 1],
    ['range inside x', ({ x, offset, length }) => Number.isInteger(offset) && offset >= 0 && offset + length <= x.length],
    ['no NaN and not all −∞', ({ x, offset, length }) => maxOf(x, offset, length) > -Infinity],
  ],
  post: [
    ['entries in [0, 1]', ({ offset, length }, x) => inUnit(x, offset, length)],
    // Stryker disable next-line EqualityOperator: a sum in [0.5, 2] differs from 1 by a multiple of 2^-53 (any other sum by ≥ 0.5), never by exactly the double 1e-5, so < and ≤ agree
    ['sums to 1 within 1e-5', ({ offset, length }, x) => Math.abs(sumOf(x, offset, length) - 1) <= 1e-5],
  ],
});

function maxOf(x: Float32Array, offset: number, length: number): number {
  let m = -Infinity;
  for (let i = offset; i < offset + length; i++) {
    const v = x[i] as number;
    if (Number.isNaN(v)) return -Infinity;
    // Stryker disable next-line EqualityOperator: v equal to m leaves the maximum unchanged (−0 for +0 gives the same x − max)
    if (v > m) m = v;
  }
  return m;
}

function sumOf(x: Float32Array, offset: number, length: number): number {
  let s = 0;
  for (let i = offset; i < offset + length; i++) s += x[i] as number;
  return s;
}

function inUnit(x: Float32Array, offset: number, length: number): boolean {
  for (let i = offset; i < offset + length; i++) {
    const v = x[i] as number;
    if (!(v >= 0 && v <= 1)) return false;
  }
  return true;
}

/** Softmax of x[offset .. offset+length) in place; −∞ entries get probability 0. */
export function softmax(x: Float32Array, offset = 0, length = x.length - offset): Float32Array {
  return softmaxContract.run({ x, offset, length }, () => {
    const end = offset + length;
    const max = maxOf(x, offset, length);
    let sum = 0;
    for (let i = offset; i < end; i++) sum += Math.exp((x[i] as number) - max);
    const inv = 1 / sum;
    for (let i = offset; i < end; i++) x[i] = Math.exp((x[i] as number) - max) * inv;
    return x;
  });
}

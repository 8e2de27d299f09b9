/**
 * The element-wise kernels (src/kernels/cpu/elementwise.ts) against float64 formulas written here, with
 * buffers longer than `length` (n rows) so that a loop running one element (row) too far shows in the
 * sentinel past the end, and every pre/postcondition clause violated on its own.
 */
import { describe, expect, test } from 'vitest';
import { violatedClause } from '../helpers.js';
import { add, addBias, addBiasContract, addContract, geglu, gegluContract, scale, scaleContract, softcap, softcapContract, swiglu, swigluContract } from '../../src/kernels/cpu/elementwise.js';

function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * (hi - lo);
  return out;
}

const SENTINEL = 12.5;
/** `length` random values followed by `extra` sentinels. */
const padded = (length: number, seed: number, extra = 1, lo = -4, hi = 4): Float32Array => {
  const a = new Float32Array(length + extra).fill(SENTINEL);
  a.set(rand(length, seed, lo, hi));
  return a;
};

/** Every one of the first `want.length` entries equals want (float64) to `rel` relative; the rest are sentinels. */
function expectPrefix(got: Float32Array, want: number[], rel: number): void {
  want.forEach((w, i) => {
    if (!(Math.abs(got[i]! - w) <= Math.abs(w) * rel + 1e-30)) expect.fail(`[${i}] = ${got[i]}, want ${w}`);
  });
  expect(Array.from(got.subarray(want.length))).toEqual(Array(got.length - want.length).fill(SENTINEL));
}

// Computed in float64 and rounded once to float32: within half an ulp (2^-24 relative) of the float64 value,
// plus the float64 differences in exp/tanh (≪ 2^-24).
const ONE_ROUNDING = 2 ** -23;

describe('results against the float64 definitions; nothing written past length', () => {
  test.each([1, 5, 8])('[ob:add-exact] add, length %i', (length) => {
    const a = padded(length, 1);
    const b = padded(length, 2);
    const out = new Float32Array(length + 2).fill(SENTINEL);
    add(a, b, length, out);
    // the sum of two float32 values rounded once: exactly fround(a + b)
    expectPrefix(out, Array.from({ length }, (_, i) => Math.fround(a[i]! + b[i]!)), 0);
  });

  test('[ob:add-bias-definition] addBias over n rows of dim, rows past n untouched', () => {
    for (const [n, dim] of [[1, 1], [3, 5], [2, 8]] as const) {
      const x = padded(n * dim, 3, dim);
      const bias = padded(dim, 4);
      const want = Array.from({ length: n * dim }, (_, i) => Math.fround(x[i]! + bias[i % dim]!));
      addBias(x, bias, n, dim);
      expectPrefix(x, want, 0);
    }
  });

  test('[ob:swiglu-definition] swiglu = g / (1 + e^−g) · up', () => {
    for (const length of [1, 7]) {
      const gate = padded(length, 5);
      const up = padded(length, 6);
      const out = new Float32Array(length + 1).fill(SENTINEL);
      swiglu(gate, up, length, out);
      expectPrefix(out, Array.from({ length }, (_, i) => (gate[i]! / (1 + Math.exp(-gate[i]!))) * up[i]!), ONE_ROUNDING);
    }
  });

  test('[ob:geglu-definition] geglu = ½g(1 + tanh(√(2/π)(g + 0.044715g³))) · up', () => {
    for (const length of [1, 6]) {
      const gate = padded(length, 7);
      const up = padded(length, 8);
      const out = new Float32Array(length + 1).fill(SENTINEL);
      geglu(gate, up, length, out);
      const gelu = (g: number): number => 0.5 * g * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (g + 0.044715 * g ** 3)));
      expectPrefix(out, Array.from({ length }, (_, i) => gelu(gate[i]!) * up[i]!), ONE_ROUNDING);
    }
  });

  test('[ob:scale-definition] scale multiplies the first length values once', () => {
    for (const length of [1, 9]) {
      const x = padded(length, 9);
      const want = Array.from({ length }, (_, i) => Math.fround(x[i]! * 2.75));
      scale(x, length, 2.75);
      expectPrefix(x, want, 0);
    }
  });

  test('[ob:softcap-definition] softcap = c·tanh(x / c) on the first length values', () => {
    for (const length of [1, 9]) {
      const x = padded(length, 10, 1, -60, 60);
      const want = Array.from({ length }, (_, i) => 30 * Math.tanh(x[i]! / 30));
      softcap(x, length, 30);
      expectPrefix(x, want, ONE_ROUNDING);
    }
  });
});

describe('preconditions, each clause on its own', () => {
  const f = (n: number): Float32Array => new Float32Array(n);

  test.each([
    ['add', (a: Float32Array, b: Float32Array, length: number, out: Float32Array) => addContract.checkPre({ a, b, length, out })],
    ['swiglu', (gate: Float32Array, up: Float32Array, length: number, out: Float32Array) => swigluContract.checkPre({ gate, up, length, out })],
    ['geglu', (gate: Float32Array, up: Float32Array, length: number, out: Float32Array) => gegluContract.checkPre({ gate, up, length, out })],
  ] as const)('%s: length ≥ 0 and every buffer holds length floats', (_name, check) => {
    const pre = (a: number, b: number, length: number, out: number): string => violatedClause(() => check(f(a), f(b), length, f(out)));
    expect(pre(4, 4, 4, 4)).toBe('none');
    expect(pre(0, 0, 0, 0)).toBe('none');
    for (const [a, b, length, out] of [[4, 4, -1, 4], [3, 4, 4, 4], [4, 3, 4, 4], [4, 4, 4, 3]] as const) {
      expect(pre(a, b, length, out)).toBe('buffers hold length floats');
    }
  });

  test('addBias: n ≥ 0, x holds n·dim, bias holds dim', () => {
    const pre = (x: number, bias: number, n: number, dim: number): string => violatedClause(() => addBiasContract.checkPre({ x: f(x), bias: f(bias), n, dim }));
    expect(pre(6, 3, 2, 3)).toBe('none');
    expect(pre(0, 3, 0, 3)).toBe('none');
    expect(pre(6, 3, -1, 3)).toBe('x holds n·dim floats');
    expect(pre(5, 3, 2, 3)).toBe('x holds n·dim floats');
    expect(pre(6, 2, 2, 3)).toBe('bias holds dim floats');
  });

  test('scale and softcap: length ≥ 0 and x holds it; a finite cap > 0', () => {
    for (const contract of [scaleContract, softcapContract]) {
      const pre = (x: number, length: number): string => violatedClause(() => contract.checkPre({ x: f(x), length, s: 2 }));
      expect(pre(3, 3)).toBe('none');
      expect(pre(0, 0)).toBe('none');
      expect(pre(3, -1)).toBe('x holds length floats');
      expect(pre(2, 3)).toBe('x holds length floats');
    }
    const cap = (s: number): string => violatedClause(() => softcapContract.checkPre({ x: f(2), length: 2, s }));
    expect(cap(0.5)).toBe('none');
    for (const s of [0, -1, Number.POSITIVE_INFINITY, Number.NaN]) expect(cap(s)).toBe('cap finite and > 0');
  });
});

describe('postconditions', () => {
  test('addBias: every one of the n·dim outputs finite (not only the first n/dim)', () => {
    const post = (i: number): string => {
      const x = new Float32Array(7);
      x[i] = Number.NaN;
      return violatedClause(() => addBiasContract.checkPost({ x, bias: new Float32Array(3), n: 2, dim: 3 }, x));
    };
    expect(post(6)).toBe('none');
    expect(post(5)).toBe('finite output');
  });

  test('softcap: every |x| ≤ cap over the first length values', () => {
    const post = (vals: number[]): string => violatedClause(() => softcapContract.checkPost({ x: new Float32Array(), length: 2, s: 2 }, Float32Array.from(vals)));
    expect(post([0.5, -2, 9])).toBe('none');
    expect(post([0.5, 2.5])).toBe('|x| < cap');
    expect(post([-3, 1])).toBe('|x| < cap');
  });
});

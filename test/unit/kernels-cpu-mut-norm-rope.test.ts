/**
 * RMSNorm, RoPE and softmax (src/kernels/cpu/norm.ts, rope.ts, softmax.ts) against float64 formulas written
 * here: the last row, rows (elements) past n (the range) left untouched, a softmax range inside a longer
 * array, and every pre/postcondition clause violated on its own.
 */
import { describe, expect, test } from 'vitest';
import { violatedClause } from '../helpers.js';
import { rmsnorm, rmsnormContract } from '../../src/kernels/cpu/norm.js';
import { rope, ropeContract } from '../../src/kernels/cpu/rope.js';
import { softmax, softmaxContract } from '../../src/kernels/cpu/softmax.js';

function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * (hi - lo);
  return out;
}

const f = (n: number): Float32Array => new Float32Array(n);
const SENTINEL = -3.5;

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: (w: number) => number): void {
  for (let i = 0; i < want.length; i++) {
    const w = want[i]!;
    if (!(Math.abs(got[i]! - w) <= tol(w))) expect.fail(`[${i}] = ${got[i]}, want ${w}`);
  }
}

describe('rmsnorm', () => {
  test('[ob:rmsnorm-definition] out = w·x/√(mean x² + eps) on every row, the last included; out past n·dim untouched', () => {
    for (const [n, dim] of [[1, 1], [3, 5], [2, 16]] as const) {
      const x = rand((n + 1) * dim, 11 + dim, -2, 2);
      const w = rand(dim, 12 + dim, 0.5, 1.5);
      const out = f((n + 1) * dim).fill(SENTINEL);
      rmsnorm(x, w, 1e-5, n, dim, out);
      const want: number[] = [];
      for (let t = 0; t < n; t++) {
        const row = Array.from(x.subarray(t * dim, (t + 1) * dim));
        const r = 1 / Math.sqrt(row.reduce((a, v) => a + v * v, 0) / dim + 1e-5);
        row.forEach((v, i) => want.push(w[i]! * v * r));
      }
      // float64 then one float32 rounding
      expectClose(out, want, (v) => Math.abs(v) * 2 ** -23);
      expect(Array.from(out.subarray(n * dim))).toEqual(Array(dim).fill(SENTINEL));
    }
  });

  test('preconditions, each clause on its own', () => {
    const pre = (o: Partial<{ x: Float32Array; weight: Float32Array; eps: number; n: number; dim: number; out: Float32Array }>): string =>
      violatedClause(() => rmsnormContract.checkPre({ x: f(6), weight: f(3), eps: 1e-6, n: 2, dim: 3, out: f(6), ...o }));
    expect(pre({})).toBe('none');
    expect(pre({ n: 0 })).toBe('none');
    for (const eps of [0, -1e-6]) expect(pre({ eps })).toBe('eps > 0');
    for (const o of [{ dim: 0, n: 1 }, { n: -1 }]) expect(pre(o)).toBe('dim ≥ 1 and n ≥ 0');
    for (const o of [{ x: f(5) }, { out: f(5) }]) expect(pre(o)).toBe('x and out hold n·dim floats');
    expect(pre({ weight: f(2) })).toBe('weight holds dim floats');
  });

  test('postcondition: every one of the n·dim outputs finite', () => {
    const post = (i: number): string => {
      const out = f(7);
      out[i] = Number.POSITIVE_INFINITY;
      return violatedClause(() => rmsnormContract.checkPost({ x: f(6), weight: f(3), eps: 1e-6, n: 2, dim: 3, out }, out));
    };
    expect(post(6)).toBe('none');
    expect(post(5)).toBe('finite output');
  });
});

describe('rope', () => {
  test('[ob:rope-rotate-half] [ob:rope-partial] every row rotated at its position, the tail past rotaryDim and rows past n untouched', () => {
    for (const [n, heads, headDim, rotaryDim, startPos] of [[1, 1, 2, 2, 0], [3, 2, 6, 6, 5], [2, 3, 8, 4, 11]] as const) {
      const x = rand((n + 1) * heads * headDim, 21 + startPos);
      x.fill(SENTINEL, n * heads * headDim);
      const orig = Float32Array.from(x);
      rope(x, n, heads, headDim, startPos, 10000, rotaryDim);
      const half = rotaryDim / 2;
      const want = Array.from(orig);
      for (let t = 0; t < n; t++) for (let h = 0; h < heads; h++) for (let i = 0; i < half; i++) {
        const o = (t * heads + h) * headDim;
        const ang = (startPos + t) / 10000 ** ((2 * i) / rotaryDim);
        const [a, b] = [orig[o + i]!, orig[o + i + half]!];
        want[o + i] = a * Math.cos(ang) - b * Math.sin(ang);
        want[o + i + half] = b * Math.cos(ang) + a * Math.sin(ang);
      }
      // float32 inverse frequencies and angles (as transformers): |Δangle| ≤ 16·2^-23 here, |x| ≤ 1
      expectClose(x, want, () => 1e-5);
      // untouched values are the same floats, not merely close
      for (let i = 0; i < x.length; i++) if (want[i] === orig[i]) expect(x[i]).toBe(orig[i]);
    }
  });

  test('preconditions, each clause on its own', () => {
    const pre = (o: Partial<{ x: Float32Array; n: number; heads: number; headDim: number; startPos: number; theta: number; rotaryDim: number }>): string =>
      violatedClause(() => ropeContract.checkPre({ x: f(16), n: 2, heads: 2, headDim: 4, startPos: 3, theta: 1e4, rotaryDim: 4, ...o }));
    expect(pre({})).toBe('none');
    expect(pre({ n: 0, rotaryDim: 2 })).toBe('none');
    for (const headDim of [0, 3]) expect(pre({ headDim, rotaryDim: 2 })).toBe('head dim even');
    for (const rotaryDim of [0, 3, 6]) expect(pre({ rotaryDim })).toBe('rotaryDim even, in [2, headDim]');
    for (const theta of [0, -10]) expect(pre({ theta })).toBe('theta > 0');
    for (const startPos of [1.5, -1]) expect(pre({ startPos })).toBe('startPos ≥ 0');
    for (const o of [{ n: -1 }, { x: f(15) }]) expect(pre(o)).toBe('x holds n·heads·headDim floats');
  });

  test('postcondition: every one of the n·heads·headDim values finite', () => {
    const post = (i: number): string => {
      const x = f(17);
      x[i] = Number.NaN;
      return violatedClause(() => ropeContract.checkPost({ x, n: 2, heads: 2, headDim: 4, startPos: 0, theta: 1e4, rotaryDim: 4 }, x));
    };
    expect(post(16)).toBe('none');
    expect(post(15)).toBe('finite output');
  });
});

describe('softmax', () => {
  const ref = (v: number[]): number[] => {
    const m = Math.max(...v);
    const e = v.map((x) => Math.exp(x - m));
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / z);
  };
  // float64 sums, one float32 rounding per entry
  const tol = (w: number): number => Math.abs(w) * 2 ** -23 + 1e-12;

  test('[ob:softmax-sums-to-one] a range inside a longer array: the range normalised, the rest untouched', () => {
    const x = Float32Array.from([9, 0.5, -1, 2, 0.25, 40, Number.NaN]);
    const want = ref([0.5, -1, 2, 0.25]);
    softmax(x, 1, 4);
    expectClose(x.subarray(1, 5), want, tol);
    expect(x[0]).toBe(9);
    expect(x[5]).toBe(40);
    expect(x[6]).toBeNaN();
  });

  test('the default length runs from offset to the end', () => {
    const x = Float32Array.from([100, 1, 2, 3]);
    softmax(x, 2);
    expect(x[0]).toBe(100);
    expect(x[1]).toBe(1);
    expectClose(x.subarray(2), ref([2, 3]), tol);
  });

  test('a huge or NaN value just past the range plays no part', () => {
    const a = Float32Array.from([0.5, -0.25, 1e30]);
    softmax(a, 0, 2);
    expectClose(a, ref([0.5, -0.25]), tol);
    const b = Float32Array.from([0, 0, Number.NaN]);
    softmax(b, 0, 2);
    expect(Array.from(b.subarray(0, 2))).toEqual([0.5, 0.5]);
  });

  test('preconditions, each clause on its own', () => {
    const pre = (vals: number[], offset: number, length: number): string => violatedClause(() => softmaxContract.checkPre({ x: Float32Array.from(vals), offset, length }));
    const x4 = [0, 1, 2, 3];
    expect(pre(x4, 0, 4)).toBe('none');
    expect(pre([Number.NEGATIVE_INFINITY, 0], 0, 2)).toBe('none');
    for (const length of [0, 1.5]) expect(pre(x4, 0, length)).toBe('length ≥ 1');
    for (const [offset, length] of [[1.5, 1], [-1, 1], [3, 2]] as const) expect(pre(x4, offset, length)).toBe('range inside x');
    expect(pre([Number.NEGATIVE_INFINITY, Number.NEGATIVE_INFINITY], 0, 2)).toBe('no NaN and not all −∞');
    expect(pre([1, Number.NaN, 0], 0, 3)).toBe('no NaN and not all −∞');
  });

  test('postconditions: entries in [0, 1] checked before the sum', () => {
    const post = (vals: number[]): string => violatedClause(() => softmaxContract.checkPost({ x: f(0), offset: 0, length: vals.length }, Float32Array.from(vals)));
    expect(post([0.25, 0.75])).toBe('none');
    expect(post([1])).toBe('none');
    // above 1 with no negative entry; below 0 with the sum still 1
    expect(post([1.5])).toBe('entries in [0, 1]');
    expect(post([-0.5, 0.75, 0.75])).toBe('entries in [0, 1]');
    expect(post([Number.NaN, 1])).toBe('entries in [0, 1]');
    expect(post([0.5, 0.25])).toBe('sums to 1 within 1e-5');
  });
});

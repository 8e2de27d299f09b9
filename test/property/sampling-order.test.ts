import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { kthLargest, orderByProbability } from '../../src/model/prob-order.js';

/**
 * The sampling order (decreasing probability, ties by increasing id) and the top-k threshold, against the
 * definitions written out with a comparison sort and a full sort. Values include repeats (ties), 0, the
 * smallest subnormal, 1 and values that differ only in their lowest mantissa bits, so every 16-bit digit of
 * the radix sort decides somewhere.
 */

const special = [0, Number.MIN_VALUE, 1e-300, 0.25, 0.25 + 2 ** -54, 0.5, 1];
const prob = fc.oneof(fc.constantFrom(...special), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 5 }).map((k) => k / 8));

describe('sampling order', () => {
  test('[ob:sampling-order-exact] orderByProbability equals the comparison sort, below and above the radix cut-over', () => {
    fc.assert(
      fc.property(fc.array(prob, { minLength: 1, maxLength: 300 }), fc.integer({ min: 0, max: 3 }), (values, drop) => {
        const p = Float64Array.from(values);
        const ids = Array.from({ length: p.length }, (_, i) => i).filter((i) => i % 4 !== drop || p.length < 8);
        const want = [...ids].sort((a, b) => (p[b] as number) - (p[a] as number) || a - b);
        expect(orderByProbability(p, ids)).toEqual(want);
      }),
      { numRuns: 300 },
    );
  });

  test('[ob:sampling-order-exact] a 32 k vocabulary of softmax-like values with many exact repeats', () => {
    const p = Float64Array.from({ length: 32000 }, (_, i) => Math.exp(-((i * 7919) % 4001) / 300) * (i % 5 === 0 ? 1 : 1 + 2 ** -52));
    const ids = Array.from({ length: p.length }, (_, i) => i);
    const want = [...ids].sort((a, b) => (p[b] as number) - (p[a] as number) || a - b);
    expect(orderByProbability(p, ids)).toEqual(want);
  });

  test('[ob:sampling-order-exact] kthLargest equals the k-th largest of a full sort, repeats counted', () => {
    fc.assert(
      fc.property(fc.array(prob, { minLength: 1, maxLength: 400 }), fc.nat(), (values, r) => {
        const p = Float64Array.from(values);
        const k = 1 + (r % p.length);
        expect(kthLargest(p, k)).toBe(Float64Array.from(p).sort()[p.length - k]);
      }),
      { numRuns: 400 },
    );
  });
});

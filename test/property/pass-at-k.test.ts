import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ContractViolation } from '../../src/contract/index.js';
import { passAtK } from '../../src/ops/pass-at-k.js';

/** Exact 1 − C(n−c,k)/C(n,k) with BigInt binomials: the definition, independent of the stable form. */
function binom(n: number, k: number): bigint {
  if (k < 0 || k > n) return 0n;
  let r = 1n;
  for (let i = 1; i <= k; i++) r = (r * BigInt(n - k + i)) / BigInt(i);
  return r;
}
function exactPassAtK(n: number, c: number, k: number): number {
  const num = binom(n - c, k);
  const den = binom(n, k);
  // 1 − num/den with 60 bits of fraction before converting to a double
  const scaled = ((den - num) << 60n) / den;
  return Number(scaled) / 2 ** 60;
}

const domain = fc
  .integer({ min: 1, max: 200 })
  .chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n }), fc.integer({ min: 1, max: n })));

describe('pass@k estimator (eval-pass-at-k-v1)', () => {
  it('stays in [0, 1] [ob:passk-range]', () => {
    fc.assert(fc.property(domain, ([n, c, k]) => {
      const p = passAtK(n, c, k);
      return p >= 0 && p <= 1;
    }), { numRuns: 2000 });
  });

  it('equals the binomial definition within 1e-12 [ob:passk-exact]', () => {
    fc.assert(fc.property(domain, ([n, c, k]) => Math.abs(passAtK(n, c, k) - exactPassAtK(n, c, k)) <= 1e-12), { numRuns: 2000 });
  });

  it('is monotone in c and in k [ob:passk-monotone]', () => {
    fc.assert(fc.property(domain, ([n, c, k]) => {
      const p = passAtK(n, c, k);
      const moreCorrect = c < n ? passAtK(n, c + 1, k) >= p : true;
      const biggerBudget = k < n ? passAtK(n, c, k + 1) >= p : true;
      return moreCorrect && biggerBudget;
    }), { numRuns: 2000 });
  });

  it('handles the boundaries exactly [ob:passk-boundaries]', () => {
    fc.assert(fc.property(domain, ([n, c, k]) => {
      if (passAtK(n, 0, k) !== 0) return false;
      if (n - c < k && passAtK(n, c, k) !== 1) return false;
      return Math.abs(passAtK(n, c, 1) - c / n) <= 1e-15;
    }), { numRuns: 2000 });
    // Chen et al.'s worked numbers: n=200, c=10 (HumanEval-style), published in evaluation harnesses.
    expect(passAtK(10, 3, 1)).toBeCloseTo(0.3, 15);
    expect(passAtK(5, 2, 2)).toBeCloseTo(1 - 3 / 10, 15);
  });

  it('rejects inputs outside the domain with a ContractViolation', () => {
    expect(() => passAtK(5, 6, 1)).toThrow(ContractViolation);
    expect(() => passAtK(5, 2, 0)).toThrow(/1 ≤ k ≤ n/);
    expect(() => passAtK(5.5, 2, 1)).toThrow(/non-negative integers/);
  });
});

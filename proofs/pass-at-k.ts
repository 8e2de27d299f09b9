/**
 * The pass@k estimator as src/eval/pass-at-k.ts computes it (Chen et al. 2021, stable form):
 *   if (n - c < k) return 1; prod = 1; for (i = n - c + 1; i <= n; i++) prod *= 1 - k / i; return 1 - prod
 * over the reals, for all integers 1 ≤ k ≤ n ≤ bound, 0 ≤ c ≤ n (the loop unrolled to the bound).
 */
import { allOf, defineProofs, type ProofSession, type Z3Arith, type Z3Bool, type Z3Ctx } from '../src/contract/pv/harness.js';

const CONTRACT = 'eval-pass-at-k-v1';

/** passAtKEstimate(n, c, k) for symbolic n, c and symbolic k ∈ [1, bound] (one linear product per value of k). */
export function passAtK(ctx: Z3Ctx, n: Z3Arith, c: Z3Arith, k: Z3Arith, bound: number, plant?: string): Z3Arith {
  let byK: Z3Arith = ctx.Real.val(0);
  for (let kv = bound; kv >= 1; kv--) {
    let prod: Z3Arith = ctx.Real.val(1);
    for (let i = 1; i <= bound; i++) {
      // Exact rationals: (i − k)/i, or the planted (k − i)/k.
      const factor = plant === 'k-over-i-swapped' ? ctx.Real.val({ numerator: kv - i, denominator: kv }) : ctx.Real.val({ numerator: i - kv, denominator: i });
      prod = ctx.If(ctx.And(n.sub(c).add(1).le(i), n.ge(i)), prod.mul(factor), prod);
    }
    byK = ctx.If(k.eq(kv), plant === 'one-minus-dropped' ? prod : ctx.Real.val(1).sub(prod), byK);
  }
  return ctx.If(n.sub(c).lt(k), ctx.Real.val(1), byK);
}

function domain(ctx: Z3Ctx, n: Z3Arith, c: Z3Arith, k: Z3Arith, bound: number): Z3Bool {
  return ctx.And(n.ge(1), n.le(bound), c.ge(0), c.le(n), k.ge(1), k.le(n));
}

async function range(z: ProofSession, bound: number, plant?: string) {
  const { ctx } = z;
  const [n, c, k] = ['n', 'c', 'k'].map((s) => ctx.Int.const(s)) as [Z3Arith, Z3Arith, Z3Arith];
  const p = passAtK(ctx, n, c, k, bound, plant);
  return z.check(ctx.And(p.ge(0), p.le(1)), { given: [domain(ctx, n, c, k, bound)], show: { n, c, k, p }, label: '0 ≤ pass@k ≤ 1' });
}

async function monotone(z: ProofSession, bound: number, plant?: string) {
  const { ctx } = z;
  const [n, c, k] = ['n', 'c', 'k'].map((s) => ctx.Int.const(s)) as [Z3Arith, Z3Arith, Z3Arith];
  const p = passAtK(ctx, n, c, k, bound, plant);
  const moreCorrect = passAtK(ctx, n, c.add(1), k, bound, plant);
  const largerK = passAtK(ctx, n, c, k.add(1), bound, plant);
  return allOf([
    () => z.check(p.le(moreCorrect), { given: [domain(ctx, n, c, k, bound), c.lt(n)], show: { n, c, k, p, p_c_plus_1: moreCorrect }, label: 'non-decreasing in c' }),
    () => z.check(p.le(largerK), { given: [domain(ctx, n, c, k, bound), k.lt(n)], show: { n, c, k, p, p_k_plus_1: largerK }, label: 'non-decreasing in k' }),
  ]);
}

export const proofs = defineProofs([
  {
    id: 'PF-passk-range', contract: CONTRACT, obligation: 'passk-range', bound: 10,
    title: '0 ≤ pass@k ≤ 1 for all 1 ≤ k ≤ n ≤ bound, 0 ≤ c ≤ n (stable product form, reals)',
    plants: { 'k-over-i-swapped': 'factor written 1 − i/k' },
    run: (z, o) => range(z, Math.max(1, o.bound), o.plant),
  },
  {
    id: 'PF-passk-monotone', contract: CONTRACT, obligation: 'passk-monotone', bound: 10,
    title: 'pass@k never decreases when c or k grows, for all n ≤ bound (stable product form, reals)',
    plants: { 'one-minus-dropped': 'returns the product instead of 1 − product' },
    run: (z, o) => monotone(z, Math.max(1, o.bound), o.plant),
  },
]);

/**
 * softmax over the reals, as src/kernels/cpu/softmax.ts computes it: e_i = exp(x_i − max), sum = Σ e_i,
 * inv = 1/sum, p_i = e_i · inv. exp is abstracted by the only facts used: exp(v) ∈ [0, 1] for v ≤ 0 (0 for
 * v = −∞) and exp(0) = 1 at the maximum — a sound over-approximation. Three z3 steps:
 * (1) for every length ≤ bound, the kernel's sum is ≥ 1 and ≥ each term (linear);
 * (2) for every length ≤ bound, Σ p_i = inv · sum (the loop's products, a ring identity);
 * (3) for any 0 ≤ e ≤ sum with sum ≥ 1 and inv·sum = 1: 0 ≤ e·inv ≤ 1.
 */
import { allOf, defineProofs, type ProofSession, type Z3Arith, type Z3Bool } from '../src/contract/pv/harness.js';

function vector(z: ProofSession, bound: number, plant?: string) {
  const { ctx } = z;
  const len = ctx.Int.const('length');
  const e = Array.from({ length: bound }, (_, i) => ctx.Real.const(`e${i}`));
  const active = (i: number): Z3Bool => len.gt(i);
  const zero = ctx.Real.val(0);
  const sum = e.map((v, i) => ctx.If(active(i), i === 0 && plant === 'skip-first' ? zero : v, zero)).reduce<Z3Arith>((a, b) => a.add(b), zero);
  const domain = [len.ge(1), len.le(bound), ...e.map((v) => ctx.And(v.ge(0), v.le(1))), ctx.Or(...e.map((v, i) => ctx.And(active(i), v.eq(1))))];
  const show = { length: len, ...Object.fromEntries(e.map((v, i) => [`e${i}`, v])) };
  return { ctx, len, e, active, zero, sum, domain, show };
}

function sumBounds(z: ProofSession, bound: number, plant?: string) {
  const { ctx, e, active, sum, domain, show } = vector(z, bound, plant);
  const claim = ctx.And(sum.ge(1), ...e.map((v, i) => ctx.Implies(active(i), v.le(sum))));
  return z.check(claim, { given: domain, show, label: 'sum ≥ 1 and sum ≥ every term' });
}

function sumOfProducts(z: ProofSession, bound: number, plant?: string) {
  const { ctx, e, active, zero, sum, domain, show } = vector(z, bound, plant);
  const inv = ctx.Real.const('inv');
  // The loop's terms, named: t_i = e_i for i < length, else 0 (so the identity is polynomial in t and inv).
  const t = e.map((_, i) => ctx.Real.const(`t${i}`));
  const terms = t.map((ti, i) => ti.eq(ctx.If(active(i), e[i] ?? zero, zero)));
  const total = t.reduce<Z3Arith>((a, ti) => a.add(ti.mul(inv)), zero);
  const loopSum = t.reduce<Z3Arith>((a, ti) => a.add(ti), zero);
  return z.check(ctx.And(total.eq(inv.mul(loopSum)), loopSum.eq(sum)), { given: [...domain, ...terms], show, label: 'Σ e_i·inv = inv·sum' });
}

function quotient(z: ProofSession) {
  const { ctx } = z;
  const [e, s, inv] = ['e', 'sum', 'inv'].map((n) => ctx.Real.const(n)) as [Z3Arith, Z3Arith, Z3Arith];
  const p = e.mul(inv);
  return z.check(ctx.And(p.ge(0), p.le(1)), { given: [e.ge(0), e.le(s), s.ge(1), inv.mul(s).eq(1)], show: { e, sum: s }, label: '0 ≤ e·(1/sum) ≤ 1' });
}

export const proofs = defineProofs([
  {
    id: 'PF-softmax-range', contract: 'kernel-softmax-v1', obligation: 'softmax-range', bound: 12,
    title: 'max-shifted softmax outputs lie in [0, 1] and sum to 1 (reals, every length ≤ bound)',
    plants: { 'skip-first': 'the normalizing sum leaves out element 0' },
    run: (z, o) => {
      const n = Math.max(1, o.bound);
      return allOf([() => sumBounds(z, n, o.plant), () => sumOfProducts(z, n, o.plant), () => quotient(z)]);
    },
  },
]);

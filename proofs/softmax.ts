/**
 * softmax over the reals, as src/kernels/cpu/softmax.ts computes it: e_i = exp(x_i − max), sum = Σ e_i,
 * inv = 1/sum, p_i = e_i · inv. exp is abstracted by the only facts used: exp(v) ∈ [0, 1] for v ≤ 0 (0 for
 * v = −∞) and exp(0) = 1 at the maximum — a sound over-approximation. Vectors of every length ≤ bound.
 */
import { defineProofs, type ProofSession, type Z3Arith, type Z3Bool } from '../src/contract/pv/harness.js';

async function softmaxRange(z: ProofSession, bound: number, plant?: string) {
  const { ctx } = z;
  const len = ctx.Int.const('length');
  const e = Array.from({ length: bound }, (_, i) => ctx.Real.const(`e${i}`));
  const active = (i: number): Z3Bool => len.gt(i);
  const sumTerms = e.map((v, i) => ctx.If(active(i), i === 0 && plant === 'skip-first' ? ctx.Real.val(0) : v, ctx.Real.val(0)));
  const sum = sumTerms.reduce<Z3Arith>((a, b) => a.add(b), ctx.Real.val(0));
  const inv = ctx.Real.const('inv');
  const p = e.map((v) => v.mul(inv));
  const given = [len.ge(1), len.le(bound), inv.mul(sum).eq(1), ...e.map((v) => ctx.And(v.ge(0), v.le(1))), ctx.Or(...e.map((v, i) => ctx.And(active(i), v.eq(1))))];
  const total = p.map((v, i) => ctx.If(active(i), v, ctx.Real.val(0))).reduce<Z3Arith>((a, b) => a.add(b), ctx.Real.val(0));
  const claim = ctx.And(...p.map((v, i) => ctx.Implies(active(i), ctx.And(v.ge(0), v.le(1)))), total.eq(1));
  return z.check(claim, { given, show: { length: len, ...Object.fromEntries(e.map((v, i) => [`e${i}`, v])) }, label: 'p_i in [0, 1] and Σ p_i = 1' });
}

export const proofs = defineProofs([
  {
    id: 'PF-softmax-range', contract: 'kernel-softmax-v1', obligation: 'softmax-range', bound: 8,
    title: 'max-shifted softmax outputs lie in [0, 1] and sum to 1 (reals, every length ≤ bound)',
    plants: { 'skip-first': 'the normalizing sum leaves out element 0' },
    run: (z, o) => softmaxRange(z, Math.max(1, o.bound), o.plant),
  },
]);

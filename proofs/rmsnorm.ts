/**
 * RMSNorm over the reals, as src/kernels/cpu/norm.ts computes it (weight = 1): ss = Σ x_i², ms = ss/dim,
 * r = 1/√(ms + eps), y_i = x_i · r. The square root is given by its defining facts r > 0, r²·(ms + eps) = 1.
 * Nonlinear real arithmetic over many variables stalls z3, so the proof has two steps, each checked by z3:
 * (1) for every dim ≤ bound, the kernel's unrolled loops give Σ y_i² = r²·ss and the mean it divides by is ss/dim;
 * (2) for every dim ≥ 1, from those facts alone: mean(y²)·(ms + eps) = ms, so the output RMS is √(ms/(ms+eps)) < 1.
 */
import { allOf, defineProofs, type ProofOutcome, type ProofSession, type Z3Arith } from '../src/contract/pv/harness.js';

function sumSquares(z: ProofSession, v: readonly Z3Arith[]): Z3Arith {
  return v.reduce<Z3Arith>((a, t) => a.add(t.mul(t)), z.ctx.Real.val(0));
}

function unrolled(z: ProofSession, dim: number, plant?: string): Promise<ProofOutcome> {
  const { ctx } = z;
  const x = Array.from({ length: dim }, (_, i) => ctx.Real.const(`x${i}`));
  const r = ctx.Real.const('r');
  const ss = sumSquares(z, x);
  const ms = plant === 'sum-not-mean' ? ss : ss.div(dim);
  const y = x.map((v) => v.mul(r));
  const claim = ctx.And(ms.mul(dim).eq(ss), sumSquares(z, y).eq(r.mul(r).mul(ss)));
  return z.check(claim, { show: { dim: ctx.Int.val(dim), ...Object.fromEntries(x.map((v, i) => [`x${i}`, v])) }, label: `dim ${dim}: sums` });
}

function scaled(z: ProofSession): Promise<ProofOutcome> {
  const { ctx } = z;
  const [ss, r, eps] = ['ss', 'r', 'eps'].map((n) => ctx.Real.const(n)) as [Z3Arith, Z3Arith, Z3Arith];
  const dim = ctx.Int.const('dim');
  const ms = ss.div(ctx.ToReal(dim));
  const r2 = r.mul(r);
  const claim = r2.mul(ss).div(ctx.ToReal(dim)).mul(ms.add(eps)).eq(ms);
  return z.check(claim, { given: [dim.ge(1), eps.gt(0), ss.ge(0), r.gt(0), r2.mul(ms.add(eps)).eq(1)], show: { dim, ss, eps }, label: 'mean(y²)·(ms + eps) = ms' });
}

export const proofs = defineProofs([
  {
    id: 'PF-rmsnorm-scale', contract: 'kernel-rmsnorm-v1', obligation: 'rmsnorm-normalizes', bound: 8,
    title: 'RMSNorm output has mean square ms/(ms + eps) < 1 (reals; loops unrolled for every dim ≤ bound, scaling step for all dims)',
    plants: { 'sum-not-mean': 'divides by √(Σx² + eps) instead of √(mean x² + eps)' },
    run: (z, o) => allOf([...Array.from({ length: Math.max(1, o.bound) }, (_, k) => () => unrolled(z, k + 1, o.plant)), () => scaled(z)]),
  },
]);

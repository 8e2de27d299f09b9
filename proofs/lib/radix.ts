import type { ProofOutcome, ProofSession, Z3Arith, Z3Bool, Z3Ctx } from '../../src/contract/pv/harness.js';

/**
 * The mixed-radix lemma behind every row-major offset: 0 ≤ x < X ∧ 0 ≤ y < Y ⇒ 0 ≤ x·Y + y < X·Y.
 * Nonlinear integer arithmetic defeats z3 when several such products are nested, so harnesses prove the
 * lemma once in general (`proveRadixLemma`) and then hand z3 its instances (`radixInstance`) as facts.
 */
export function radixInstance(ctx: Z3Ctx, x: Z3Arith, X: Z3Arith, y: Z3Arith, Y: Z3Arith): Z3Bool {
  return ctx.Implies(ctx.And(x.ge(0), x.lt(X), y.ge(0), y.lt(Y)), ctx.And(x.mul(Y).add(y).ge(0), x.mul(Y).add(y).lt(X.mul(Y))));
}

export function proveRadixLemma(z: ProofSession): Promise<ProofOutcome> {
  const { ctx } = z;
  const [x, X, y, Y] = ['x', 'X', 'y', 'Y'].map((n) => ctx.Int.const(`lemma_${n}`)) as [Z3Arith, Z3Arith, Z3Arith, Z3Arith];
  return z.check(radixInstance(ctx, x, X, y, Y), { show: { x, X, y, Y }, label: 'mixed-radix lemma' });
}

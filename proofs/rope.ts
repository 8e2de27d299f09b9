/**
 * Index arithmetic of rotary embeddings in Hugging Face's rotate_half form (src/kernels/cpu/rope.ts): the
 * pairs (i, i + d/2), the row offsets and the cos/sin table index, for all shapes (unbounded integers).
 */
import { allOf, defineProofs, type ProofSession, type Z3Arith } from '../src/contract/pv/harness.js';
import { proveRadixLemma, radixInstance } from './lib/radix.js';

/** rope(): `o = (r * heads + h) * headDim`; element i pairs with `i + half`; cos/sin at `(startPos + r) * half + i`. */
export function ropeIndex(r: Z3Arith, h: Z3Arith, i: Z3Arith, heads: Z3Arith, half: Z3Arith, sp: Z3Arith, plant?: string) {
  const d = half.mul(2);
  const o = r.mul(heads).add(h).mul(d);
  const partner = i.add(half).add(plant === 'partner-plus-one' ? 1 : 0);
  return { o, a: o.add(i), b: o.add(partner), partner, table: sp.add(r).mul(half).add(i) };
}

async function ropeProof(z: ProofSession, plant?: string) {
  const { ctx } = z;
  const [n, heads, half, sp, r, h, i, i2, positions] = ['n', 'heads', 'half', 'startPos', 'r', 'h', 'i', 'i2', 'positions'].map((s) => ctx.Int.const(s)) as [Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith];
  const p = ropeIndex(r, h, i, heads, half, sp, plant);
  const p2 = ropeIndex(r, h, i2, heads, half, sp, plant);
  const d = half.mul(2);
  const dom = [half.ge(1), heads.ge(1), n.ge(1), r.ge(0), r.lt(n), h.ge(0), h.lt(heads), i.ge(0), i.lt(half), sp.ge(0), positions.ge(sp.add(n))];
  const lemmas = [radixInstance(ctx, r, n, h, heads), radixInstance(ctx, r.mul(heads).add(h), n.mul(heads), p.partner, d), radixInstance(ctx, sp.add(r), positions, i, half)];
  const show = { n, heads, headDim: d, startPos: sp, r, h, i };
  return allOf([
    () => proveRadixLemma(z),
    () => z.check(ctx.And(p.a.ge(0), p.b.lt(n.mul(heads).mul(d)), p.table.ge(0), p.table.lt(positions.mul(half))), { given: [...dom, ...lemmas], show, label: 'x and cos/sin table accesses in bounds' }),
    () => z.check(ctx.And(p.partner.ge(half), p.partner.lt(d), ctx.Implies(p.partner.eq(p2.partner), i.eq(i2))), { given: [...dom, i2.ge(0), i2.lt(half)], show: { ...show, i2 }, label: 'pairs (i, i + d/2) partition [0, d)' }),
  ]);
}

export const proofs = defineProofs([
  {
    id: 'PF-rope-indexing', contract: 'kernel-rope-v1', obligation: 'rope-indexing', bound: null,
    title: 'rotate_half pairs (i, i + d/2) partition each head; x and cos/sin table accesses stay in bounds for all n, heads, d, startPos',
    plants: { 'partner-plus-one': 'element i paired with i + d/2 + 1' },
    run: (z, o) => ropeProof(z, o.plant),
  },
]);

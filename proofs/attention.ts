/**
 * Index arithmetic of grouped-query attention and the KV cache (src/kernels/cpu/attention.ts): the KV head
 * each query head reads, and every cache/query/source offset, for all shapes (unbounded integers).
 */
import { allOf, defineProofs, type ProofSession, type Z3Arith, type Z3Ctx } from '../src/contract/pv/harness.js';
import { proveRadixLemma, radixInstance } from './lib/radix.js';

function ints(ctx: Z3Ctx, names: readonly string[]): Z3Arith[] {
  return names.map((n) => ctx.Int.const(n));
}

/**
 * attendOne: `Math.floor(h / (heads / kvHeads))`; heads = kvHeads·rep, so heads / kvHeads = rep exactly and
 * the float quotient floors to the integer quotient (h, rep < 2^26).
 */
export function kvHeadOf(h: Z3Arith, rep: Z3Arith, kvHeads: Z3Arith, plant?: string): Z3Arith {
  return plant === 'div-by-kv' ? h.div(kvHeads) : h.div(rep);
}

async function gqa(z: ProofSession, plant?: string) {
  const { ctx } = z;
  const [K, rep, h, t, n, j, i, d, cap, sp] = ints(ctx, ['kvHeads', 'rep', 'h', 't', 'n', 'j', 'i', 'headDim', 'capacity', 'startPos']) as [Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith];
  const H = K.mul(rep);
  const g = kvHeadOf(h, rep, K, plant);
  const base = g.mul(cap).mul(d);
  const ko = base.add(j.mul(d)).add(i);
  const qo = t.mul(H).add(h).mul(d).add(i);
  const shape = [K.ge(1), rep.ge(1), h.ge(0), h.lt(H)];
  const rows = [d.ge(1), i.ge(0), i.lt(d), n.ge(1), t.ge(0), t.lt(n), sp.ge(0), sp.add(n).le(cap), j.ge(0), j.lt(sp.add(t).add(1))];
  const show = { kvHeads: K, rep, h, g, headDim: d, capacity: cap, startPos: sp, n, t, j, i };
  // Row-major nesting: ko = (g·cap + j)·d + i and qo = (t·heads + h)·d + i.
  const lemmas = [radixInstance(ctx, g, K, j, cap), radixInstance(ctx, g.mul(cap).add(j), K.mul(cap), i, d), radixInstance(ctx, t, n, h, H), radixInstance(ctx, t.mul(H).add(h), n.mul(H), i, d)];
  return allOf([
    () => proveRadixLemma(z),
    () => z.check(ctx.And(g.ge(0), g.lt(K), g.mul(rep).le(h), h.lt(g.add(1).mul(rep))), { given: shape, show, label: 'kv head in [0, kvHeads); query heads g·rep .. g·rep+rep−1 share it (repeat_kv)' }),
    () => z.check(ctx.And(ko.ge(0), ko.lt(K.mul(cap).mul(d))), { given: [...shape, ...rows, ...lemmas], show, label: 'K/V cache reads inside kvHeads·capacity·headDim' }),
    () => z.check(ctx.And(qo.ge(0), qo.lt(n.mul(H).mul(d))), { given: [...shape, ...rows, ...lemmas], show, label: 'q/out offsets inside n·heads·headDim' }),
  ]);
}

/** kvStore: cache[(g·capacity + startPos + t)·headDim + i] ← src[(t·kvHeads + g)·headDim + i]. */
export function kvStoreOffsets(g: Z3Arith, t: Z3Arith, i: Z3Arith, K: Z3Arith, d: Z3Arith, cap: Z3Arith, sp: Z3Arith, plant?: string) {
  return { dst: g.mul(cap).add(sp).add(t).add(plant === 'slot-plus-one' ? 1 : 0).mul(d).add(i), src: t.mul(K).add(g).mul(d).add(i) };
}

async function kvStore(z: ProofSession, plant?: string) {
  const { ctx } = z;
  const [K, d, cap, sp, n, g, t, i, g2, t2] = ints(ctx, ['kvHeads', 'headDim', 'capacity', 'startPos', 'n', 'g', 't', 'i', 'g2', 't2']) as [Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith];
  const o = kvStoreOffsets(g, t, i, K, d, cap, sp, plant);
  const slot = (gg: Z3Arith, tt: Z3Arith): Z3Arith => gg.mul(cap).add(sp).add(tt);
  const dom = [K.ge(1), d.ge(1), sp.ge(0), n.ge(0), sp.add(n).le(cap), g.ge(0), g.lt(K), t.ge(0), t.lt(n), i.ge(0), i.lt(d)];
  const show = { kvHeads: K, headDim: d, capacity: cap, startPos: sp, n, g, t, i };
  return allOf([
    () => z.check(ctx.And(o.dst.ge(0), o.dst.lt(K.mul(cap).mul(d)), o.src.ge(0), o.src.lt(n.mul(K).mul(d))), { given: dom, show, label: 'cache writes and source reads in bounds' }),
    () => z.check(ctx.Implies(slot(g, t).eq(slot(g2, t2)), ctx.And(g.eq(g2), t.eq(t2))), { given: [...dom, g2.ge(0), g2.lt(K), t2.ge(0), t2.lt(n)], show: { ...show, g2, t2 }, label: 'no two (head, position) pairs share a cache row' }),
  ]);
}

export const proofs = defineProofs([
  {
    id: 'PF-gqa-head-map', contract: 'kernel-attention-v1', obligation: 'attention-gqa-indexing', bound: null,
    title: 'query head h reads KV head ⌊h/(heads/kvHeads)⌋ < kvHeads (contiguous groups, as repeat_kv); every cache and query offset in bounds',
    plants: { 'div-by-kv': 'KV head computed as h / kvHeads' },
    run: (z, o) => gqa(z, o.plant),
  },
  {
    id: 'PF-kv-store-bounds', contract: 'kernel-kv-store-v1', obligation: 'kv-store-indexing', bound: null,
    title: 'kvStore writes inside the cache, reads inside src, and gives each (KV head, position) its own row',
    plants: { 'slot-plus-one': 'cache row startPos + t + 1' },
    run: (z, o) => kvStore(z, o.plant),
  },
]);

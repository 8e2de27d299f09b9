/**
 * Q6_K super-block (ggml `block_q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }`): four 6-bit quants
 * spread over two low-nibble bytes and one byte of 2-bit high parts, and the dequantizer's index map.
 */
import { allOf, defineProofs, type ProofSession, type Z3Arith, type Z3Bool } from '../src/contract/pv/harness.js';
import { byteVar, uVar, z3Words, type Words } from './lib/words.js';

const CONTRACT = 'quant-q6_k-v1';

/**
 * The four signed quants (element l, l+32, l+64, l+96 of a 128-half) from a = ql[l], b = ql[l+32], c = qh[l],
 * as src/tensor/codecs/kquants.ts dequantizeQ6_K and src/kernels/cpu/blocks.ts decodeQ6_K compute them.
 */
export function q6kUnpack<W>(w: Words<W>, a: W, b: W, c: W, plant?: string): [W, W, W, W] {
  const hi = (k: number): W => w.shl(w.and(w.sar(c, plant === 'qh-shift-3' && k === 1 ? 3 : 2 * k), 3), 4);
  return [
    w.sub(w.or(w.and(a, 0xf), hi(0)), 32),
    w.sub(w.or(w.and(b, 0xf), hi(1)), 32),
    w.sub(w.or(w.sar(a, 4), hi(2)), 32),
    w.sub(w.or(w.sar(b, 4), hi(3)), 32),
  ];
}

/** ggml quantize_row_q6_K_ref: L1..L4 in 0..63 (quant + 32) into ql[l], ql[l+32], qh[l] (uint8_t stores). */
export function q6kPack<W>(w: Words<W>, l1: W, l2: W, l3: W, l4: W): [W, W, W] {
  const q = (x: W): W => w.and(x, 0xf);
  return [
    w.u8(w.or(q(l1), w.shl(q(l3), 4))),
    w.u8(w.or(q(l2), w.shl(q(l4), 4))),
    w.u8(w.or(w.or(w.sar(l1, 4), w.shl(w.sar(l2, 4), 2)), w.or(w.shl(w.sar(l3, 4), 4), w.shl(w.sar(l4, 4), 6)))),
  ];
}

async function packing(z: ProofSession, plant?: string) {
  const { ctx } = z;
  const w = z3Words(ctx);
  const L = [1, 2, 3, 4].map((k) => uVar(ctx, `L${k}`, 6));
  const [l1, l2, l3, l4] = L.map((v) => v.v) as [typeof L[0]['v'], typeof L[0]['v'], typeof L[0]['v'], typeof L[0]['v']];
  const [a, b, c] = q6kPack(w, l1, l2, l3, l4);
  const back = q6kUnpack(w, a, b, c, plant);
  const bytes = ['a', 'b', 'c'].map((n) => byteVar(ctx, n));
  const [ba, bb, bc] = bytes.map((v) => v.v) as [typeof l1, typeof l1, typeof l1];
  const q = q6kUnpack(w, ba, bb, bc, plant);
  const re = q6kPack(w, ...(q.map((x) => w.add(x, 32)) as [typeof l1, typeof l1, typeof l1, typeof l1]));
  return allOf([
    () => z.check(ctx.And(...back.map((x, k) => w.add(x, 32).eq(L[k]?.v ?? w.lit(0)))), { given: L.map((v) => v.inRange), show: { L1: l1, L2: l2, L3: l3, L4: l4 }, label: 'unpack(pack(L)) = L − 32' }),
    () => z.check(ctx.And(re[0].eq(ba), re[1].eq(bb), re[2].eq(bc), ...q.map((x) => ctx.And(x.sge(-32), x.sle(31)))), { given: bytes.map((v) => v.inRange), show: { ql_l: ba, ql_l32: bb, qh_l: bc }, label: 'pack(unpack(bytes)) = bytes, quants in [-32, 31]' }),
  ]);
}

/**
 * dequantizeQ6_K: half n < 2, l < 32, k < 4 → out 128n + l + 32k, ql byte 64n + l + 32(k mod 2) nibble ⌊k/2⌋,
 * qh byte 128 + 32n + l bits 2k..2k+1, scale byte 192 + 8n + ⌊l/16⌋ + 2k.
 */
export function q6kIndex(n: Z3Arith, l: Z3Arith, k: Z3Arith, plant?: string) {
  return {
    out: n.mul(128).add(l).add(k.mul(32)),
    ql: n.mul(64).add(l).add(k.mod(2).mul(32)),
    nibble: k.div(2),
    qh: n.mul(32).add(128).add(l),
    scale: n.mul(8).add(192).add(l.div(16)).add(k.mul(plant === 'scale-stride-1' ? 1 : 2)),
  };
}

async function elementIndex(z: ProofSession, plant?: string) {
  const { ctx } = z;
  const [n, l, k, n2, l2, k2] = ['n', 'l', 'k', 'n2', 'l2', 'k2'].map((s) => ctx.Int.const(s)) as [Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith];
  const dom = (a: Z3Arith, b: Z3Arith, c: Z3Arith): Z3Bool => ctx.And(a.ge(0), a.lt(2), b.ge(0), b.lt(32), c.ge(0), c.lt(4));
  const p = q6kIndex(n, l, k, plant);
  const p2 = q6kIndex(n2, l2, k2, plant);
  const given = [dom(n, l, k), dom(n2, l2, k2)];
  const same = ctx.And(n.eq(n2), l.eq(l2), k.eq(k2));
  const show = { n, l, k, n2, l2, k2 };
  const inBounds = ctx.And(p.out.ge(0), p.out.lt(256), p.ql.ge(0), p.ql.lt(128), p.qh.ge(128), p.qh.lt(192), p.scale.ge(192), p.scale.lt(208), p.scale.eq(p.out.div(16).add(192)));
  return allOf([
    () => z.check(inBounds, { given: [dom(n, l, k)], show, label: 'in bounds; element y uses scale y/16' }),
    () => z.check(ctx.Implies(p.out.eq(p2.out), same), { given, show, label: 'each element written once' }),
    () => z.check(ctx.Implies(ctx.And(p.ql.eq(p2.ql), p.nibble.eq(p2.nibble)), same), { given, show, label: 'each ql nibble read once' }),
    () => z.check(ctx.Implies(ctx.And(p.qh.eq(p2.qh), k.eq(k2)), same), { given, show, label: 'each qh bit pair read once' }),
  ]);
}

export const proofs = defineProofs([
  {
    id: 'PF-q6k-packing', contract: CONTRACT, obligation: 'q6k-packing-bijection', bound: null,
    title: '(ql[l], ql[l+32], qh[l]) ↔ four 6-bit quants is a bijection; decoded quants lie in [-32, 31]',
    plants: { 'qh-shift-3': 'high bits of the second quant read from qh >> 3' },
    run: (z, o) => packing(z, o.plant),
  },
  {
    id: 'PF-q6k-element-index', contract: CONTRACT, obligation: 'q6k-element-index', bound: null,
    title: 'dequantizeQ6_K writes each output once, reads each ql nibble and qh bit pair once, scale index = y/16, all inside the 210-byte block',
    plants: { 'scale-stride-1': 'scale index advanced by k instead of 2k' },
    run: (z, o) => elementIndex(z, o.plant),
  },
]);

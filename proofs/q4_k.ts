/**
 * Q4_K super-block (ggml `block_q4_K { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] }`): the eight 6-bit scales
 * and eight 6-bit mins packed into 12 bytes, and the element/byte index map of the dequantizer.
 */
import { allOf, defineProofs, type ProofSession, type Z3Arith, type Z3Bool } from '../src/contract/pv/harness.js';
import { byteVar, uVar, z3Words, type W32, type Words } from './lib/words.js';

const CONTRACT = 'quant-q4_k-v1';

/** ggml get_scale_min_k4 as src/tensor/codecs/kquants.ts `scaleMinK4` writes it: [scale, min] of sub-block j. */
export function q4kScaleMin<W>(w: Words<W>, b: readonly W[], j: number, plant?: string): [W, W] {
  const at = (k: number): W => b[k] ?? w.lit(0);
  if (j < 4) return [w.and(at(j), 63), w.and(at(j + 4), plant === 'mask-31' ? 31 : 63)];
  const a = at(j + 4);
  const up = plant === 'hi-shift-5' ? 5 : 4;
  return [w.or(w.and(a, 0xf), w.shl(w.sar(at(j - 4), 6), up)), w.or(w.sar(a, 4), w.shl(w.sar(at(j), 6), 4))];
}

/** ggml quantize_row_q4_K_ref's packing of Ls[8], Lm[8] (each 0..63) into scales[12] (uint8_t stores). */
export function q4kPackScales<W>(w: Words<W>, ls: readonly W[], lm: readonly W[], plant?: string): W[] {
  const s: W[] = Array.from({ length: 12 }, () => w.lit(0));
  const get = (a: readonly W[], k: number): W => a[k] ?? w.lit(0);
  for (let j = 0; j < 8; j++) {
    const l = get(ls, j);
    const m = get(lm, j);
    if (j < 4) {
      s[j] = w.u8(l);
      s[j + 4] = w.u8(m);
    } else {
      s[j + 4] = w.u8(w.or(w.and(l, 0xf), w.shl(w.and(m, 0xf), 4)));
      if (plant !== 'drop-scale-high-bits') s[j - 4] = w.u8(w.or(get(s, j - 4), w.shl(w.sar(l, 4), 6)));
      s[j] = w.u8(w.or(get(s, j), w.shl(w.sar(m, 4), 6)));
    }
  }
  return s;
}

async function roundTrip(z: ProofSession, plant?: string) {
  const { ctx } = z;
  const w = z3Words(ctx);
  const ls = Array.from({ length: 8 }, (_, j) => uVar(ctx, `ls${j}`, 6));
  const lm = Array.from({ length: 8 }, (_, j) => uVar(ctx, `lm${j}`, 6));
  const packed = q4kPackScales(w, ls.map((v) => v.v), lm.map((v) => v.v), plant);
  const eqs: Z3Bool[] = [];
  const show: Record<string, W32> = {};
  for (let j = 0; j < 8; j++) {
    const [sc, mn] = q4kScaleMin(w, packed, j, plant);
    eqs.push(sc.eq(ls[j]?.v ?? w.lit(0)), mn.eq(lm[j]?.v ?? w.lit(0)));
    show[`ls${j}`] = ls[j]?.v ?? w.lit(0);
    show[`lm${j}`] = lm[j]?.v ?? w.lit(0);
  }
  return z.check(ctx.And(...eqs), { given: [...ls, ...lm].map((v) => v.inRange), show, label: 'unpack(pack(ls, lm)) = (ls, lm)' });
}

async function bijection(z: ProofSession, plant?: string) {
  const { ctx } = z;
  const w = z3Words(ctx);
  const bytes = Array.from({ length: 12 }, (_, k) => byteVar(ctx, `s${k}`));
  const b = bytes.map((v) => v.v);
  const pairs = Array.from({ length: 8 }, (_, j) => q4kScaleMin(w, b, j, plant));
  const repacked = q4kPackScales(w, pairs.map((p) => p[0]), pairs.map((p) => p[1]), plant);
  const claim = ctx.And(...b.map((v, k) => (repacked[k] ?? w.lit(0)).eq(v)), ...pairs.flatMap(([s, m]) => [s.ule(63), m.ule(63)]));
  return z.check(claim, { given: bytes.map((v) => v.inRange), show: Object.fromEntries(b.map((v, k) => [`s${k}`, v])), label: 'pack(unpack(bytes)) = bytes' });
}

/**
 * dequantizeQ4_K: for j < 4, l < 32, nibble h: out[64j + 32h + l] ← nibble h of byte 16 + 32j + l, using
 * sub-block scale 2j + h (`q = o + 16 + j*32`, `scaleMinK4(.., 2*j + h)`).
 */
export function q4kIndex(j: Z3Arith, l: Z3Arith, h: Z3Arith, plant?: string): { out: Z3Arith; byte: Z3Arith; sub: Z3Arith } {
  return { out: j.mul(64).add(h.mul(32)).add(l), byte: j.mul(plant === 'q-stride-16' ? 16 : 32).add(16).add(l), sub: j.mul(2).add(h) };
}

async function elementIndex(z: ProofSession, plant?: string) {
  const { ctx } = z;
  const [j, l, h, j2, l2, h2] = ['j', 'l', 'h', 'j2', 'l2', 'h2'].map((n) => ctx.Int.const(n)) as [Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith];
  const dom = (a: Z3Arith, b: Z3Arith, c: Z3Arith): Z3Bool => ctx.And(a.ge(0), a.lt(4), b.ge(0), b.lt(32), c.ge(0), c.le(1));
  const p = q4kIndex(j, l, h, plant);
  const p2 = q4kIndex(j2, l2, h2, plant);
  const show = { j, l, h, j2, l2, h2 };
  return allOf([
    () => z.check(ctx.And(p.out.ge(0), p.out.lt(256), p.byte.ge(16), p.byte.lt(144), p.sub.eq(p.out.div(32))), { given: [dom(j, l, h)], show, label: 'in bounds, sub-block = out/32' }),
    () => z.check(ctx.Implies(p.out.eq(p2.out), ctx.And(j.eq(j2), l.eq(l2), h.eq(h2))), { given: [dom(j, l, h), dom(j2, l2, h2)], show, label: 'each element written once' }),
    () => z.check(ctx.Implies(ctx.And(p.byte.eq(p2.byte), h.eq(h2)), ctx.And(j.eq(j2), l.eq(l2))), { given: [dom(j, l, h), dom(j2, l2, h2)], show, label: 'each nibble read once' }),
  ]);
}

export const proofs = defineProofs([
  {
    id: 'PF-q4k-scale-min-roundtrip', contract: CONTRACT, obligation: 'q4k-scale-min-roundtrip', bound: null,
    title: 'get_scale_min_k4(j, pack(Ls, Lm)) = (Ls[j], Lm[j]) for all 2^96 scale/min values (codecs/kquants.ts scaleMinK4)',
    plants: { 'hi-shift-5': 'high 2 bits of scales 4..7 shifted by 5', 'mask-31': 'mins 0..3 masked with 31' },
    run: (z, o) => roundTrip(z, o.plant),
  },
  {
    id: 'PF-q4k-scale-bijection', contract: CONTRACT, obligation: 'q4k-scale-bijection', bound: null,
    title: 'every 12-byte scales field decodes to 6-bit values that re-pack to the same bytes (a bijection, no wasted codes)',
    plants: { 'drop-scale-high-bits': 'packer forgets the high bits of scales 4..7' },
    run: (z, o) => bijection(z, o.plant),
  },
  {
    id: 'PF-q4k-element-index', contract: CONTRACT, obligation: 'q4k-element-index', bound: null,
    title: 'dequantizeQ4_K writes each of the 256 outputs once, reads each qs nibble once, inside bytes [16, 144)',
    plants: { 'q-stride-16': 'qs pointer advanced by 16 per pair of sub-blocks' },
    run: (z, o) => elementIndex(z, o.plant),
  },
]);

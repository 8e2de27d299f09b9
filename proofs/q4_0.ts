/**
 * Q4_0 block layout (ggml `block_q4_0 { f16 d; u8 qs[16] }`; aprender's APR_Q4 is another layout): nibble packing,
 * element/byte index map, and the quantization error bound.
 */
import { allOf, defineProofs, type ProofSession, type Z3Arith, type Z3Bool } from '../src/contract/pv/harness.js';
import { byteVar, uVar, z3Words, type Words } from './lib/words.js';
import { absR, f16Scale, roundTrunc } from './lib/reals.js';

const CONTRACT = 'quant-q4_0-v1';

/** Elements j and j+16 of a block from byte q: src/tensor/codecs/legacy.ts and src/kernels/cpu/blocks.ts. */
export function q4_0Unpack<W>(w: Words<W>, q: W, plant?: string): [W, W] {
  return [w.and(q, plant === 'lo-mask-7' ? 0x7 : 0xf), w.sar(q, plant === 'hi-shift-3' ? 3 : 4)];
}

/** ggml quantize_row_q4_0_ref: `qs[j] = xi0; qs[j] |= xi1 << 4;` into uint8_t. */
export function q4_0Pack<W>(w: Words<W>, xi0: W, xi1: W): W {
  return w.u8(w.or(w.u8(xi0), w.shl(xi1, 4)));
}

async function nibbleBijection(z: ProofSession, plant?: string) {
  const { ctx } = z;
  const w = z3Words(ctx);
  const q = byteVar(ctx, 'q');
  const a = uVar(ctx, 'a', 4);
  const b = uVar(ctx, 'b', 4);
  const [lo, hi] = q4_0Unpack(w, q.v, plant);
  const [a2, b2] = q4_0Unpack(w, q4_0Pack(w, a.v, b.v), plant);
  return allOf([
    () => z.check(q4_0Pack(w, lo, hi).eq(q.v), { given: [q.inRange], show: { q: q.v }, label: 'pack(unpack(q)) = q' }),
    () => z.check(ctx.And(a2.eq(a.v), b2.eq(b.v)), { given: [a.inRange, b.inRange], show: { a: a.v, b: b.v }, label: 'unpack(pack(a,b)) = (a,b)' }),
  ]);
}

/** out[i·32 + j + 16·h] ← nibble h of qs[j] at byte i·18 + 2 + j (codecs: `y = i*QK`, `o = i*18`). */
export function q4_0Index(i: Z3Arith, j: Z3Arith, h: Z3Arith, plant?: string): { out: Z3Arith; byte: Z3Arith } {
  return { out: i.mul(32).add(j).add(h.mul(plant === 'high-half-15' ? 15 : 16)), byte: i.mul(18).add(2).add(j) };
}

async function elementIndex(z: ProofSession, plant?: string) {
  const { ctx } = z;
  const [nb, i, j, h, i2, j2, h2, e] = ['nb', 'i', 'j', 'h', 'i2', 'j2', 'h2', 'e'].map((n) => ctx.Int.const(n)) as [Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith];
  const dom = (ii: Z3Arith, jj: Z3Arith, hh: Z3Arith): Z3Bool => ctx.And(ii.ge(0), ii.lt(nb), jj.ge(0), jj.lt(16), hh.ge(0), hh.le(1));
  const p = q4_0Index(i, j, h, plant);
  const p2 = q4_0Index(i2, j2, h2, plant);
  const inv = q4_0Index(e.div(32), e.mod(32).mod(16), e.mod(32).div(16), plant);
  const show = { nb, i, j, h };
  return allOf([
    () => z.check(ctx.And(p.out.ge(0), p.out.lt(nb.mul(32)), p.byte.ge(i.mul(18).add(2)), p.byte.lt(i.add(1).mul(18))), { given: [nb.ge(1), dom(i, j, h)], show, label: 'in bounds' }),
    () => z.check(ctx.Implies(p.out.eq(p2.out), ctx.And(i.eq(i2), j.eq(j2), h.eq(h2))), { given: [nb.ge(1), dom(i, j, h), dom(i2, j2, h2)], show: { ...show, i2, j2, h2 }, label: 'injective' }),
    () => z.check(inv.out.eq(e), { given: [nb.ge(1), e.ge(0), e.lt(nb.mul(32))], show: { nb, e }, label: 'covers every element' }),
  ]);
}

/**
 * ggml quantize_row_q4_0_ref over the reals: d = max/−8 (max = the signed value of largest magnitude),
 * q = min(15, (int8)(x/d + 8.5)), dequantized x̂ = (q − 8)·d16 with d16 = d rounded to f16.
 * Every element x of the block has |x| ≤ |max|, so the claim for one generic x is the claim for the block.
 */
async function errorBound(z: ProofSession, plant?: string) {
  const { ctx } = z;
  const [m, x, t] = ['max', 'x', 't'].map((n) => ctx.Real.const(n)) as [Z3Arith, Z3Arith, Z3Arith];
  const d = m.div(-8);
  const { d16, given: f16Given, err16 } = f16Scale(ctx, d, 8);
  const q = ctx.If(roundTrunc(ctx, t.add(plant === 'truncate' ? 8 : 8.5)).lt(15), roundTrunc(ctx, t.add(plant === 'truncate' ? 8 : 8.5)), ctx.Int.val(15));
  const xhat = ctx.ToReal(q.sub(8)).mul(d16);
  const err = absR(ctx, x.sub(xhat));
  const unclamped = t.le(7.5);
  const claim = ctx.And(q.ge(0), q.le(15), ctx.Implies(unclamped, err.le(absR(ctx, d).mul(0.5).add(err16))), err.le(absR(ctx, d).add(err16)));
  const given = [m.neq(0), absR(ctx, x).le(absR(ctx, m)), t.mul(d).eq(x), ...f16Given];
  return z.check(claim, { given, show: { max: m, x, q, xhat }, label: 'error bound' });
}

export const proofs = defineProofs([
  {
    id: 'PF-q4_0-nibble-bijection', contract: CONTRACT, obligation: 'q4_0-nibble-bijection', bound: null,
    title: 'byte ↔ (low nibble, high nibble) is a bijection (codecs/legacy.ts, kernels/cpu/blocks.ts, ggml quantize_row_q4_0_ref)',
    plants: { 'hi-shift-3': 'high nibble read as q >> 3', 'lo-mask-7': 'low nibble masked with 0x7' },
    run: (z, o) => nibbleBijection(z, o.plant),
  },
  {
    id: 'PF-q4_0-element-index', contract: CONTRACT, obligation: 'q4_0-element-index', bound: null,
    title: 'block i, byte j, nibble h → element i·32 + j + 16h is a bijection onto [0, 32·nb); bytes stay inside block i after its f16 scale',
    plants: { 'high-half-15': 'high nibble written to j + 15' },
    run: (z, o) => elementIndex(z, o.plant),
  },
  {
    id: 'PF-q4_0-error-bound', contract: CONTRACT, obligation: 'q4_0-error-bound', bound: null,
    title: '|x − x̂| ≤ |d|/2 + 8|d16 − d| where x/d ≤ 7.5, ≤ |d| + 8|d16 − d| where the clamp at 15 bites (reals, f16 scale)',
    plants: { truncate: 'x/d + 8 truncated instead of x/d + 8.5' },
    run: (z, o) => errorBound(z, o.plant),
  },
]);

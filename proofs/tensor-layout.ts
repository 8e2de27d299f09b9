/**
 * Byte layout of tensors: block/row offsets of block-quantized matrices (src/tensor/dtype.ts byteSize,
 * src/kernels/cpu/blocks.ts and matmul.ts row decoding) and the 64-byte alignment of APR v2 tensor data
 * (src/formats/apr/layout.ts align64, src/formats/apr/write.ts).
 */
import { allOf, defineProofs, type ProofSession, type Z3Arith, type Z3Bool, type Z3Ctx } from '../src/contract/pv/harness.js';

const CONTRACT = 'tensor-layout-v1';

function ints(ctx: Z3Ctx, names: readonly string[]): Z3Arith[] {
  return names.map((n) => ctx.Int.const(n));
}

/**
 * Row r, block b, byte k of a [rows, nb·blockSize] matrix: `row * nb * blockBytes` (blocks.ts decodeRowUnchecked,
 * matmul.ts `rowBytes = nb * blockBytes`), then `o += blockBytes` per block.
 */
export function blockByteOffset(r: Z3Arith, b: Z3Arith, k: Z3Arith, nb: Z3Arith, bs: Z3Arith, bb: Z3Arith, plant?: string): Z3Arith {
  return r.mul(nb.mul(plant === 'elements-for-bytes' ? bs : bb)).add(b.mul(bb)).add(k);
}

async function rowOffsets(z: ProofSession, plant?: string) {
  const { ctx } = z;
  const [R, nb, bs, bb, r, b, k, L] = ints(ctx, ['rows', 'nb', 'blockSize', 'blockBytes', 'r', 'b', 'k', 'byteLength']) as [Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith, Z3Arith];
  const cols = nb.mul(bs);
  const off = blockByteOffset(r, b, k, nb, bs, bb, plant);
  const dom = [nb.ge(1), bs.ge(1), bb.ge(1), b.ge(0), b.lt(nb), k.ge(0), k.lt(bb)];
  // kernel-block-decode-v1's precondition 'row lies inside data': ((row + 1) * cols / blockSize) * blockBytes <= byteLength.
  const pre = r.add(1).mul(cols).div(bs).mul(bb).le(L);
  // dtype.ts byteSize: (elementCount / blockSize) * blockBytes.
  const byteSize = R.mul(cols).div(bs).mul(bb);
  const show = { rows: R, nb, blockSize: bs, blockBytes: bb, r, b, k, byteLength: L };
  return allOf([
    () => z.check(ctx.And(off.ge(0), off.lt(L)), { given: [...dom, r.ge(0), pre], show, label: 'reads stay inside data under the row precondition' }),
    () => z.check(r.add(1).mul(cols).div(bs).mul(bb).le(byteSize), { given: [...dom, R.ge(1), r.ge(0), r.lt(R)], show, label: 'every row r < rows satisfies the precondition with byteLength = byteSize' }),
  ]);
}

/** align64 as layout.ts writes it: Math.ceil(n / 64) * 64 (n / 64 is exact in float64 for integers n < 2^53). */
export function align64(ctx: Z3Ctx, n: Z3Arith, plant?: string): Z3Arith {
  if (plant === 'int32-bitwise') {
    // (n + 63) & ~63 with JS ToInt32 semantics.
    const m = n.add(63).mod(2 ** 32);
    const s = ctx.If(m.ge(2 ** 31), m.sub(2 ** 32), m);
    return s.sub(s.mod(64));
  }
  const q = ctx.ToReal(n).div(64);
  return ctx.ToInt(q.neg()).neg().mul(64);
}

const MAX_SAFE = 2 ** 53 - 1;

async function aprAlignment(z: ProofSession, bound: number, plant?: string) {
  const { ctx } = z;
  const n = ctx.Int.const('n');
  const a = align64(ctx, n, plant);
  const alignClaim = ctx.And(a.ge(n), a.sub(n).le(63), a.mod(64).eq(0), a.le(MAX_SAFE));
  // write.ts: offset starts at 0 and advances by align64(size) per tensor; check `bound` consecutive tensors.
  const sizes = ints(ctx, Array.from({ length: bound }, (_, i) => `size${i}`));
  const facts: Z3Bool[] = [];
  let offset: Z3Arith = ctx.Int.val(0);
  for (const s of sizes) {
    const next = offset.add(align64(ctx, s, plant));
    facts.push(offset.mod(64).eq(0), offset.add(s).le(next));
    offset = next;
  }
  const sizeDom = sizes.flatMap((s) => [s.ge(0), s.le(2 ** 40)]);
  return allOf([
    () => z.check(alignClaim, { given: [n.ge(0), n.le(MAX_SAFE - 63)], show: { n, aligned: a }, label: 'align64(n) ≥ n, < n + 64, multiple of 64, safe integer' }),
    () => z.check(ctx.And(...facts), { given: sizeDom, show: Object.fromEntries(sizes.map((s, i) => [`size${i}`, s])), label: `${bound} consecutive tensors are 64-aligned and disjoint` }),
  ]);
}

export const proofs = defineProofs([
  {
    id: 'PF-block-row-offset', contract: CONTRACT, obligation: 'block-row-offset-in-bounds', bound: null,
    title: 'row r, block b, byte k → r·nb·blockBytes + b·blockBytes + k stays inside the data for every shape and block type (all sizes, unbounded)',
    plants: { 'elements-for-bytes': 'row stride computed as nb·blockSize (elements) instead of nb·blockBytes' },
    run: (z, o) => rowOffsets(z, o.plant),
  },
  {
    id: 'PF-apr-align64', contract: CONTRACT, obligation: 'apr-align64', bound: 8,
    title: 'align64(n) = ceil(n/64)·64 is the least multiple of 64 ≥ n for every safe integer; tensors written in a row are 64-aligned and never overlap',
    plants: { 'int32-bitwise': 'align computed as (n + 63) & ~63 (JS 32-bit bitwise ops)' },
    run: (z, o) => aprAlignment(z, Math.max(1, o.bound), o.plant),
  },
]);

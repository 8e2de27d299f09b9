/**
 * The index maps the z3 harnesses prove things about (proofs/*.ts, built over z3 integers) evaluated on concrete
 * random indices by z3 itself and run against the kernels that execute: the codecs, the CPU row decoder and the
 * KV-cache store. A proof is only about the running code if its map is the code's map: a bug planted in a
 * kernel's indexing (not in the proof) turns one of these tests red, and one planted in the proof's map turns
 * the proof (pv prove --plant) or these tests red.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Z3Arith, Z3Ctx } from '../../src/contract/pv/harness.js';
import { openZ3, type Z3Handle } from '../../src/contract/pv/z3-session.js';
import { kvStoreOffsets } from '../../proofs/attention.js';
import { jsWords } from '../../proofs/lib/words.js';
import { q4_0Index } from '../../proofs/q4_0.js';
import { q4kIndex, q4kScaleMin } from '../../proofs/q4_k.js';
import { q6kIndex } from '../../proofs/q6_k.js';
import { blockByteOffset } from '../../proofs/tensor-layout.js';
import { kvStore } from '../../src/kernels/cpu/attention.js';
import { decodeBlockRow } from '../../src/kernels/cpu/blocks.js';
import { dequantize } from '../../src/tensor/codecs/index.js';
import { DTYPES } from '../../src/tensor/dtype.js';

let z3: Z3Handle | undefined;
let ctx: Z3Ctx;

beforeAll(async () => {
  z3 = await openZ3();
  ctx = z3.session(10_000).ctx;
}, 120_000);
afterAll(async () => z3?.close());

const int = (n: number): Z3Arith => ctx.Int.val(n);

/** The value z3 gives a closed integer term (the proof's expression at concrete indices). */
async function valueOf(e: Z3Arith): Promise<number> {
  const s = (await ctx.simplify(e)) as unknown as { value(): bigint };
  return Number(s.value());
}

async function values<K extends string>(m: Record<K, Z3Arith>): Promise<Record<K, number>> {
  const out = {} as Record<K, number>;
  for (const k of Object.keys(m) as K[]) out[k] = await valueOf(m[k]);
  return out;
}

const F16_ONE = 0x3c00;
const RUNS = 60;

/** Random blocks of `dtype` whose f16 scale fields (at `halfAt` within each block) are 1.0. */
function blocksWithUnitScale(dtype: 'Q4_0' | 'Q4_K' | 'Q6_K', nb: number, halfAt: readonly number[], seed: number): Uint8Array {
  const bb = DTYPES[dtype].blockBytes;
  const data = new Uint8Array(nb * bb);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = s >>> 24;
  }
  for (let b = 0; b < nb; b++) {
    for (const o of halfAt) {
      data[b * bb + o] = F16_ONE & 0xff;
      data[b * bb + o + 1] = F16_ONE >> 8;
    }
  }
  return data;
}

/** Both decoders that run: the codec (load, export) and the CPU kernels' row decoder (matmul, embedding). */
function decoders(dtype: 'Q4_0' | 'Q4_K' | 'Q6_K', data: Uint8Array, n: number): Float32Array[] {
  return [dequantize(dtype, data, n), decodeBlockRow(dtype, data, 0, n, new Float32Array(n))];
}

describe('proved index maps equal the running kernels (z3 evaluates the proof expression)', () => {
  it('Q4_0: out 32i + j + 16h ← nibble h of byte 18i + 2 + j, as proofs/q4_0.ts q4_0Index [ob:q4_0-element-index]', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.nat(), fc.integer({ min: 0, max: 15 }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 1, max: 2 ** 30 }), async (nb, ib, j, h, seed) => {
      const i = ib % nb;
      const data = blocksWithUnitScale('Q4_0', nb, [0], seed);
      const p = await values(q4_0Index(int(i), int(j), int(h)));
      const byte = data[p.byte] ?? 0;
      const nibble = h ? byte >> 4 : byte & 15;
      for (const out of decoders('Q4_0', data, nb * 32)) expect(out[p.out]).toBe(nibble - 8);
    }), { numRuns: RUNS });
  });

  it('Q4_K: out 64j + 32h + l ← nibble h of byte 16 + 32j + l with sub-block scale 2j + h, as q4kIndex / q4kScaleMin [ob:q4k-element-index]', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 31 }), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 1, max: 2 ** 30 }), async (j, l, h, seed) => {
      const data = blocksWithUnitScale('Q4_K', 1, [0], seed);
      data[2] = 0; // dmin = 0: the value is d · scale · nibble
      data[3] = 0;
      const p = await values(q4kIndex(int(j), int(l), int(h)));
      const [scale] = q4kScaleMin(jsWords, Array.from(data.subarray(4, 16)), p.sub);
      const byte = data[p.byte] ?? 0;
      const nibble = h ? byte >> 4 : byte & 15;
      for (const out of decoders('Q4_K', data, 256)) expect(out[p.out]).toBe(scale * nibble);
    }), { numRuns: RUNS });
  });

  it('Q6_K: out 128n + l + 32k from ql/qh/scale bytes as q6kIndex [ob:q6k-element-index]', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 31 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 2 ** 30 }), async (n, l, k, seed) => {
      const data = blocksWithUnitScale('Q6_K', 1, [208], seed);
      const p = await values(q6kIndex(int(n), int(l), int(k)));
      const low = ((data[p.ql] ?? 0) >> (4 * p.nibble)) & 0xf;
      const high = ((data[p.qh] ?? 0) >> (2 * k)) & 3;
      const scale = ((data[p.scale] ?? 0) << 24) >> 24; // int8
      for (const out of decoders('Q6_K', data, 256)) expect(out[p.out]).toBe(scale * ((low | (high << 4)) - 32));
    }), { numRuns: RUNS });
  });

  it('row r of a blocked matrix is decoded from the bytes at blockByteOffset(r, b, 0) (Q8_0 rows) [ob:block-row-offset-in-bounds]', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 3 }), fc.nat(), fc.nat(), async (rows, nb, rr, bb) => {
      const r = rr % rows, b = bb % nb;
      const { blockSize, blockBytes } = DTYPES.Q8_0;
      const data = new Uint8Array(rows * nb * blockBytes);
      for (let blk = 0; blk < rows * nb; blk++) {
        data[blk * blockBytes + 1] = F16_ONE >> 8; // d = 1.0
        data[blk * blockBytes + 2] = blk; // first quant of each block: the block's own number
      }
      const at = await valueOf(blockByteOffset(int(r), int(b), int(2), int(nb), int(blockSize), int(blockBytes)));
      const row = decodeBlockRow('Q8_0', data, r, nb * blockSize, new Float32Array(nb * blockSize));
      expect(row[b * blockSize]).toBe(data[at]);
    }), { numRuns: RUNS });
  });

  it('kvStore writes src[(t·K + g)·d + i] to cache[(g·cap + startPos + t)·d + i], as kvStoreOffsets [ob:kv-store-indexing]', async () => {
    await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 3 }), async (K, d, n, sp) => {
      const cap = sp + n + 1;
      const src = Float32Array.from({ length: n * K * d }, (_, x) => x + 1);
      const cache = kvStore(new Float32Array(K * cap * d), src, n, K, d, sp, cap);
      let written = 0;
      for (let g = 0; g < K; g++) for (let t = 0; t < n; t++) for (let i = 0; i < d; i++) {
        const o = await values(kvStoreOffsets(int(g), int(t), int(i), int(K), int(d), int(cap), int(sp)));
        expect(cache[o.dst]).toBe(src[o.src]);
        written++;
      }
      expect(cache.filter((v) => v !== 0).length).toBe(written);
    }), { numRuns: 25 });
  });
});

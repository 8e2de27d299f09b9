import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { AttentionShape, InputNorm } from '../../src/kernels/types.js';
import { createWebGpuBackend, type GpuBuf, type GpuWeight } from '../../src/kernels/webgpu/backend.js';
import { randomBlocks, randomF32 } from './kernels-helpers.js';
import { f32Bits, gpu, noGpuReason } from './webgpu-helpers.js';

/**
 * The fused decode row (Backend.attendRow) against the calls it replaces, whose CPU parity
 * webgpu-kernels.test.ts checks: row `row` of q, k, v copied out, ropeKv, kvStore of v, attention, the
 * output copied back. The caches must come out bit-identical (the same rotate_half expression on the same
 * table entries, stored as float32). The attention output may differ by float32 rounding only: the fused
 * kernel scores the new position from its rotated key in workgroup memory, the same value the cache holds,
 * through the same online softmax, so the tolerance is a few ulps of the output's scale (16·2⁻²⁴ relative
 * to the largest |out|, well above the observed 0 and far below a wrong position or head). Also the blocked
 * matvec, which takes up to 32 token rows a dispatch (larger n go to the tiled prefill product): row t of an
 * n-row product equals the 1-row product of that row bit for bit (batch invariance). And the fused gate/up
 * product with SwiGLU (Backend.matmulSwiglu) and the three products of one input (Backend.matmul3) against
 * the calls they replace, with and without the fused input RMSNorm: bit-identical (the same lane loops,
 * reduction trees, norm expression and SwiGLU expression). Last, submitEvery: a long step split into several
 * submissions computes what one submission does.
 */

const be = gpu ? createWebGpuBackend(gpu) : undefined;
// Each (dtype, norm) pair is a large pipeline that the software adapter takes seconds to compile: the fused
// products are tested on the dtypes of Q4_K_M (Q4_K gate/up, Q4_K and Q6_K q/k/v); all share one loop text per dtype with the matvec.
type Blocked = 'Q4_K' | 'Q6_K' | 'Q8_0' | 'F32';
const GLU_DTYPES: readonly Blocked[] = ['Q4_K'];
const QKV_DTYPES: readonly Blocked[] = ['Q6_K'];

async function both(s: AttentionShape, rows: number, row: number, seed: number): Promise<{ fused: Float32Array[]; plain: Float32Array[] }> {
  const g = be as NonNullable<typeof be>;
  const [qDim, kvDim] = [s.heads * s.headDim, s.kvHeads * s.headDim];
  const q0 = randomF32(rows * qDim, seed);
  const k0 = randomF32(rows * kvDim, seed + 1);
  const v0 = randomF32(rows * kvDim, seed + 2);
  const kc0 = randomF32(s.kvHeads * s.capacity * s.headDim, seed + 3);
  const vc0 = randomF32(s.kvHeads * s.capacity * s.headDim, seed + 4);
  const att0 = randomF32(rows * qDim, seed + 5);
  const run = async (fused: boolean): Promise<Float32Array[]> => {
    const [q, k, v, kc, vc, att] = [g.upload(q0), g.upload(k0), g.upload(v0), g.upload(kc0), g.upload(vc0), g.upload(att0)];
    if (fused) g.attendRow(q, k, v, row, kc, vc, s, 10000, att);
    else {
      const [rq, rk, rv, ra] = [g.alloc(qDim), g.alloc(kvDim), g.alloc(kvDim), g.alloc(qDim)];
      g.copy(q, row * qDim, rq, 0, qDim);
      g.copy(k, row * kvDim, rk, 0, kvDim);
      g.copy(v, row * kvDim, rv, 0, kvDim);
      g.ropeKv(rq, rk, kc, s, 10000);
      g.kvStore(vc, rv, 1, s.kvHeads, s.headDim, s.startPos, s.capacity);
      g.attention(rq, kc, vc, s, ra);
      g.copy(ra, 0, att, row * qDim, qDim);
    }
    const read = (b: typeof q, n: number): Promise<Float32Array> => g.readAsync(b, 0, n);
    return [await read(kc, kc0.length), await read(vc, vc0.length), await read(att, att0.length), await read(q, q0.length), await read(k, k0.length)];
  };
  return { fused: await run(true), plain: await run(false) };
}

describe.skipIf(!be)(`WebGPU fused decode row (attendRow)${noGpuReason}`, () => {
  test('[ob:webgpu-flat-indexing] caches bit-identical to ropeKv + kvStore, output within 16 ulps of attention, other rows and q, k untouched', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.constantFrom(2, 8, 64, 128), fc.integer({ min: 0, max: 140 }), fc.integer({ min: 1, max: 4 }), fc.integer(), async (kvHeads, rep, headDim, startPos, rows, seed) => {
        const shape = { n: 1, startPos, heads: kvHeads * rep, kvHeads, headDim, capacity: startPos + 1 + (seed & 3) };
        const row = (seed >>> 3) % rows;
        const { fused, plain } = await both(shape, rows, row, seed);
        const [kc, vc, att, q, k] = fused;
        expect(f32Bits(kc ?? new Float32Array(0))).toEqual(f32Bits(plain[0] ?? new Float32Array(1)));
        expect(f32Bits(vc ?? new Float32Array(0))).toEqual(f32Bits(plain[1] ?? new Float32Array(1)));
        expect(f32Bits(q ?? new Float32Array(0))).toEqual(f32Bits(randomF32(rows * shape.heads * headDim, seed)));
        expect(f32Bits(k ?? new Float32Array(0))).toEqual(f32Bits(randomF32(rows * kvHeads * headDim, seed + 1)));
        const want = plain[2] ?? new Float32Array(0);
        const scale = Math.max(...Array.from(want, Math.abs));
        const qDim = shape.heads * headDim;
        (att ?? new Float32Array(0)).forEach((v, i) => {
          if (Math.floor(i / qDim) !== row) expect(v).toBe(want[i]);
          else expect(Math.abs(v - (want[i] ?? 0))).toBeLessThanOrEqual(16 * 2 ** -24 * scale);
        });
      }),
      { numRuns: 14 },
    );
  });
});

/** With `withNorm`, an input norm for a fused product and the input the unfused calls take (rmsnorm of x, computed apart); else x. */
function normCase(withNorm: boolean, x: GpuBuf, n: number, cols: number, seed: number): { norm: InputNorm<GpuBuf> | undefined; input: GpuBuf } {
  const g = be as NonNullable<typeof be>;
  if (!withNorm) return { norm: undefined, input: x };
  const weight = g.upload(randomF32(cols, seed + 9, 2));
  const input = g.alloc(n * cols);
  g.rmsnorm(x, weight, 1e-5, n, cols, input);
  return { norm: { weight, eps: 1e-5, tmp: g.alloc(n * cols) }, input };
}

describe.skipIf(!be)(`WebGPU fused gate/up/SwiGLU (matmulSwiglu)${noGpuReason}`, () => {
  test('[ob:webgpu-matvec-indexing] equals matmul(gate), matmul(up), swiglu bit for bit (Q4_K; n up to 32, and 40 on the fallback; with and without the input norm)', async () => {
    const g = be as NonNullable<typeof be>;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...GLU_DTYPES), fc.integer({ min: 1, max: 20 }), fc.constantFrom(1, 5, 32, 40), fc.boolean(), fc.integer(), async (dtype, rows, n, withNorm, seed) => {
        const cols = 256;
        const weight = (s: number): ReturnType<typeof g.prepareWeight> => g.prepareWeight({ dtype, rows, cols, data: dtype === 'F32' ? randomF32(rows * cols, s) : randomBlocks(dtype, rows, cols, s) });
        const [wg, wu] = [weight(seed), weight(seed + 1)];
        const x = g.upload(randomF32(n * cols, seed + 2, 3));
        const { norm, input } = normCase(withNorm, x, n, cols, seed);
        const [fused, a, b] = [g.alloc(n * rows), g.alloc(n * rows), g.alloc(n * rows)];
        g.matmulSwiglu(wg, wu, x, n, fused, g.alloc(n * rows), norm);
        g.matmul(wg, input, n, a);
        g.matmul(wu, input, n, b);
        g.swiglu(a, b, n * rows, a);
        expect(f32Bits(await g.readAsync(fused, 0, n * rows))).toEqual(f32Bits(await g.readAsync(a, 0, n * rows)));
      }),
      { numRuns: 12 },
    );
  });
});

describe.skipIf(!be)(`WebGPU three products in one dispatch (matmul3)${noGpuReason}`, () => {
  test('[ob:webgpu-matvec-indexing] each output equals its own matmul bit for bit (Q6_K; row counts not multiples of 8, n up to 32, 40 on the fallback; with and without the input norm)', async () => {
    const g = be as NonNullable<typeof be>;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...QKV_DTYPES), fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 3, maxLength: 3 }), fc.constantFrom(1, 4, 32, 40), fc.boolean(), fc.integer(), async (dtype, rows, n, withNorm, seed) => {
        const cols = 256;
        const ws = rows.map((r, k) => g.prepareWeight({ dtype, rows: r, cols, data: dtype === 'F32' ? randomF32(r * cols, seed + k) : randomBlocks(dtype, r, cols, seed + k) }));
        const x = g.upload(randomF32(n * cols, seed + 5));
        const { norm, input } = normCase(withNorm, x, n, cols, seed);
        const fused = rows.map((r) => g.alloc(n * r));
        const [w0, w1, w2] = ws as [GpuWeight, GpuWeight, GpuWeight];
        g.matmul3(w0, w1, w2, x, n, fused[0] as GpuBuf, fused[1] as GpuBuf, fused[2] as GpuBuf, norm);
        for (const [k, w] of ws.entries()) {
          const one = g.alloc(n * w.rows);
          g.matmul(w, input, n, one);
          expect(f32Bits(await g.readAsync(fused[k] as GpuBuf, 0, n * w.rows)), `output ${k}`).toEqual(f32Bits(await g.readAsync(one, 0, n * w.rows)));
        }
      }),
      { numRuns: 10 },
    );
  });
});

describe.skipIf(!be)(`WebGPU blocked matvec rows${noGpuReason}`, () => {
  test('[ob:webgpu-matvec-indexing] row t of an n-row product (n ≤ 32, one dispatch) equals its 1-row product bit for bit', async () => {
    const g = be as NonNullable<typeof be>;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('Q4_K', 'Q6_K', 'Q8_0', 'F32'), fc.integer({ min: 1, max: 20 }), fc.constantFrom(2, 8, 9, 17, 31, 32), fc.integer(), async (dtype, rows, n, seed) => {
        const cols = 512;
        const data = dtype === 'F32' ? randomF32(rows * cols, seed) : randomBlocks(dtype, rows, cols, seed);
        const w = g.prepareWeight({ dtype, rows, cols, data });
        const x = randomF32(n * cols, seed + 1);
        const out = g.alloc(n * rows);
        g.matmul(w, g.upload(x), n, out);
        const all = await g.readAsync(out, 0, n * rows);
        for (const t of [0, n - 1, (seed >>> 1) % n]) {
          const one = g.alloc(rows);
          g.matmul(w, g.upload(x.subarray(t * cols, (t + 1) * cols)), 1, one);
          expect(f32Bits(all.subarray(t * rows, (t + 1) * rows))).toEqual(f32Bits(await g.readAsync(one, 0, rows)));
        }
        g.releaseWeight(w);
      }),
      { numRuns: 12 },
    );
  });
});

describe.skipIf(!gpu)(`WebGPU submissions within a step (submitEvery)${noGpuReason}`, () => {
  test('100 chained adds: every 40 dispatches a submission (3 in all with the read-back), the same sums as one submission', async () => {
    const sums = async (submitEvery: number): Promise<{ out: number[]; submissions: number }> => {
      const g = createWebGpuBackend(gpu as NonNullable<typeof gpu>, { submitEvery });
      const [a, b] = [g.upload(randomF32(300, 1)), g.upload(randomF32(300, 2))];
      const c0 = g.counters();
      for (let i = 0; i < 100; i++) g.add(a, b, 300, a);
      const out = Array.from(await g.readAsync(a, 0, 300));
      return { out, submissions: g.counters().submissions - c0.submissions };
    };
    const [every40, once] = [await sums(40), await sums(0)];
    expect([every40.submissions, once.submissions]).toEqual([3, 1]);
    expect(every40.out).toEqual(once.out);
  });
});

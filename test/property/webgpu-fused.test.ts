import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { AttentionShape } from '../../src/kernels/types.js';
import { createWebGpuBackend } from '../../src/kernels/webgpu/backend.js';
import { argmax } from '../../src/model/sampling.js';
import { randomBlocks, randomF32 } from './kernels-helpers.js';
import { f32Bits, gpu, noGpuReason } from './webgpu-helpers.js';

/**
 * The decode kernels that only the WebGPU backend has. The device arg-max (Backend.argmax) against
 * sampling.ts `argmax`, the pick of greedy decoding: the same index on random rows, on rows full of ties
 * (lowest index wins, also across lanes of the reduction), with −∞ entries and with nothing above −∞
 * (index 0), for widths across the 256-lane stride. The fused RoPE + key-cache write (Backend.ropeKv)
 * against the three kernels it replaces (rope of q, rope of k, kvStore of k), whose CPU parity
 * webgpu-kernels.test.ts checks: bit-identical q, k and cache. The product with the residual add fused
 * (Backend.matmulAdd) against matmul then add: bit-identical, on the blocked matvec and the fallback.
 */

const be = gpu ? createWebGpuBackend(gpu) : undefined;

async function gpuArgmax(x: Float32Array, n: number, dim: number): Promise<number[]> {
  if (!be) throw new Error('no gpu');
  const xb = be.upload(x);
  const out = be.alloc(n);
  be.argmax(xb, n, dim, out);
  const got = Array.from(await be.readAsync(out, 0, n));
  be.release(xb);
  be.release(out);
  return got;
}

function hostArgmax(x: Float32Array, n: number, dim: number): number[] {
  return Array.from({ length: n }, (_, t) => argmax(x.subarray(t * dim, (t + 1) * dim)));
}

/** Values from a few levels (many ties), some −∞, scaled by the seed. */
function tiedRows(n: number, dim: number, seed: number, levels: number): Float32Array {
  const r = randomF32(n * dim, seed);
  return r.map((v) => (v < -0.9 ? -Infinity : Math.floor((v + 1) * levels) - levels));
}

describe.skipIf(!be)(`WebGPU argmax vs sampling.ts argmax${noGpuReason}`, () => {
  test('[ob:webgpu-matvec-indexing] random rows, widths 1..1100, n ≤ 5: the same index', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 1100 }), fc.integer(), async (n, dim, seed) => {
        const x = randomF32(n * dim, seed);
        expect(await gpuArgmax(x, n, dim)).toEqual(hostArgmax(x, n, dim));
      }),
      { numRuns: 12 },
    );
  });

  test('ties go to the lowest index, −∞ is never picked, an all −∞ row gives 0', async () => {
    for (const [dim, levels, seed] of [[700, 2, 1], [513, 1, 2], [1000, 3, 3], [257, 1, 4]] as const) {
      const x = tiedRows(3, dim, seed, levels);
      expect(await gpuArgmax(x, 3, dim)).toEqual(hostArgmax(x, 3, dim));
    }
    const flat = new Float32Array(600).fill(-Infinity);
    flat[300] = 2;
    flat[599] = 2;
    flat.fill(-Infinity, 0, 300);
    expect(await gpuArgmax(flat, 2, 300)).toEqual([0, 0]);
    const late = new Float32Array(520).fill(-1);
    late[519] = 5;
    late[263] = 5;
    expect(await gpuArgmax(late, 1, 520)).toEqual([263]);
  });
});

async function ropeKvBoth(s: AttentionShape, seed: number): Promise<Float32Array[][]> {
  if (!be) throw new Error('no gpu');
  const g = be;
  const q0 = randomF32(s.n * s.heads * s.headDim, seed);
  const k0 = randomF32(s.n * s.kvHeads * s.headDim, seed + 1);
  const cache0 = randomF32(s.kvHeads * s.capacity * s.headDim, seed + 2);
  const run = async (fused: boolean): Promise<Float32Array[]> => {
    const [q, k, kc] = [g.upload(q0), g.upload(k0), g.upload(cache0)];
    if (fused) g.ropeKv(q, k, kc, s, 10000);
    else {
      g.rope(q, s.n, s.heads, s.headDim, s.startPos, 10000);
      g.rope(k, s.n, s.kvHeads, s.headDim, s.startPos, 10000);
      g.kvStore(kc, k, s.n, s.kvHeads, s.headDim, s.startPos, s.capacity);
    }
    return [await g.readAsync(q, 0, q0.length), await g.readAsync(k, 0, k0.length), await g.readAsync(kc, 0, cache0.length)];
  };
  return [await run(true), await run(false)];
}

describe.skipIf(!be)(`WebGPU fused RoPE + key-cache write${noGpuReason}`, () => {
  test('[ob:webgpu-flat-indexing] [ob:webgpu-flat-maps-indexing] ropeKv equals rope(q), rope(k), kvStore(k) bit for bit (GQA shapes, positions across the cache)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.constantFrom(2, 8, 64, 128), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 0, max: 40 }), fc.integer(), async (kvHeads, rep, headDim, n, startPos, seed) => {
        const shape = { n, startPos, heads: kvHeads * rep, kvHeads, headDim, capacity: startPos + n + (seed & 3) };
        const [fused, plain] = await ropeKvBoth(shape, seed);
        for (const i of [0, 1, 2]) expect(f32Bits(fused?.[i] ?? new Float32Array(0))).toEqual(f32Bits(plain?.[i] ?? new Float32Array(1)));
      }),
      { numRuns: 12 },
    );
  });
});

describe.skipIf(!be)(`WebGPU token ids without per-call buffers${noGpuReason}`, () => {
  test('[ob:webgpu-flat-indexing] several embeds recorded into one submission each read their own ids (pooled id buffers)', async () => {
    const g = be as NonNullable<typeof be>;
    const [rows, cols] = [7, 5];
    const data = randomF32(rows * cols, 9);
    const table = g.prepareWeight({ dtype: 'F32', rows, cols, data });
    const calls = [[1, 2, 3], [6], [0, 0, 5, 4], [3]];
    const outs = calls.map((ids) => g.alloc(ids.length * cols));
    calls.forEach((ids, k) => g.embed(table, ids, outs[k] ?? g.alloc(1)));
    const c0 = g.counters();
    for (const [k, ids] of calls.entries()) {
      const got = await g.readAsync(outs[k] ?? g.alloc(1), 0, ids.length * cols);
      expect(Array.from(got)).toEqual(ids.flatMap((id) => Array.from(data.subarray(id * cols, (id + 1) * cols))));
    }
    calls.forEach((ids, k) => g.embed(table, ids, outs[k] ?? g.alloc(1)));
    await g.readAsync(outs[0] ?? g.alloc(1), 0, cols);
    expect(g.counters().bufferCreations - c0.bufferCreations).toBeLessThanOrEqual(calls.length);
  });
});

describe.skipIf(!be)(`WebGPU product with the residual add fused${noGpuReason}`, () => {
  test('[ob:webgpu-matvec-indexing] matmulAdd equals matmul into tmp then add, bit for bit (Q4_K, Q8_0, Q6_K, F32; n across the matvec chunks and the tiled fallback)', async () => {
    const g = be as NonNullable<typeof be>;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('Q4_K', 'Q8_0', 'Q6_K', 'F32'), fc.integer({ min: 1, max: 20 }), fc.constantFrom(1, 3, 9, 40), fc.integer(), async (dtype, rows, n, seed) => {
        const cols = 256;
        const data = dtype === 'F32' ? randomF32(rows * cols, seed) : randomBlocks(dtype, rows, cols, seed);
        const w = g.prepareWeight({ dtype, rows, cols, data });
        const x = g.upload(randomF32(n * cols, seed + 1));
        const res0 = randomF32(n * rows, seed + 2);
        const [fused, plain, tmp] = [g.upload(res0), g.upload(res0), g.alloc(n * rows)];
        g.matmulAdd(w, x, n, fused, g.alloc(n * rows));
        g.matmul(w, x, n, tmp);
        g.add(plain, tmp, n * rows, plain);
        expect(f32Bits(await g.readAsync(fused, 0, n * rows))).toEqual(f32Bits(await g.readAsync(plain, 0, n * rows)));
      }),
      { numRuns: 12 },
    );
  });
});

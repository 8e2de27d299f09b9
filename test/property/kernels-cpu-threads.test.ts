import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { cpuBackend, matmul, matmulThreaded, threadPool } from '../../src/kernels/cpu/index.js';
import type { ThreadPool } from '../../src/kernels/cpu/pool.js';
import type { WeightMatrix } from '../../src/kernels/types.js';
import { DTYPES, type DType } from '../../src/tensor/dtype.js';
import { naiveMatmul, randomBlocks, randomF32, withReadyThreadPools } from './kernels-helpers.js';

/**
 * The multi-threaded products (worker threads over the shared kernel memory) give the same bits as the
 * one-thread kernel for every thread count, every weight format and every batch size. minWork = 0 forces
 * the threaded path even for tiny matrices, so slice boundaries fall everywhere (including rows < threads).
 */
const be = cpuBackend;
const DTYPES_ALL: DType[] = ['F32', 'Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'];

function pool(threads: number): ThreadPool {
  const p = threadPool(threads);
  if (!p) throw new Error('no WebAssembly kernels on this runtime');
  return p;
}

function weight(dtype: DType, rows: number, cols: number, seed: number): WeightMatrix {
  const data = dtype === 'F32' ? randomF32(rows * cols, seed) : randomBlocks(dtype, rows, cols, seed);
  return be.prepareWeight({ dtype, rows, cols, data });
}

const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

withReadyThreadPools();

describe('threaded matmul', () => {
  test('[ob:threads-invariant] 1, 2 and 3 threads give identical bits for every dtype', () => {
    const p2 = pool(2);
    const p3 = pool(3);
    const before = [p2.workerChunks, p3.workerChunks];
    fc.assert(fc.property(fc.constantFrom(...DTYPES_ALL), fc.integer({ min: 1, max: 45 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 5 }), fc.integer(), (dtype, rows, blocks, n, seed) => {
      const cols = dtype === 'F32' ? 16 * blocks : blocks * DTYPES[dtype].blockSize;
      const w = weight(dtype, rows, cols, seed);
      const x = be.upload(randomF32(n * cols, seed + 1));
      const one = matmul(w, x, n, be.alloc(n * rows));
      const two = matmulThreaded(p2, w, x, n, be.alloc(n * rows), 0);
      const three = matmulThreaded(p3, w, x, n, be.alloc(n * rows), 0);
      expect(bits(two)).toEqual(bits(one));
      expect(bits(three)).toEqual(bits(one));
    }), { numRuns: 120 });
    // the workers did take part (chunks are claimed dynamically, so the caller may run some or most)
    expect(p2.workerChunks).toBeGreaterThan(before[0]!);
    expect(p3.workerChunks).toBeGreaterThan(before[1]!);
  });

  test('[ob:threads-batch-invariant] with 3 threads a batched call equals one-row calls bit for bit', () => {
    const p3 = pool(3);
    fc.assert(fc.property(fc.constantFrom(...DTYPES_ALL), fc.integer({ min: 4, max: 40 }), fc.integer({ min: 2, max: 6 }), fc.integer(), (dtype, rows, n, seed) => {
      const cols = dtype === 'F32' ? 64 : DTYPES[dtype].blockSize;
      const w = weight(dtype, rows, cols, seed);
      const x = be.upload(randomF32(n * cols, seed + 2));
      const batched = matmulThreaded(p3, w, x, n, be.alloc(n * rows), 0);
      for (let t = 0; t < n; t++) {
        const single = matmulThreaded(p3, w, be.upload(x.slice(t * cols, (t + 1) * cols)), 1, be.alloc(rows), 0);
        expect(bits(batched.subarray(t * rows, (t + 1) * rows))).toEqual(bits(single));
      }
    }), { numRuns: 60 });
  });

  test('a large f32 product on 2 threads is the float64 product within float32 accumulation error', () => {
    // Not circular: compared with a float64 triple loop, not with the kernel. Bound as in kernels-wasm: each
    // lane sums cols/4 products in float32, ≤ (cols/4 + 4)·2^-24 · Σ|w·x|.
    const rows = 1000;
    const cols = 256;
    const w = weight('F32', rows, cols, 11);
    const x = be.upload(randomF32(2 * cols, 12));
    const out = matmulThreaded(pool(2), w, x, 2, be.alloc(2 * rows), 0);
    const ref = naiveMatmul(w.data as Float32Array, rows, cols, x, 2);
    let worst = 0;
    for (let i = 0; i < 2 * rows; i++) worst = Math.max(worst, Math.abs(out[i]! - ref[i]!));
    expect(worst).toBeLessThan((cols / 4 + 4) * 2 ** -24 * cols);
    expect(out.some((v) => v !== 0)).toBe(true);
  });
});

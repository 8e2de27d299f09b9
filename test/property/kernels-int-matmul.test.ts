import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { cpuBackend, createCpuBackend, matmul, matmulInt, matmulIntThreaded, threadPool } from '../../src/kernels/cpu/index.js';
import { ACT_BLOCK, type ActFormat, actRowBytes, quantizeActivations } from '../../src/kernels/cpu/int-act.js';
import { INT_TYPES, type IntDType, matmulIntReference } from '../../src/kernels/cpu/int-ref.js';
import { wasmKernels } from '../../src/kernels/cpu/wasm/runtime.js';
import type { WeightMatrix } from '../../src/kernels/types.js';
import { dequantize } from '../../src/tensor/codecs/index.js';
import { randomBlocks, randomF32, withReadyThreadPools } from './kernels-helpers.js';

/**
 * The integer-dot products (activations quantized to 8 bits as ggml does, integer dots per weight block):
 * the SIMD kernels equal the scalar TypeScript reference of the same algorithm bit for bit, for every batch
 * size and thread count, and stay within the activation-rounding bound of the exact product.
 */
const be = cpuBackend;
const INT_DTYPES: IntDType[] = ['Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'IQ4_NL', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K'];
const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

function weight(dtype: IntDType, rows: number, cols: number, seed: number): { host: WeightMatrix; dev: WeightMatrix } {
  const host: WeightMatrix = { dtype, rows, cols, data: randomBlocks(dtype, rows, cols, seed) };
  return { host, dev: be.prepareWeight(host) };
}

function quantized(format: ActFormat, x: Float32Array, n: number, cols: number): Uint8Array {
  const buf = new Uint8Array(n * actRowBytes(format, cols));
  quantizeActivations(format, x, n, cols, buf.buffer, 0);
  return buf;
}

const shape = fc.record({
  dtype: fc.constantFrom(...INT_DTYPES),
  rows: fc.integer({ min: 1, max: 21 }),
  blocks: fc.integer({ min: 1, max: 3 }),
  n: fc.integer({ min: 1, max: 9 }),
  scale: fc.constantFrom(1e-3, 1, 40),
  seed: fc.integer(),
});

describe('integer-dot matmul', () => {
  test('the SIMD kernels are in use, with relaxed SIMD (Node ≥ 20 validates it behind a flag the runtime sets)', () => {
    expect(wasmKernels).toBeDefined();
    expect(wasmKernels?.relaxed).toBe(true);
  });

  test('[ob:int-matmul-equals-reference] SIMD kernel equals the scalar reference bit for bit', () => {
    fc.assert(fc.property(shape, ({ dtype, rows, blocks, n, scale, seed }) => {
      const cols = blocks * INT_TYPES[dtype].block;
      const { host, dev } = weight(dtype, rows, cols, seed);
      const x = randomF32(n * cols, seed + 1, scale);
      const got = matmulInt(dev, be.upload(x), n, be.alloc(n * rows));
      const ref = matmulIntReference(host, quantized(INT_TYPES[dtype].format, x, n, cols), n, new Float32Array(n * rows));
      expect(bits(got)).toEqual(bits(ref));
    }), { numRuns: 200 });
  });

  test('[ob:int-matmul-batch-invariant] row t of a batched call equals the one-row call bit for bit', () => {
    fc.assert(fc.property(shape, ({ dtype, rows, blocks, n, scale, seed }) => {
      const cols = blocks * INT_TYPES[dtype].block;
      const { dev } = weight(dtype, rows, cols, seed);
      const x = be.upload(randomF32(n * cols, seed + 2, scale));
      const batched = matmulInt(dev, x, n, be.alloc(n * rows)).slice();
      for (let t = 0; t < n; t++) {
        const one = matmulInt(dev, be.upload(x.slice(t * cols, (t + 1) * cols)), 1, be.alloc(rows));
        expect(bits(batched.subarray(t * rows, (t + 1) * rows))).toEqual(bits(one));
      }
    }), { numRuns: 80 });
  });

  test('[ob:int-act-quantization] activations reconstruct within half a step; Q8_K sums are the sums of q', () => {
    fc.assert(fc.property(fc.constantFrom<ActFormat>('Q8_0', 'Q8_K'), fc.integer({ min: 1, max: 3 }), fc.constantFrom(1e-4, 1, 300), fc.integer(), (format, blocks, scale, seed) => {
      const B = ACT_BLOCK[format];
      const cols = B * blocks;
      const x = randomF32(cols, seed, scale);
      const buf = quantized(format, x, 1, cols);
      const q = new Int8Array(buf.buffer, 0, cols);
      const d = new Float32Array(buf.buffer, cols, cols / B);
      for (let e = 0; e < cols; e++) {
        const de = Math.abs(d[Math.floor(e / B)]!);
        expect(Math.abs(q[e]!)).toBeLessThanOrEqual(127);
        // half a step, plus (Q8_0) the f16 rounding of d (q was rounded with 127/amax, d stored as f16: ≤ 127·2^-11·d,
        // or 127·2^-25 where d is an f16 subnormal)
        expect(Math.abs(x[e]! - d[Math.floor(e / B)]! * q[e]!)).toBeLessThanOrEqual(de * (0.5 + 2 ** -4) + 2 ** -22 * Math.abs(x[e]!) + 127 * 2 ** -25);
      }
      if (format === 'Q8_K') {
        const sums = new Int16Array(buf.buffer, cols + 4 * blocks, cols / 32);
        sums.forEach((s, j) => expect(s).toBe(q.subarray(32 * j, 32 * j + 32).reduce((a, b) => a + b, 0)));
        const sums16 = new Int16Array(buf.buffer, cols + 4 * blocks + cols / 16, cols / 16);
        sums16.forEach((s, j) => expect(s).toBe(q.subarray(16 * j, 16 * j + 16).reduce((a, b) => a + b, 0)));
      }
    }), { numRuns: 150 });
  });

  test('[ob:int-act-simd-equals-scalar] the SIMD Q8_K quantizer writes the scalar form\'s bytes (tied maxima, zero blocks, NaN, ±inf)', () => {
    const k = wasmKernels;
    if (k === undefined) return;
    const special = fc.constantFrom(0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1e-40);
    fc.assert(fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 }), fc.constantFrom(1e-4, 1, 300), fc.integer(), fc.constantFrom('plain', 'ties', 'zero-block', 'special'), fc.array(fc.tuple(fc.nat(), special), { maxLength: 4 }), (blocks, n, scale, seed, kind, specials) => {
      const cols = 256 * blocks;
      const host = randomF32(n * cols, seed, scale);
      // ties: the block's largest magnitude repeated with both signs (the first one sets the sign of d)
      if (kind === 'ties') for (let i = 0; i < host.length; i += 37) host[i] = (i % 2 ? -1 : 1) * 2 * scale;
      if (kind === 'zero-block') host.fill(0, 0, 256);
      if (kind === 'special') for (const [i, v] of specials) host[i % host.length] = v;
      const x = k.allocF32(n * cols);
      const dst = k.allocBytes(n * actRowBytes('Q8_K', cols));
      if (x === undefined || dst === undefined) return;
      x.set(host);
      quantizeActivations('Q8_K', x, n, cols, dst.buffer, dst.byteOffset);
      expect(Array.from(dst)).toEqual(Array.from(quantized('Q8_K', host, n, cols)));
      k.release(x);
      k.release(dst);
    }), { numRuns: 200 });
  });

  test('[ob:int-matmul-error-bound] within the activation-rounding bound of the exact product of the stored weights', () => {
    fc.assert(fc.property(shape, ({ dtype, rows, blocks, n, scale, seed }) => {
      const cols = blocks * INT_TYPES[dtype].block;
      const { host, dev } = weight(dtype, rows, cols, seed);
      const x = randomF32(n * cols, seed + 3, scale);
      const got = matmulInt(dev, be.upload(x), n, be.alloc(n * rows));
      const wf = dequantize(dtype, host.data as Uint8Array, rows * cols);
      const act = quantized(INT_TYPES[dtype].format, x, n, cols);
      const B = ACT_BLOCK[INT_TYPES[dtype].format];
      for (let t = 0; t < n; t++) {
        const d = new Float32Array(act.buffer, t * actRowBytes(INT_TYPES[dtype].format, cols) + cols, cols / B);
        for (let r = 0; r < rows; r++) {
          let exact = 0;
          let bound = 0;
          let mag = 0;
          for (let c = 0; c < cols; c++) {
            const w = wf[r * cols + c]!;
            exact += w * x[t * cols + c]!;
            bound += Math.abs(w) * Math.abs(d[Math.floor(c / B)]!) * (0.5 + 2 ** -4);
            mag += Math.abs(w * x[t * cols + c]!);
          }
          expect(Math.abs(got[t * rows + r]! - exact)).toBeLessThanOrEqual(bound + 2 ** -18 * mag + 1e-30);
        }
      }
    }), { numRuns: 100 });
  });
});

describe('integer-dot matmul on threads', () => {
  withReadyThreadPools();

  test('[ob:int-matmul-threads-invariant] 1, 2 and 3 threads give identical bits', () => {
    const p2 = threadPool(2)!;
    const p3 = threadPool(3)!;
    const before = p2.workerChunks + p3.workerChunks;
    fc.assert(fc.property(shape, ({ dtype, rows, blocks, n, scale, seed }) => {
      const cols = blocks * INT_TYPES[dtype].block;
      const { dev } = weight(dtype, rows + 8, cols, seed);
      const x = be.upload(randomF32(n * cols, seed + 4, scale));
      const R = rows + 8;
      const one = matmulInt(dev, x, n, be.alloc(n * R)).slice();
      expect(bits(matmulIntThreaded(p2, dev, x, n, be.alloc(n * R), 0))).toEqual(bits(one));
      expect(bits(matmulIntThreaded(p3, dev, x, n, be.alloc(n * R), 0))).toEqual(bits(one));
    }), { numRuns: 80 });
    expect(p2.workerChunks + p3.workerChunks).toBeGreaterThan(before);
  });

  test('createCpuBackend({ integerDot: false }) keeps the exact products (parity reference), on 1 and 2 threads', () => {
    const exact1 = createCpuBackend({ threads: 1, integerDot: false });
    const exact2 = createCpuBackend({ threads: 2, integerDot: false, minWork: 0 });
    fc.assert(fc.property(shape, ({ dtype, rows, blocks, n, scale, seed }) => {
      const cols = blocks * INT_TYPES[dtype].block;
      const { dev } = weight(dtype, rows + 8, cols, seed);
      const x = be.upload(randomF32(n * cols, seed + 5, scale));
      const R = rows + 8;
      const ref = matmul(dev, x, n, be.alloc(n * R)).slice();
      for (const b of [exact1, exact2]) {
        const out = be.alloc(n * R);
        b.matmul(dev, x, n, out);
        expect(bits(out)).toEqual(bits(ref));
      }
    }), { numRuns: 30 });
  });
});

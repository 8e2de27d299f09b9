import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { attention, cpuBackend, decodeBlockRow, kvStore, matmul, matvec } from '../../src/kernels/cpu/index.js';
import { wasmKernels } from '../../src/kernels/cpu/wasm/runtime.js';
import type { WeightMatrix } from '../../src/kernels/types.js';
import { dequantize } from '../../src/tensor/codecs/index.js';
import { DTYPES, type DType } from '../../src/tensor/dtype.js';
import { naiveMatmul, randomBlocks, randomF32 } from './kernels-helpers.js';

/**
 * The WebAssembly SIMD forms of the kernels, taken when every buffer lives in the kernel memory
 * (cpuBackend.alloc / upload / prepareWeight). Same obligations as the TypeScript forms.
 */
const be = cpuBackend;
const onHeap = (a: Float32Array): Float32Array => be.upload(a);
const QUANT: DType[] = ['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'];

function weight(dtype: DType, rows: number, cols: number, seed: number): WeightMatrix {
  const data = dtype === 'F32' ? randomF32(rows * cols, seed) : randomBlocks(dtype, rows, cols, seed);
  return be.prepareWeight({ dtype, rows, cols, data });
}

describe('WebAssembly SIMD kernels', () => {
  test('are available on this runtime (Node ≥ 16 has SIMD128)', () => {
    expect(wasmKernels).toBeDefined();
    expect(be.name).toBe('cpu-simd');
    const w = weight('F32', 2, 8, 1);
    expect(wasmKernels?.owns(w.data)).toBe(true);
  });

  test('[ob:matmul-definition] f32 product within float32 accumulation error of the float64 sum', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 5 }), fc.integer(), (rows, c8, n, seed) => {
      const cols = 8 * c8;
      const w = weight('F32', rows, cols, seed);
      const x = onHeap(randomF32(n * cols, seed + 1));
      const out = matmul(w, x, n, be.alloc(n * rows));
      const ref = naiveMatmul(w.data as Float32Array, rows, cols, x, n);
      // float32 lanes: each lane sums ≤ cols/4 products, ≤ (cols/4 + 3)·2^-24 relative error of Σ|w·x|
      for (let t = 0; t < n; t++) for (let r = 0; r < rows; r++) {
        let mag = 0;
        for (let c = 0; c < cols; c++) mag += Math.abs((w.data as Float32Array)[r * cols + c]! * x[t * cols + c]!);
        expect(Math.abs(out[t * rows + r]! - ref[t * rows + r]!)).toBeLessThanOrEqual((cols / 4 + 4) * 2 ** -24 * mag + 1e-30);
      }
    }), { numRuns: 150 });
  });

  test('[ob:matmul-batch-invariant] batched rows equal one-row calls bit for bit (f32 and blocks)', () => {
    fc.assert(fc.property(fc.constantFrom<DType>('F32', ...QUANT), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 2, max: 7 }), fc.integer(), (dtype, rows, blocks, n, seed) => {
      const cols = dtype === 'F32' ? 16 * blocks : blocks * DTYPES[dtype].blockSize;
      const w = weight(dtype, rows, cols, seed);
      const x = onHeap(randomF32(n * cols, seed + 3));
      const batched = matmul(w, x, n, be.alloc(n * rows));
      for (let t = 0; t < n; t++) {
        const single = matvec(w, onHeap(x.slice(t * cols, (t + 1) * cols)), be.alloc(rows));
        expect(Array.from(batched.subarray(t * rows, (t + 1) * rows))).toEqual(Array.from(single));
      }
    }), { numRuns: 60 });
  });

  test('[ob:quant-matmul-equals-dequant] SIMD block products equal the SIMD f32 product of the codec-dequantized matrix', () => {
    fc.assert(fc.property(fc.constantFrom(...QUANT), fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 3 }), fc.integer(), (dtype, rows, blocks, n, seed) => {
      const cols = blocks * DTYPES[dtype].blockSize;
      const host = randomBlocks(dtype, rows, cols, seed);
      const q = be.prepareWeight({ dtype, rows, cols, data: host });
      const f = be.prepareWeight({ dtype: 'F32', rows, cols, data: dequantize(dtype, host, rows * cols) });
      const x = onHeap(randomF32(n * cols, seed + 5));
      const a = matmul(q, x, n, be.alloc(n * rows));
      const b = matmul(f, x, n, be.alloc(n * rows));
      // The SIMD decoders produce the codec's float32 values, and the sums run in one order: identical bits.
      expect(Array.from(a)).toEqual(Array.from(b));
      // and the TypeScript row decoder agrees with the codec too
      expect(Array.from(decodeBlockRow(dtype, host, rows - 1, cols, new Float32Array(cols)))).toEqual(Array.from(dequantize(dtype, host, rows * cols).subarray((rows - 1) * cols)));
    }), { numRuns: 80 });
  });

  test('a matrix with cols not a multiple of 4 takes the TypeScript form consistently', () => {
    const w = weight('F32', 3, 13, 4);
    const x = onHeap(randomF32(2 * 13, 5));
    const out = matmul(w, x, 2, be.alloc(6));
    const ref = naiveMatmul(w.data as Float32Array, 3, 13, x, 2);
    ref.forEach((v, i) => expect(Math.abs(out[i]! - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -23 + 1e-12));
  });
});

describe('WebAssembly SIMD attention', () => {
  const shapes = fc.record({ kvHeads: fc.integer({ min: 1, max: 3 }), group: fc.integer({ min: 1, max: 3 }), d: fc.constantFrom(8, 16, 32), total: fc.integer({ min: 1, max: 20 }), seed: fc.integer() });

  function setup(s: { kvHeads: number; group: number; d: number; total: number; seed: number }) {
    const heads = s.kvHeads * s.group;
    const capacity = s.total + 2;
    const kRows = randomF32(s.total * s.kvHeads * s.d, s.seed);
    const vRows = randomF32(s.total * s.kvHeads * s.d, s.seed + 1);
    const q = onHeap(randomF32(s.total * heads * s.d, s.seed + 2));
    const kc = be.alloc(s.kvHeads * capacity * s.d);
    const vc = be.alloc(s.kvHeads * capacity * s.d);
    kvStore(kc, kRows, s.total, s.kvHeads, s.d, 0, capacity);
    kvStore(vc, vRows, s.total, s.kvHeads, s.d, 0, capacity);
    return { heads, capacity, kRows, vRows, q, kc, vc };
  }

  test('[ob:attention-definition] equals the TypeScript float64 form within float32 rounding', () => {
    fc.assert(fc.property(shapes, (s) => {
      const { heads, capacity, q, kc, vc } = setup(s);
      const shape = { n: s.total, startPos: 0, heads, kvHeads: s.kvHeads, headDim: s.d, capacity };
      const simd = attention(q, kc, vc, shape, be.alloc(s.total * heads * s.d));
      const plain = attention(Float32Array.from(q), Float32Array.from(kc), Float32Array.from(vc), shape, new Float32Array(s.total * heads * s.d));
      // |v| ≤ 1 and weights sum to 1: float32 scores/probabilities/sums differ by ≲ 1e-6
      plain.forEach((v, i) => expect(Math.abs(simd[i]! - v)).toBeLessThanOrEqual(2e-6));
    }), { numRuns: 100 });
  });

  test('[ob:attention-batch-invariant] a batched call equals one-row calls bit for bit', () => {
    fc.assert(fc.property(shapes, (s) => {
      const { heads, capacity, q, kc, vc } = setup(s);
      const row = heads * s.d;
      const batched = attention(q, kc, vc, { n: s.total, startPos: 0, heads, kvHeads: s.kvHeads, headDim: s.d, capacity }, be.alloc(s.total * row));
      for (let t = 0; t < s.total; t++) {
        const one = attention(onHeap(q.slice(t * row, (t + 1) * row)), kc, vc, { n: 1, startPos: t, heads, kvHeads: s.kvHeads, headDim: s.d, capacity }, be.alloc(row));
        expect(Array.from(one)).toEqual(Array.from(batched.subarray(t * row, (t + 1) * row)));
      }
    }), { numRuns: 60 });
  });
});

describe('kernel memory', () => {
  test('allocations are 64-byte aligned, disjoint, zero-filled, and released memory is reused', () => {
    const k = wasmKernels;
    if (!k) throw new Error('no wasm');
    const views = [7, 100, 1, 4096, 33].map((n) => k.allocF32(n)!);
    for (const v of views) {
      expect(v.byteOffset % 64).toBe(0);
      expect(v.every((x) => x === 0)).toBe(true);
    }
    const spans = views.map((v) => [v.byteOffset, v.byteOffset + v.byteLength] as const).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
    views[3]!.fill(5);
    const before = k.allocatedBytes();
    const freedAt = views[3]!.byteOffset;
    k.release(views[3]!);
    expect(k.allocatedBytes()).toBe(before - 4096 * 4);
    const again = k.allocF32(4096)!;
    expect(again.byteOffset).toBe(freedAt);
    expect(again.every((x) => x === 0)).toBe(true);
  });

  test('growth keeps earlier buffers valid', () => {
    const k = wasmKernels!;
    const a = k.allocF32(16)!;
    a.fill(3);
    const big = k.allocF32(8 * 1024 * 1024);
    expect(big).toBeDefined();
    expect(Array.from(a)).toEqual(Array(16).fill(3));
    k.release(big!);
  });
});

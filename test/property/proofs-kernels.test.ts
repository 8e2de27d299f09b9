/**
 * Property tests for the obligations whose index arithmetic and real-number form are proved in proofs/
 * (attention, KV cache, RoPE, softmax, RMSNorm, block rows, APR alignment): each exercises the kernel with
 * buffers of exactly the size its precondition names, so an out-of-range read (undefined → NaN) or write
 * (lost, or a sentinel overwritten) shows.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { align64 } from '../../src/formats/apr/layout.js';
import { attention, kvStore } from '../../src/kernels/cpu/attention.js';
import { decodeBlockRow } from '../../src/kernels/cpu/blocks.js';
import { rmsnorm } from '../../src/kernels/cpu/norm.js';
import { rope } from '../../src/kernels/cpu/rope.js';
import { softmax } from '../../src/kernels/cpu/softmax.js';
import { dequantize, quantize } from '../../src/tensor/codecs/index.js';
import { byteSize, DTYPES } from '../../src/tensor/dtype.js';

function filled(n: number, f: (i: number) => number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => f(i));
}

const gqaShape = fc.record({
  kvHeads: fc.integer({ min: 1, max: 4 }),
  rep: fc.integer({ min: 1, max: 4 }),
  headDim: fc.integer({ min: 1, max: 8 }),
  n: fc.integer({ min: 1, max: 4 }),
  startPos: fc.integer({ min: 0, max: 5 }),
  slack: fc.integer({ min: 0, max: 3 }),
});

describe('attention and KV cache indexing', () => {
  it('query head h reads KV head ⌊h/rep⌋ and stays inside exact-size caches [ob:attention-gqa-indexing]', () => {
    fc.assert(fc.property(gqaShape, ({ kvHeads, rep, headDim, n, startPos, slack }) => {
      const heads = kvHeads * rep, capacity = startPos + n + slack;
      const shape = { n, startPos, heads, kvHeads, headDim, capacity };
      // Keys all zero (uniform attention); every value of KV head g is g + 1, so out reveals which head was read.
      const k = new Float32Array(kvHeads * capacity * headDim);
      const v = filled(kvHeads * capacity * headDim, (i) => Math.floor(i / (capacity * headDim)) + 1);
      const q = filled(n * heads * headDim, (i) => (i % 7) - 3);
      const out = attention(q, k, v, shape, new Float32Array(n * heads * headDim));
      for (let t = 0; t < n; t++) for (let h = 0; h < heads; h++) for (let i = 0; i < headDim; i++) {
        if (out[(t * heads + h) * headDim + i] !== Math.floor(h / rep) + 1) return false;
      }
      return true;
    }), { numRuns: 300 });
  });

  it('kvStore fills exactly the (head, position) rows it owns, reading an exact-size source [ob:kv-store-indexing]', () => {
    fc.assert(fc.property(gqaShape, ({ kvHeads, headDim, n, startPos, slack }) => {
      const capacity = startPos + n + slack;
      const cache = new Float32Array(kvHeads * capacity * headDim).fill(NaN);
      const src = filled(n * kvHeads * headDim, (i) => i);
      kvStore(cache, src, n, kvHeads, headDim, startPos, capacity);
      for (let g = 0; g < kvHeads; g++) for (let p = 0; p < capacity; p++) for (let i = 0; i < headDim; i++) {
        const got = cache[(g * capacity + p) * headDim + i] ?? 0;
        const t = p - startPos;
        if (t >= 0 && t < n ? got !== src[(t * kvHeads + g) * headDim + i] : !Number.isNaN(got)) return false;
      }
      return true;
    }), { numRuns: 300 });
  });
});

describe('RoPE indexing', () => {
  it('rotates the pairs (i, i + d/2) of every head in place, inside an exact-size buffer [ob:rope-indexing]', () => {
    const shape = fc.record({ n: fc.integer({ min: 1, max: 4 }), heads: fc.integer({ min: 1, max: 4 }), half: fc.integer({ min: 1, max: 8 }), startPos: fc.integer({ min: 0, max: 50 }) });
    fc.assert(fc.property(shape, ({ n, heads, half, startPos }) => {
      const d = 2 * half;
      const x0 = filled(n * heads * d, (i) => Math.sin(i + 1));
      const x = rope(Float32Array.from(x0), n, heads, d, startPos, 10000);
      for (let r = 0; r < n; r++) for (let h = 0; h < heads; h++) for (let i = 0; i < half; i++) {
        const o = (r * heads + h) * d;
        const before = (x0[o + i] ?? 0) ** 2 + (x0[o + i + half] ?? 0) ** 2;
        const after = (x[o + i] ?? NaN) ** 2 + (x[o + i + half] ?? NaN) ** 2;
        // A rotation keeps each pair's norm; float32 cos/sin and storage allow 1e-5 relative.
        if (!(Math.abs(after - before) <= 1e-5 * Math.max(before, 1e-6))) return false;
      }
      return true;
    }), { numRuns: 300 });
  });
});

describe('softmax and RMSNorm', () => {
  it('softmax outputs lie in [0, 1] and sum to 1 up to float32 storage (n·2^-24) [ob:softmax-range]', () => {
    const vec = fc.array(fc.oneof(fc.double({ min: -1e4, max: 1e4, noNaN: true }), fc.constant(-Infinity)), { minLength: 1, maxLength: 64 }).filter((a) => a.some((v) => v > -Infinity));
    fc.assert(fc.property(vec, (a) => {
      const p = softmax(Float32Array.from(a));
      let s = 0;
      for (const v of p) {
        if (!(v >= 0 && v <= 1)) return false;
        s += v;
      }
      return Math.abs(s - 1) <= p.length * 2 ** -24;
    }), { numRuns: 500 });
  });

  it('RMSNorm output has mean square ms/(ms + eps) (float32 storage: 1e-6 relative) [ob:rmsnorm-normalizes]', () => {
    const row = fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: 1, maxLength: 64 });
    fc.assert(fc.property(row, fc.double({ min: 1e-8, max: 1, noNaN: true }), (a, eps) => {
      const x = Float32Array.from(a);
      const y = rmsnorm(x, new Float32Array(x.length).fill(1), eps, 1, x.length, new Float32Array(x.length));
      let ms = 0, ys = 0;
      for (let i = 0; i < x.length; i++) { ms += (x[i] ?? 0) ** 2; ys += (y[i] ?? 0) ** 2; }
      ms /= x.length; ys /= x.length;
      return Math.abs(ys - ms / (ms + eps)) <= 1e-6 * Math.max(1, ys);
    }), { numRuns: 500 });
  });
});

describe('tensor layout (tensor-layout-v1)', () => {
  const DECODED = ['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'] as const;

  it('decodeBlockRow decodes every row of an exact-size matrix as dequantize does [ob:block-row-offset-in-bounds]', () => {
    fc.assert(fc.property(fc.constantFrom(...DECODED), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), (dtype, rows, nb) => {
      const cols = nb * DTYPES[dtype].blockSize;
      const data = quantize(dtype, filled(rows * cols, (i) => Math.sin(i * 0.37)));
      expect(data.byteLength).toBe(byteSize(dtype, [rows, cols]));
      const all = dequantize(dtype, data, rows * cols);
      for (let r = 0; r < rows; r++) {
        const row = decodeBlockRow(dtype, data, r, cols, new Float32Array(cols));
        expect([...row]).toEqual([...all.subarray(r * cols, (r + 1) * cols)]);
      }
      // The precondition that the proof assumes is tight: one row past the end is refused.
      expect(() => decodeBlockRow(dtype, data, rows, cols, new Float32Array(cols))).toThrow(/row lies inside data/);
    }), { numRuns: 100 });
  });

  it('align64(n) is the least multiple of 64 ≥ n, also past 2^31 [ob:apr-align64]', () => {
    const edges = [0, 1, 63, 64, 65, 2 ** 31 - 1, 2 ** 31, 2 ** 32 + 1, 2 ** 53 - 64];
    const check = (n: number): boolean => {
      const a = align64(n);
      return a >= n && a - n < 64 && a % 64 === 0 && Number.isSafeInteger(a);
    };
    for (const n of edges) expect(check(n), `n = ${n}`).toBe(true);
    fc.assert(fc.property(fc.integer({ min: 0, max: 2 ** 40 }), check), { numRuns: 2000 });
  });
});

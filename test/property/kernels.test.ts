import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { add, addBias, attention, decodeBlockRow, embed, kvStore, matmul, matvec, rmsnorm, rope, softmax, swiglu } from '../../src/kernels/cpu/index.js';
import type { WeightMatrix } from '../../src/kernels/types.js';
import { DTYPES, type DType } from '../../src/tensor/dtype.js';
import { dequantize } from '../../src/tensor/codecs/index.js';
import { naiveMatmul, randomBlocks, randomF32 } from './kernels-helpers.js';

const QUANT: DType[] = ['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'];

describe('matmul', () => {
  test('[ob:matmul-definition] f32 matmul equals the float64 sum to float32 rounding', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 9 }), fc.integer({ min: 1, max: 70 }), fc.integer({ min: 1, max: 5 }), fc.integer(), (rows, cols, n, seed) => {
      const w = randomF32(rows * cols, seed);
      const x = randomF32(n * cols, seed + 1);
      const out = matmul({ dtype: 'F32', rows, cols, data: w }, x, n, new Float32Array(n * rows));
      const ref = naiveMatmul(w, rows, cols, x, n);
      // Float64 accumulation then one float32 rounding: relative error ≤ 2^-24 plus float64 noise.
      for (let i = 0; i < ref.length; i++) expect(Math.abs(out[i]! - ref[i]!)).toBeLessThanOrEqual(Math.abs(ref[i]!) * 2 ** -23 + 1e-12);
    }), { numRuns: 200 });
  });

  test('[ob:matmul-batch-invariant] row t of a batched call equals a one-row call bit for bit (f32 and quantized)', () => {
    fc.assert(fc.property(fc.constantFrom<DType>('F32', ...QUANT), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 2, max: 6 }), fc.integer(), (dtype, rows, blocks, n, seed) => {
      const cols = dtype === 'F32' ? blocks * 13 : blocks * DTYPES[dtype].blockSize;
      const w: WeightMatrix = dtype === 'F32' ? { dtype, rows, cols, data: randomF32(rows * cols, seed) } : { dtype, rows, cols, data: randomBlocks(dtype, rows, cols, seed) };
      const x = randomF32(n * cols, seed + 3);
      const batched = matmul(w, x, n, new Float32Array(n * rows));
      for (let t = 0; t < n; t++) {
        const single = matvec(w, x.subarray(t * cols, (t + 1) * cols), new Float32Array(rows));
        expect(Array.from(batched.subarray(t * rows, (t + 1) * rows))).toEqual(Array.from(single));
      }
    }), { numRuns: 60 });
  });

  test('[ob:quant-matmul-equals-dequant] quantized matvec equals dequantize-then-f32 matvec (codecs dequantize)', () => {
    fc.assert(fc.property(fc.constantFrom(...QUANT), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 3 }), fc.integer(), (dtype, rows, blocks, seed) => {
      const cols = blocks * DTYPES[dtype].blockSize;
      const data = randomBlocks(dtype, rows, cols, seed);
      const x = randomF32(cols, seed + 5);
      const dense = dequantize(dtype, data, rows * cols);
      const q = matvec({ dtype, rows, cols, data }, x, new Float32Array(rows));
      const f = matvec({ dtype: 'F32', rows, cols, data: dense }, x, new Float32Array(rows));
      // Both decode to the same float32 weights and sum in the same order: bit-identical, not just close.
      expect(Array.from(q)).toEqual(Array.from(f));
    }), { numRuns: 80 });
  });

  test('[ob:block-decode-matches-ggml] row decoders equal the whole-tensor codecs, row by row', () => {
    fc.assert(fc.property(fc.constantFrom(...QUANT), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 3 }), fc.integer(), (dtype, rows, blocks, seed) => {
      const cols = blocks * DTYPES[dtype].blockSize;
      const data = randomBlocks(dtype, rows, cols, seed);
      const dense = dequantize(dtype, data, rows * cols);
      for (let r = 0; r < rows; r++) {
        const row = decodeBlockRow(dtype, data, r, cols, new Float32Array(cols));
        expect(Array.from(row)).toEqual(Array.from(dense.subarray(r * cols, (r + 1) * cols)));
      }
    }), { numRuns: 60 });
  });

  test('[ob:embed-gather] embedding rows are the (decoded) table rows', () => {
    const rows = 11;
    const cols = 64;
    const data = randomBlocks('Q8_0', rows, cols, 9);
    const dense = dequantize('Q8_0', data, rows * cols);
    const ids = [3, 0, 10, 3];
    const q = embed({ dtype: 'Q8_0', rows, cols, data }, ids, new Float32Array(ids.length * cols));
    const f = embed({ dtype: 'F32', rows, cols, data: dense }, ids, new Float32Array(ids.length * cols));
    ids.forEach((id, t) => {
      expect(Array.from(q.subarray(t * cols, (t + 1) * cols))).toEqual(Array.from(dense.subarray(id * cols, (id + 1) * cols)));
      expect(Array.from(f.subarray(t * cols, (t + 1) * cols))).toEqual(Array.from(dense.subarray(id * cols, (id + 1) * cols)));
    });
    expect(() => embed({ dtype: 'F32', rows, cols, data: dense }, [rows], new Float32Array(cols))).toThrow(/token ids/);
  });

  test('contract rejects a weight whose bytes do not match its shape', () => {
    const w: WeightMatrix = { dtype: 'Q4_K', rows: 2, cols: 256, data: new Uint8Array(144) };
    expect(() => matvec(w, new Float32Array(256), new Float32Array(2))).toThrow(/weight bytes/);
  });
});

describe('rmsnorm, swiglu, add', () => {
  test('[ob:rmsnorm-definition] rmsnorm equals x/sqrt(mean x² + eps)·w', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 3 }), fc.integer(), (dim, n, seed) => {
      const x = randomF32(n * dim, seed, 3);
      const w = randomF32(dim, seed + 1);
      const out = rmsnorm(x, w, 1e-5, n, dim, new Float32Array(n * dim));
      for (let t = 0; t < n; t++) {
        let ss = 0;
        for (let i = 0; i < dim; i++) ss += x[t * dim + i]! ** 2;
        const r = 1 / Math.sqrt(ss / dim + 1e-5);
        for (let i = 0; i < dim; i++) {
          const want = x[t * dim + i]! * r * w[i]!;
          expect(Math.abs(out[t * dim + i]! - want)).toBeLessThanOrEqual(Math.abs(want) * 2 ** -23 + 1e-30);
        }
      }
    }), { numRuns: 100 });
  });

  test('[ob:swiglu-definition] swiglu equals silu(g)·u', () => {
    const g = Float32Array.from([-30, -1, 0, 0.5, 2, 40]);
    const u = Float32Array.from([1, 2, 3, -1, 0.25, 1]);
    const out = swiglu(g, u, 6, new Float32Array(6));
    const want = [-30 / (1 + Math.exp(30)), (-1 / (1 + Math.E)) * 2, 0, (0.5 / (1 + Math.exp(-0.5))) * -1, (2 / (1 + Math.exp(-2))) * 0.25, 40 / (1 + Math.exp(-40))];
    want.forEach((v, i) => expect(Math.abs(out[i]! - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -23 + 1e-30));
  });

  test('[ob:add-bias-definition] addBias adds bias[i] to column i of every row', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 4 }), fc.integer(), (dim, n, seed) => {
      const x = randomF32(n * dim, seed);
      const bias = randomF32(dim, seed + 1);
      const want = x.map((v, i) => Math.fround(v + bias[i % dim]!));
      expect(Array.from(addBias(x, bias, n, dim))).toEqual(Array.from(want));
    }), { numRuns: 50 });
  });

  test('[ob:add-exact] add is the float32-rounded sum and may write in place', () => {
    const a = randomF32(33, 1);
    const b = randomF32(33, 2);
    const want = a.map((v, i) => Math.fround(v + b[i]!));
    add(a, b, 33, a);
    expect(Array.from(a)).toEqual(Array.from(want));
  });
});

describe('rope', () => {
  test('[ob:rope-rotate-half] rope equals the rotate_half formula with float64 angles', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 300 }), fc.integer(), (halfDim, heads, startPos, seed) => {
      const d = 2 * halfDim;
      const n = 2;
      const x = randomF32(n * heads * d, seed);
      const orig = Float32Array.from(x);
      rope(x, n, heads, d, startPos, 10000);
      for (let t = 0; t < n; t++) for (let h = 0; h < heads; h++) for (let i = 0; i < halfDim; i++) {
        const o = (t * heads + h) * d;
        const ang = (startPos + t) / 10000 ** ((2 * i) / d);
        const a = orig[o + i]!;
        const b = orig[o + i + halfDim]!;
        // float32 angle and cos/sin tables (as transformers): |Δangle| ≤ pos·2^-23, so allow 1e-4 absolute.
        expect(Math.abs(x[o + i]! - (a * Math.cos(ang) - b * Math.sin(ang)))).toBeLessThan(1e-4);
        expect(Math.abs(x[o + i + halfDim]! - (b * Math.cos(ang) + a * Math.sin(ang)))).toBeLessThan(1e-4);
        // rotation preserves the norm of each (i, i + d/2) pair
        expect(Math.abs(Math.hypot(x[o + i]!, x[o + i + halfDim]!) - Math.hypot(a, b))).toBeLessThan(1e-5);
      }
    }), { numRuns: 100 });
  });

  test('[ob:rope-position-zero-identity] position 0 leaves the vector unchanged', () => {
    const x = randomF32(2 * 16, 4);
    const orig = Float32Array.from(x);
    rope(x, 1, 2, 16, 0, 500000);
    expect(Array.from(x)).toEqual(Array.from(orig));
  });
});

describe('softmax', () => {
  test('[ob:softmax-sums-to-one] softmax sums to 1 and lies in [0, 1]', () => {
    fc.assert(fc.property(fc.array(fc.float({ min: -1e4, max: 1e4, noNaN: true }), { minLength: 1, maxLength: 300 }), (vals) => {
      const p = softmax(Float32Array.from(vals));
      let s = 0;
      for (const v of p) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
        s += v;
      }
      // float32 storage of each p_i: the sum is within n·2^-24 of 1.
      expect(Math.abs(s - 1)).toBeLessThanOrEqual(vals.length * 2 ** -24 + 1e-7);
    }), { numRuns: 200 });
  });

  test('[ob:softmax-shift-invariant] softmax(x + c) = softmax(x)', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: -50, max: 50 }), { minLength: 1, maxLength: 50 }), fc.integer({ min: -1000, max: 1000 }), (vals, c) => {
      const a = softmax(Float32Array.from(vals));
      const b = softmax(Float32Array.from(vals.map((v) => v + c)));
      a.forEach((v, i) => expect(Math.abs(v - b[i]!)).toBeLessThanOrEqual(1e-7));
    }), { numRuns: 100 });
  });
});

/** Independent attention: explicit repeat_kv and a causal mask, float64 throughout. */
function naiveAttention(q: Float32Array, k: Float32Array, v: Float32Array, total: number, n: number, heads: number, kvHeads: number, d: number): Float64Array {
  const out = new Float64Array(n * heads * d);
  const start = total - n;
  for (let t = 0; t < n; t++) for (let h = 0; h < heads; h++) {
    const g = Math.floor(h / (heads / kvHeads));
    const w: number[] = [];
    for (let j = 0; j < total; j++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += q[(t * heads + h) * d + i]! * k[(j * kvHeads + g) * d + i]!;
      w.push(j <= start + t ? s / Math.sqrt(d) : -Infinity);
    }
    const m = Math.max(...w);
    const e = w.map((s) => Math.exp(s - m));
    const z = e.reduce((a, b) => a + b, 0);
    for (let i = 0; i < d; i++) {
      let acc = 0;
      for (let j = 0; j < total; j++) acc += (e[j]! / z) * v[(j * kvHeads + g) * d + i]!;
      out[(t * heads + h) * d + i] = acc;
    }
  }
  return out;
}

describe('attention', () => {
  const shapes = fc.record({ kvHeads: fc.integer({ min: 1, max: 3 }), group: fc.integer({ min: 1, max: 3 }), d: fc.constantFrom(2, 4, 8), total: fc.integer({ min: 1, max: 12 }), seed: fc.integer() });

  function setup(s: { kvHeads: number; group: number; d: number; total: number; seed: number }, capacity: number) {
    const heads = s.kvHeads * s.group;
    const kRows = randomF32(s.total * s.kvHeads * s.d, s.seed);
    const vRows = randomF32(s.total * s.kvHeads * s.d, s.seed + 1);
    const q = randomF32(s.total * heads * s.d, s.seed + 2);
    const kc = new Float32Array(s.kvHeads * capacity * s.d);
    const vc = new Float32Array(s.kvHeads * capacity * s.d);
    kvStore(kc, kRows, s.total, s.kvHeads, s.d, 0, capacity);
    kvStore(vc, vRows, s.total, s.kvHeads, s.d, 0, capacity);
    return { heads, kRows, vRows, q, kc, vc };
  }

  test('[ob:attention-definition] causal GQA attention equals the naive float64 computation', () => {
    fc.assert(fc.property(shapes, (s) => {
      const capacity = s.total + 3;
      const { heads, kRows, vRows, q, kc, vc } = setup(s, capacity);
      const out = attention(q, kc, vc, { n: s.total, startPos: 0, heads, kvHeads: s.kvHeads, headDim: s.d, capacity }, new Float32Array(s.total * heads * s.d));
      const ref = naiveAttention(q, kRows, vRows, s.total, s.total, heads, s.kvHeads, s.d);
      ref.forEach((v, i) => expect(Math.abs(out[i]! - v)).toBeLessThanOrEqual(1e-6));
    }), { numRuns: 100 });
  });

  test('[ob:attention-batch-invariant] a batched call equals one-row calls at each position bit for bit', () => {
    fc.assert(fc.property(shapes, (s) => {
      const capacity = s.total;
      const { heads, q, kc, vc } = setup(s, capacity);
      const row = heads * s.d;
      const batched = attention(q, kc, vc, { n: s.total, startPos: 0, heads, kvHeads: s.kvHeads, headDim: s.d, capacity }, new Float32Array(s.total * row));
      for (let t = 0; t < s.total; t++) {
        const one = attention(q.subarray(t * row, (t + 1) * row), kc, vc, { n: 1, startPos: t, heads, kvHeads: s.kvHeads, headDim: s.d, capacity }, new Float32Array(row));
        expect(Array.from(one)).toEqual(Array.from(batched.subarray(t * row, (t + 1) * row)));
      }
    }), { numRuns: 60 });
  });

  test('[ob:kv-store-layout] kvStore writes [kvHeads][capacity][headDim] at the given positions', () => {
    const cache = new Float32Array(2 * 5 * 3).fill(-1);
    const src = Float32Array.from({ length: 2 * 2 * 3 }, (_, i) => i);
    kvStore(cache, src, 2, 2, 3, 1, 5);
    // token t, kv head g, dim i → cache[(g·5 + 1 + t)·3 + i] = src[(t·2 + g)·3 + i]
    for (let t = 0; t < 2; t++) for (let g = 0; g < 2; g++) for (let i = 0; i < 3; i++) expect(cache[(g * 5 + 1 + t) * 3 + i]).toBe(src[(t * 2 + g) * 3 + i]);
    expect(cache[0]).toBe(-1);
    expect(() => kvStore(cache, src, 2, 2, 3, 4, 5)).toThrow(/capacity/);
  });
});

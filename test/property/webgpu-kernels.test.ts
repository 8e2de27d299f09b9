import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { cpuPortableBackend as cpu, softmax as cpuSoftmax } from '../../src/kernels/cpu/index.js';
import type { WeightMatrix } from '../../src/kernels/types.js';
import { createWebGpuBackend } from '../../src/kernels/webgpu/backend.js';
import { dequantize } from '../../src/tensor/codecs/index.js';
import { DTYPES, type DType } from '../../src/tensor/dtype.js';
import { f32ToF16 } from '../../src/tensor/half.js';
import { randomBlocks, randomF32 } from './kernels-helpers.js';
import { f32Bits, gpu, noGpuReason, U32 } from './webgpu-helpers.js';

/**
 * Differential tests: every WGSL kernel against the CPU kernel of the same name (src/kernels/cpu, the
 * portable TypeScript form) on random shapes and values. Tolerances: products and reductions may differ by
 * float32 reassociation only — |gpu − cpu| ≤ (k + 2)·u·Σ|terms| for a k-term sum (u = 2⁻²⁴, the classical
 * bound for any summation order plus the final rounding); single float ops (add, bias, kv copy, decode)
 * must be bit-identical.
 */

const be = gpu ? createWebGpuBackend(gpu) : undefined;
const RUNS = { numRuns: 12 };

function f16Bytes(v: Float32Array): Uint8Array {
  const out = new Uint8Array(v.length * 2);
  v.forEach((x, i) => {
    const h = f32ToF16(x);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >> 8;
  });
  return out;
}

function hostWeight(dtype: DType, rows: number, cols: number, seed: number): { w: WeightMatrix; dense: Float32Array } {
  if (dtype === 'F32') {
    const data = randomF32(rows * cols, seed);
    return { w: { dtype, rows, cols, data }, dense: data };
  }
  const data = dtype === 'F16' ? f16Bytes(randomF32(rows * cols, seed)) : randomBlocks(dtype, rows, cols, seed);
  return { w: { dtype, rows, cols, data }, dense: dequantize(dtype, data, rows * cols) };
}

async function gpuMatmul(w: WeightMatrix, x: Float32Array, n: number): Promise<Float32Array> {
  if (!be) throw new Error('no gpu');
  const out = be.alloc(n * w.rows);
  be.matmul(be.prepareWeight(w), be.upload(x), n, out);
  return be.readAsync(out, 0, n * w.rows);
}

const QDTYPES: DType[] = ['F32', 'F16', 'Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'];

describe.skipIf(!be)(`WebGPU kernels vs CPU kernels${noGpuReason}`, () => {
  const g = be as NonNullable<typeof be>;

  test('[ob:webgpu-decode-bit-exact] [ob:webgpu-weight-bytes-indexing] embed (pure decode) of every stored dtype equals the CPU decode bit for bit', async () => {
    for (const dtype of QDTYPES) {
      const { blockSize } = DTYPES[dtype];
      const cols = Math.max(blockSize, 64) * 2;
      const { w, dense } = hostWeight(dtype, 9, cols, 11 + cols);
      const ids = [3, 0, 8, 3];
      const out = g.alloc(ids.length * cols);
      g.embed(g.prepareWeight(w), ids, out);
      const got = await g.readAsync(out, 0, ids.length * cols);
      const want = new Float32Array(ids.length * cols);
      ids.forEach((id, t) => want.set(dense.subarray(id * cols, (id + 1) * cols), t * cols));
      expect(f32Bits(got), dtype).toEqual(f32Bits(want));
    }
  });

  test('[ob:webgpu-matmul-parity] [ob:webgpu-matvec-indexing] [ob:webgpu-tiled-indexing] [ob:webgpu-weight-bytes-indexing] matmul (matvec n ≤ 8 and tiled n > 8) within the reassociation bound, every dtype', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...QDTYPES), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 3 }), fc.constantFrom(1, 2, 5, 8, 9, 21), fc.integer(), async (dtype, rows, blocks, n, seed) => {
        const cols = blocks * (DTYPES[dtype].blockSize === 1 ? 40 : DTYPES[dtype].blockSize);
        const { w, dense } = hostWeight(dtype, rows, cols, seed);
        const x = randomF32(n * cols, seed + 1);
        const got = await gpuMatmul(w, x, n);
        const ref = new Float32Array(n * rows);
        cpu.matmul({ dtype: 'F32', rows, cols, data: dense }, x, n, ref);
        for (let t = 0; t < n; t++) {
          for (let r = 0; r < rows; r++) {
            let mag = 0;
            for (let c = 0; c < cols; c++) mag += Math.abs(dense[r * cols + c]! * x[t * cols + c]!);
            const i = t * rows + r;
            expect(Math.abs(got[i]! - ref[i]!)).toBeLessThanOrEqual((cols + 2) * U32 * mag + 1e-30);
          }
        }
      }),
      RUNS,
    );
  });

  test('[ob:webgpu-elementwise-exact] [ob:webgpu-flat-indexing] [ob:webgpu-flat-maps-indexing] add (all aliasings), addBias and kvStore are bit-identical to the CPU', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 40 }), fc.integer(), async (n, kvHeads, d, seed) => {
        const len = n * kvHeads * d;
        const a = randomF32(len, seed, 3);
        const b = randomF32(len, seed + 1, 3);
        const bias = randomF32(kvHeads * d, seed + 2);
        const [ga, gb] = [g.upload(a), g.upload(b)];
        const out = g.alloc(len);
        g.add(ga, gb, len, out);
        const sum = new Float32Array(len);
        cpu.add(a, b, len, sum);
        expect(f32Bits(await g.readAsync(out, 0, len))).toEqual(f32Bits(sum));
        g.add(ga, gb, len, gb);
        expect(f32Bits(await g.readAsync(gb, 0, len))).toEqual(f32Bits(sum));
        g.addBias(ga, g.upload(bias), n, kvHeads * d);
        const biased = Float32Array.from(a);
        cpu.addBias(biased, bias, n, kvHeads * d);
        expect(f32Bits(await g.readAsync(ga, 0, len))).toEqual(f32Bits(biased));
        const cap = n + 3;
        const cache = new Float32Array(kvHeads * cap * d).fill(7);
        const gc = g.upload(cache);
        g.kvStore(gc, g.upload(a), n, kvHeads, d, 2, cap);
        cpu.kvStore(cache, a, n, kvHeads, d, 2, cap);
        expect(f32Bits(await g.readAsync(gc, 0, cache.length))).toEqual(f32Bits(cache));
      }),
      RUNS,
    );
  });

  test('[ob:webgpu-norm-parity] [ob:webgpu-matvec-indexing] rmsnorm (in place and not), swiglu (all aliasings), softmax within stated bounds', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 700 }), fc.integer(), async (n, dim, seed) => {
        const len = n * dim;
        const x = randomF32(len, seed, 4);
        const w = randomF32(dim, seed + 1, 2);
        const want = new Float32Array(len);
        cpu.rmsnorm(x, w, 1e-5, n, dim, want);
        const gx = g.upload(x);
        const out = g.alloc(len);
        g.rmsnorm(gx, g.upload(w), 1e-5, n, dim, out);
        g.rmsnorm(gx, g.upload(w), 1e-5, n, dim, gx);
        // ss is a dim-term sum (dim·u), then sqrt, divide and two products: (dim + 8)·u relative.
        for (const got of [await g.readAsync(out, 0, len), await g.readAsync(gx, 0, len)]) {
          for (let i = 0; i < len; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual((dim + 8) * U32 * Math.abs(want[i]!) + 1e-30);
        }
        const up = randomF32(len, seed + 2, 3);
        const sw = new Float32Array(len);
        cpu.swiglu(x, up, len, sw);
        const outs = [g.alloc(len), g.upload(x), g.upload(up)];
        g.swiglu(g.upload(x), g.upload(up), len, outs[0]!);
        g.swiglu(outs[1]!, g.upload(up), len, outs[1]!);
        g.swiglu(g.upload(x), outs[2]!, len, outs[2]!);
        // WGSL exp is accurate to 3 + 2|g| ulp; plus 1 + exp, the division and the product: (8 + 2|g|)·u relative.
        for (const o of outs) {
          const got = await g.readAsync(o, 0, len);
          for (let i = 0; i < len; i++) expect(Math.abs(got[i]! - sw[i]!)).toBeLessThanOrEqual((8 + 2 * Math.abs(x[i]!)) * U32 * Math.abs(sw[i]!) + 1e-30);
        }
        const sm = Float32Array.from(x);
        for (let t = 0; t < n; t++) cpuSoftmax(sm, t * dim, dim);
        const gsm = g.upload(x);
        g.softmax(gsm, n, dim);
        const s = await g.readAsync(gsm, 0, len);
        // x − max ∈ [−8, 0]: exp within 19 ulp, the dim-term sum dim·u, the division: (dim + 24)·u relative.
        for (let i = 0; i < len; i++) expect(Math.abs(s[i]! - sm[i]!)).toBeLessThanOrEqual((dim + 24) * U32 * sm[i]! + 1e-30);
      }),
      RUNS,
    );
  });

  test('[ob:webgpu-rope-parity] [ob:webgpu-flat-maps-indexing] rope equals the CPU rotate_half rotation within 4u·(|a| + |b|)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 0, max: 3000 }), fc.integer(), async (n, heads, halfDim, startPos, seed) => {
        const d = 2 * halfDim;
        const x = randomF32(n * heads * d, seed, 2);
        const gx = g.upload(x);
        g.rope(gx, n, heads, d, startPos, 10000);
        const want = Float32Array.from(x);
        cpu.rope(want, n, heads, d, startPos, 10000);
        const got = await g.readAsync(gx, 0, x.length);
        for (let i = 0; i < x.length; i++) {
          const o = i - (i % d);
          const j = i % halfDim;
          const mag = Math.abs(x[o + j]!) + Math.abs(x[o + j + halfDim]!);
          expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(4 * U32 * mag + 1e-30);
        }
      }),
      RUNS,
    );
  });

  test('[ob:webgpu-attention-parity] [ob:webgpu-attention-indexing] causal GQA attention (online softmax over 64-position tiles) within the stated bound', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 48 }), fc.integer({ min: 0, max: 150 }), fc.integer(), async (n, kvHeads, rep, halfDim, startPos, seed) => {
        const d = 2 * halfDim;
        const heads = kvHeads * rep;
        const capacity = startPos + n + 2;
        const q = randomF32(n * heads * d, seed, 1);
        const k = randomF32(kvHeads * capacity * d, seed + 1, 1);
        const v = randomF32(kvHeads * capacity * d, seed + 2, 1);
        const shape = { n, startPos, heads, kvHeads, headDim: d, capacity };
        const want = new Float32Array(n * heads * d);
        cpu.attention(q, k, v, shape, want);
        const out = g.alloc(n * heads * d);
        g.attention(g.upload(q), g.upload(k), g.upload(v), shape, out);
        const got = await g.readAsync(out, 0, n * heads * d);
        // Scores: d-term dots (|q|,|k| ≤ 1, so |s| ≤ d/√d); exp of s − m; weights sum over len terms; |v| ≤ 1.
        // Each output is a convex combination of values in [−1, 1], so the bound is absolute: 8·(d + len + 16)·u.
        const len = startPos + n;
        for (let i = 0; i < got.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(8 * (d + len + 16) * U32);
      }),
      RUNS,
    );
  });
});

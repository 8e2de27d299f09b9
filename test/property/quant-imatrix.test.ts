/**
 * The importance-weighted quantizers (ggml's quantize_row_*_impl, what llama-quantize --imatrix writes) on
 * random rows and random importance weights (log-normal, some exact zeros): the bounds of
 * contracts/quant-*.yaml computed here from the input and the stored scales, independently of the code under
 * test. Byte equality with llama-quantize --imatrix is in test/golden/imatrix-llama.test.ts.
 * - Q4_0/Q5_0/Q4_1/Q5_1: per block, √Σw(x − x̂)² ≤ √Σw·b₀·(1 + 1e-4) + √Σw·(f16 slack), w = qw·√(σ²_row + x²),
 *   b₀ = |max|/nmax (symmetric) or (max − min(0, min))/(2·nmax) (affine): the search's first candidate.
 * - Q4_K/Q5_K/Q6_K: every value at the nearest level of its sub-block's grid (tolerance 1e-6 relative, the
 *   float32 rounding of (x + offset)/step).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dequantize } from '../../src/tensor/codecs/index.js';
import { scaleMinK4 } from '../../src/tensor/codecs/kquants.js';
import type { DType } from '../../src/tensor/dtype.js';
import { f16ToF32 } from '../../src/tensor/half.js';
import { encode } from '../../src/tensor/quant/index.js';

const f = Math.fround;

function half(bytes: Uint8Array, o: number): number {
  return f16ToF32((bytes[o] ?? 0) | ((bytes[o + 1] ?? 0) << 8));
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
}

/** rows × cols values (±10^exp, some zeros, a few outliers) and cols importance weights (log-normal, 5 % zero). */
function rowsAndWeights(cols: number) {
  return fc.tuple(fc.integer({ min: 1, max: 3 }), fc.integer({ min: -4, max: 2 }), fc.integer({ min: 1, max: 2 ** 31 - 1 })).map(([rows, exp, seed]) => {
    const r = lcg(seed);
    const x = new Float32Array(rows * cols);
    for (let i = 0; i < x.length; i++) x[i] = r() < 0.05 ? 0 : f((r() * 2 - 1) * 10 ** exp * (r() < 0.02 ? 8 : 1));
    const qw = new Float32Array(cols);
    for (let j = 0; j < cols; j++) qw[j] = r() < 0.05 ? 0 : f(Math.exp(4 * (r() - 0.5)));
    return { x, qw };
  });
}

const LEGACY: Record<'Q4_0' | 'Q5_0' | 'Q4_1' | 'Q5_1', { stride: number; nmax: number; affine: boolean }> = {
  Q4_0: { stride: 18, nmax: 8, affine: false },
  Q5_0: { stride: 22, nmax: 16, affine: false },
  Q4_1: { stride: 20, nmax: 15, affine: true },
  Q5_1: { stride: 24, nmax: 31, affine: true },
};

/** The worst ratio over blocks of √(weighted error) to the bound in the header. */
function worstWeightedRatio(dtype: keyof typeof LEGACY, x: Float32Array, qw: Float32Array, bytes: Uint8Array): number {
  const { stride, nmax, affine } = LEGACY[dtype];
  const y = dequantize(dtype, bytes, x.length);
  const n = qw.length;
  let worst = 0;
  for (let b = 0; b < x.length / 32; b++) {
    const row = Math.floor((b * 32) / n);
    let sigma2 = 0;
    for (let j = row * n; j < (row + 1) * n; j++) sigma2 += (x[j] ?? 0) ** 2 / n;
    const block = Array.from(x.subarray(b * 32, b * 32 + 32));
    const first = affine ? (Math.max(...block) - Math.min(0, ...block)) / nmax / 2 : Math.max(...block.map(Math.abs)) / nmax;
    const delta = (o: number): number => Math.abs(half(bytes, o)) * 2 ** -10 + 2 ** -24;
    const slack = nmax * delta(b * stride) + (affine ? delta(b * stride + 2) : 0);
    let err = 0, sw = 0;
    block.forEach((v, k) => {
      const w = (qw[(b * 32 + k) % n] ?? 0) * Math.sqrt(sigma2 + v * v);
      err += w * (v - (y[b * 32 + k] ?? 0)) ** 2;
      sw += w;
    });
    if (err > 0) worst = Math.max(worst, Math.sqrt(err) / (Math.sqrt(sw) * (first * (1 + 1e-4) + slack)));
  }
  return worst;
}

describe('importance-weighted 32-value quantizers: weighted error within the first candidate\'s', () => {
  const cases = [
    ['Q4_0', 'Q4_0 with an imatrix [ob:q4_0-imatrix-weighted-bound]'],
    ['Q5_0', 'Q5_0 with an imatrix [ob:q5_0-imatrix-weighted-bound]'],
    ['Q4_1', 'Q4_1 with an imatrix [ob:q4_1-imatrix-weighted-bound]'],
    ['Q5_1', 'Q5_1 with an imatrix [ob:q5_1-imatrix-weighted-bound]'],
  ] as const;
  for (const [dtype, name] of cases) {
    it(name, () => {
      fc.assert(fc.property(rowsAndWeights(128), ({ x, qw }) => worstWeightedRatio(dtype, x, qw, encode(dtype, x, qw)) <= 1), { numRuns: 80 });
    });
  }
});

/** |x − x̂| − (distance to the nearest grid level) − 1e-6·(|x| + |offset| + |step|), worst over x (must be ≤ 0). */
function worstExcess(x: Float32Array, y: Float32Array, group: number, grid: (g: number) => [number, number, number, number]): number {
  let worst = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const [step, offset, qmin, qmax] = grid(Math.floor(i / group));
    const v = x[i] ?? 0;
    let best = Infinity;
    for (let q = qmin; q <= qmax; q++) best = Math.min(best, Math.abs(v - f(f(step * q) - offset)));
    worst = Math.max(worst, Math.abs(v - (y[i] ?? 0)) - best - 1e-6 * (Math.abs(v) + Math.abs(offset) + Math.abs(step)));
  }
  return worst;
}

describe('importance-weighted K-quants: every value at the nearest level of its sub-block grid', () => {
  const kGrid = (bytes: Uint8Array, bb: number, qmax: number) => (g: number): [number, number, number, number] => {
    const o = Math.floor(g / 8) * bb;
    const [sc, m] = scaleMinK4(bytes, o + 4, g % 8);
    return [f(half(bytes, o) * sc), f(half(bytes, o + 2) * m), 0, qmax];
  };
  const q6Grid = (bytes: Uint8Array) => (g: number): [number, number, number, number] => {
    const o = Math.floor(g / 16) * 210;
    return [f(half(bytes, o + 208) * (((bytes[o + 192 + (g % 16)] ?? 0) << 24) >> 24)), 0, -32, 31];
  };
  const cases: [DType, string, number, (b: Uint8Array) => (g: number) => [number, number, number, number]][] = [
    ['Q4_K', 'Q4_K with an imatrix [ob:q4k-nearest-level]', 32, (b) => kGrid(b, 144, 15)],
    ['Q5_K', 'Q5_K with an imatrix [ob:q5k-nearest-level]', 32, (b) => kGrid(b, 176, 31)],
    ['Q6_K', 'Q6_K with an imatrix [ob:q6k-nearest-level]', 16, q6Grid],
  ];
  for (const [dtype, name, group, grid] of cases) {
    it(name, () => {
      fc.assert(fc.property(rowsAndWeights(512), ({ x, qw }) => {
        const bytes = encode(dtype, x, qw);
        return worstExcess(x, dequantize(dtype, bytes, x.length), group, grid(bytes)) <= 0;
      }), { numRuns: 25 });
    });
  }
});

describe('what the importance weights change', () => {
  const { x, qw } = fc.sample(rowsAndWeights(512), { seed: 11, numRuns: 1 })[0] ?? { x: new Float32Array(0), qw: new Float32Array(0) };
  /** Σ qw_j (x − x̂)² over the tensor: the error the importance matrix asks to keep small. */
  const weightedError = (dtype: DType, bytes: Uint8Array): number => {
    const y = dequantize(dtype, bytes, x.length);
    return x.reduce((s, v, i) => s + (qw[i % qw.length] ?? 0) * (v - (y[i] ?? 0)) ** 2, 0);
  };

  for (const dtype of ['Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q4_K', 'Q5_K', 'Q6_K'] as const) {
    it(`${dtype}: other bytes than without, and a lower importance-weighted error`, () => {
      const plain = encode(dtype, x), weighted = encode(dtype, x, qw);
      expect(Buffer.from(weighted).equals(Buffer.from(plain))).toBe(false);
      expect(weightedError(dtype, weighted)).toBeLessThan(weightedError(dtype, plain));
    });
  }

  it('Q8_0 ignores the importance matrix, as ggml does', () => {
    expect(Buffer.from(encode('Q8_0', x, qw)).equals(Buffer.from(encode('Q8_0', x)))).toBe(true);
  });

  it('an importance matrix that does not split the values into rows of whole blocks is refused', () => {
    expect(() => encode('Q4_K', x, qw.subarray(0, 128))).toThrow();
    expect(() => encode('Q4_0', x, qw.subarray(0, 48))).toThrow();
  });
});

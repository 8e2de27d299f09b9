/**
 * Q2_K and Q3_K encoders (src/tensor/quant/kquants-q23.ts) on random float32 super-blocks, with and without
 * random importance weights: every value must decode to the level of its 16-value group's grid nearest to it
 * (contracts/quant-q2_k-v1.yaml, quant-q3_k-v1.yaml). The grids are read from the bytes here with ggml's
 * layouts written out independently (block_q2_K scales[16] at 0, d at 80, dmin at 82; block_q3_K's 6-bit
 * scales: low nibbles in bytes 96..103, high pairs in bytes 104..107, d at 108). Slack: 1e-6·(|x| + |offset|
 * + |step|), since the encoder rounds (x + offset)/step in float32 and a near-tie may go either way.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ContractViolation } from '../../src/contract/index.js';
import { dequantize, quantize } from '../../src/tensor/codecs/index.js';
import { f16ToF32 } from '../../src/tensor/half.js';
import { quantizeQ2_K, quantizeQ3_K } from '../../src/tensor/quant/kquants-q23.js';
import { encode } from '../../src/tensor/quant/index.js';

const f = Math.fround;

function half(bytes: Uint8Array, o: number): number {
  return f16ToF32((bytes[o] ?? 0) | ((bytes[o + 1] ?? 0) << 8));
}

/** `rows` rows of 256·k values (k = cols/256), uniform in ±10^exp, some exact zeros; and a weight per column. */
function rowsWithWeights() {
  return fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 }), fc.integer({ min: -6, max: 4 }), fc.integer({ min: 1, max: 2 ** 31 - 1 })).map(([rows, k, exp, seed]) => {
    const cols = 256 * k;
    const x = new Float32Array(rows * cols), w = new Float32Array(cols);
    let s = seed;
    const next = (): number => {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      return s / 2 ** 32;
    };
    for (let i = 0; i < x.length; i++) x[i] = i % 13 === 5 ? 0 : f((next() * 2 - 1) * 10 ** exp);
    for (let i = 0; i < cols; i++) w[i] = i % 11 === 3 ? 0 : f(Math.exp((next() - 0.5) * 8));
    return { x, w };
  });
}

/** |x − x̂| minus the distance from x to the nearest level step·q − offset, worst over x (≤ 0 when all are nearest). */
function worstExcess(x: Float32Array, y: Float32Array, grid: (g: number) => [number, number, number, number]): number {
  let worst = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const [step, offset, qmin, qmax] = grid(Math.floor(i / 16));
    const v = x[i] ?? 0;
    let best = Infinity;
    for (let q = qmin; q <= qmax; q++) best = Math.min(best, Math.abs(v - f(f(step * q) - offset)));
    worst = Math.max(worst, Math.abs(v - (y[i] ?? 0)) - best - 1e-6 * (Math.abs(v) + Math.abs(offset) + Math.abs(step)));
  }
  return worst;
}

function gridQ2(bytes: Uint8Array): (g: number) => [number, number, number, number] {
  return (g) => {
    const o = Math.floor(g / 16) * 84, sc = bytes[o + (g % 16)] ?? 0;
    return [f(half(bytes, o + 80) * (sc & 15)), f(half(bytes, o + 82) * (sc >> 4)), 0, 3];
  };
}

/** ggml's Q3_K scale j: low 4 bits from byte j (j < 8) or the high nibble of byte j − 8, bits 4–5 from byte 8 + j mod 4. */
function gridQ3(bytes: Uint8Array): (g: number) => [number, number, number, number] {
  return (g) => {
    const o = Math.floor(g / 16) * 110, j = g % 16, s = o + 96;
    const low = j < 8 ? (bytes[s + j] ?? 0) % 16 : Math.floor((bytes[s + j - 8] ?? 0) / 16);
    const high = Math.floor((bytes[s + 8 + (j % 4)] ?? 0) / 4 ** Math.floor(j / 4)) % 4;
    return [f(half(bytes, o + 108) * (low + 16 * high - 32)), 0, -4, 3];
  };
}

describe('Q2_K / Q3_K: every value at the nearest level of its 16-value group grid', () => {
  it('Q2_K: x̂ = d·(sc & 15)·q − dmin·(sc >> 4), q ∈ [0, 3] nearest, with and without an imatrix [ob:q2k-nearest-level]', () => {
    fc.assert(fc.property(rowsWithWeights(), ({ x, w }) => {
      for (const bytes of [quantizeQ2_K(x), quantizeQ2_K(x, w)]) {
        expect(worstExcess(x, dequantize('Q2_K', bytes, x.length), gridQ2(bytes))).toBeLessThanOrEqual(0);
      }
    }), { numRuns: 40 });
  });

  it('Q3_K: x̂ = d·(s − 32)·q, q ∈ [−4, 3] nearest, with and without an imatrix [ob:q3k-nearest-level]', () => {
    fc.assert(fc.property(rowsWithWeights(), ({ x, w }) => {
      for (const bytes of [quantizeQ3_K(x), quantizeQ3_K(x, w)]) {
        expect(worstExcess(x, dequantize('Q3_K', bytes, x.length), gridQ3(bytes))).toBeLessThanOrEqual(0);
      }
    }), { numRuns: 40 });
  });

  it('encode() and the codec quantizer agree, and an imatrix changes the choice of scales', () => {
    const x = Float32Array.from({ length: 512 }, (_, i) => f(Math.sin(i * 0.37) * (1 + (i % 29))));
    const w = Float32Array.from({ length: 256 }, (_, i) => (i < 16 ? 100 : 0.01));
    for (const t of ['Q2_K', 'Q3_K'] as const) {
      expect(Buffer.from(encode(t, x)).equals(Buffer.from(quantize(t, x)))).toBe(true);
      expect(Buffer.from(quantize(t, x, w)).equals(Buffer.from(quantize(t, x)))).toBe(false);
    }
  });

  it('an all-zero super-block is stored as zero bytes', () => {
    expect(Array.from(quantize('Q2_K', new Float32Array(256))).every((b) => b === 0)).toBe(true);
    const q3 = quantize('Q3_K', new Float32Array(256));
    expect(Array.from(dequantize('Q3_K', q3, 256)).every((v) => v === 0)).toBe(true);
  });

  it('rejects rows that are not whole super-blocks and importance weights that are negative', () => {
    expect(() => quantize('Q3_K', new Float32Array(512), new Float32Array(128))).toThrow(RangeError);
    expect(() => quantize('Q2_K', new Float32Array(100))).toThrow(RangeError);
    expect(() => quantizeQ2_K(new Float32Array(256), new Float32Array(256).fill(-1))).toThrow(ContractViolation);
  });
});

/**
 * Reference quantizers: values on the format's grid come back exactly; random weights come back within the
 * format's error; zero blocks stay zero. Byte equality with llama-quantize is in test/golden/gguf-llama-cpp.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { dequantize } from '../../src/tensor/codecs/index.js';
import { canQuantize, quantize } from '../../src/tensor/codecs/quantize.js';
import type { DType } from '../../src/tensor/dtype.js';

let seed = 7;
function gaussian(n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    const u = (seed + 1) / 4294967297;
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    const v = seed / 4294967296;
    out[i] = 0.02 * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  return out;
}

function relRms(x: Float32Array, y: Float32Array): number {
  let e = 0, s = 0;
  for (let i = 0; i < x.length; i++) {
    e += ((x[i] ?? 0) - (y[i] ?? 0)) ** 2;
    s += (x[i] ?? 0) ** 2;
  }
  return Math.sqrt(e / s);
}

describe('reference quantizers', () => {
  // Relative RMS error of Gaussian weights: about step/sqrt(12) over the RMS; bounds leave ~1.5x headroom.
  const bounds: [DType, number][] = [['Q8_0', 0.006], ['Q4_0', 0.12], ['Q4_1', 0.1], ['Q4_K', 0.1], ['Q5_K', 0.05], ['Q6_K', 0.025]];
  for (const [dtype, bound] of bounds) {
    it(`${dtype}: random weights round-trip within ${bound} relative RMS error`, () => {
      const x = gaussian(4096);
      const y = dequantize(dtype, quantize(dtype, x), x.length);
      const err = relRms(x, y);
      expect(err).toBeGreaterThan(0);
      expect(err).toBeLessThan(bound);
    });

    it(`${dtype}: an all-zero block stays zero`, () => {
      const y = dequantize(dtype, quantize(dtype, new Float32Array(256)), 256);
      expect(y.every((v) => v === 0)).toBe(true);
    });
  }

  it('values on the Q8_0 / Q4_0 grids come back exactly', () => {
    const q8 = Float32Array.from({ length: 32 }, (_, i) => (i === 5 ? -127 : ((i * 37) % 255) - 127));
    expect(Array.from(dequantize('Q8_0', quantize('Q8_0', q8), 32))).toEqual(Array.from(q8));
    const q4 = Float32Array.from({ length: 32 }, (_, i) => (i === 3 ? -8 : ((i * 5) % 16) - 8));
    expect(Array.from(dequantize('Q4_0', quantize('Q4_0', q4), 32))).toEqual(Array.from(q4));
  });

  it('C roundf semantics: Q8_0 rounds halves away from zero', () => {
    const x = new Float32Array(32);
    x[0] = 127;
    x[1] = 2.5;
    x[2] = -2.5;
    expect(Array.from(dequantize('Q8_0', quantize('Q8_0', x), 32).subarray(0, 3))).toEqual([127, 3, -3]);
  });

  it('rejects partial blocks and unsupported types', () => {
    expect(() => quantize('Q4_K', new Float32Array(255))).toThrow(/multiple of the block size 256/);
    expect(canQuantize('IQ2_XXS')).toBe(false);
    expect(() => quantize('IQ2_XXS', new Float32Array(256))).toThrow(/no quantizer/);
  });
});

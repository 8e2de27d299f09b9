/**
 * Properties of the IQ4_NL / IQ4_XS quantizers (contracts/quant-iq4_*.yaml) on random float32 blocks, with
 * and without random importance weights: every value decodes to the level of its group's stored grid
 * s·kvalues nearest to it, up to the f16 rounding of the scale. The block layouts are read here from the
 * format (ggml-common.h's block_iq4_nl / block_iq4_xs) and kvalues_iq4nl is typed from gguf-py's copy, so the
 * bound is computed independently of the code under test.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dequantize } from '../../src/tensor/codecs/index.js';
import { f16ToF32 } from '../../src/tensor/half.js';
import { quantizeIQ4_NL, quantizeIQ4_XS } from '../../src/tensor/quant/iq4.js';
import { encode } from '../../src/tensor/quant/index.js';

/** gguf-py's IQ4_NL.kvalues. */
const KVALUES = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

function half(bytes: Uint8Array, o: number): number {
  return f16ToF32((bytes[o] ?? 0) | ((bytes[o + 1] ?? 0) << 8));
}

/** nb·size float32 values in ±10^exp (normal-ish when `peaked`), some exact zeros, some all-zero 32-value groups. */
function values(size: number, maxBlocks: number) {
  return fc.tuple(fc.integer({ min: 1, max: maxBlocks }), fc.integer({ min: -6, max: 4 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.boolean()).map(([nb, exp, seed, peaked]) => {
    const x = new Float32Array(nb * size);
    let s = seed;
    const next = (): number => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (let i = 0; i < x.length; i++) {
      const u = 2 * next() - 1;
      x[i] = s % 13 === 0 ? 0 : Math.fround((peaked ? u * u * u : u) * 10 ** exp);
    }
    if (seed % 5 === 0) x.fill(0, 0, 32);
    return x;
  });
}

function imatrixFor(cols: number) {
  return fc.array(fc.float({ min: 0, max: 100, noNaN: true }), { minLength: cols, maxLength: cols }).map((a) => Float32Array.from(a));
}

/** max over groups and values of (|x − x̂| − nearest-level distance) / allowed slack; ≤ 1 passes. */
function worstExcess(x: Float32Array, y: Float32Array, grid: (g: number) => { s: number; l: number }): number {
  let worst = 0;
  for (let g = 0; g * 32 < x.length; g++) {
    const { s, l } = grid(g);
    const slack = 254 * (2 ** -11 * Math.abs(s) + 2 ** -25 * Math.abs(l));
    for (let i = 32 * g; i < 32 * g + 32; i++) {
      const v = x[i] ?? 0;
      const nearest = Math.min(...KVALUES.map((k) => Math.abs(v - s * k)));
      const excess = Math.abs(v - (y[i] ?? 0)) - nearest;
      if (excess > 0) worst = Math.max(worst, excess / (slack + 1e-6 * (Math.abs(v) + 127 * Math.abs(s))));
    }
  }
  return worst;
}

/** IQ4_NL block g: { f16 d at 18g; ... }, step d. */
const nlGrid = (bytes: Uint8Array) => (g: number) => ({ s: half(bytes, 18 * g), l: 1 });

/** IQ4_XS super-block: f16 d at 0, scales_h u16 at 2, scales_l[4] at 4; group g's step d·(ls − 32). */
const xsGrid = (bytes: Uint8Array) => (g: number) => {
  const o = 136 * Math.floor(g / 8), ib = g % 8;
  const low = ((bytes[o + 4 + (ib >> 1)] ?? 0) >> (4 * (ib % 2))) & 0xf;
  const high = ((((bytes[o + 2] ?? 0) | ((bytes[o + 3] ?? 0) << 8)) >> (2 * ib)) & 3) << 4;
  const l = (low | high) - 32;
  return { s: Math.fround(half(bytes, o) * l), l };
};

describe('IQ4_NL / IQ4_XS: every value at its nearest level of the stored grid', () => {
  it('IQ4_NL without an importance matrix [ob:iq4nl-nearest-level]', () => {
    fc.assert(fc.property(values(32, 8), (x) => {
      const bytes = encode('IQ4_NL', x);
      return worstExcess(x, dequantize('IQ4_NL', bytes, x.length), nlGrid(bytes)) <= 1;
    }), { numRuns: 150 });
  });

  it('IQ4_NL with random importance weights (64-value rows) [ob:iq4nl-nearest-level]', () => {
    fc.assert(fc.property(values(64, 4), imatrixFor(64), (x, w) => {
      const bytes = quantizeIQ4_NL(x, w);
      return worstExcess(x, dequantize('IQ4_NL', bytes, x.length), nlGrid(bytes)) <= 1;
    }), { numRuns: 100 });
  });

  it('IQ4_XS without an importance matrix [ob:iq4xs-nearest-level]', () => {
    fc.assert(fc.property(values(256, 3), (x) => {
      const bytes = encode('IQ4_XS', x);
      return worstExcess(x, dequantize('IQ4_XS', bytes, x.length), xsGrid(bytes)) <= 1;
    }), { numRuns: 80 });
  });

  it('IQ4_XS with random importance weights (256-value rows) [ob:iq4xs-nearest-level]', () => {
    fc.assert(fc.property(values(256, 2), imatrixFor(256), (x, w) => {
      const bytes = quantizeIQ4_XS(x, w);
      return worstExcess(x, dequantize('IQ4_XS', bytes, x.length), xsGrid(bytes)) <= 1;
    }), { numRuns: 60 });
  });
});

describe('IQ4 layouts', () => {
  it('values on the grid 0.5·kvalues come back exactly; an all-zero block stores d = 0 and decodes to zeros', () => {
    const x = Float32Array.from({ length: 64 }, (_v, i) => (i < 32 ? 0.5 * (KVALUES[i % 16] ?? 0) : 0));
    const nl = encode('IQ4_NL', x);
    expect(Array.from(dequantize('IQ4_NL', nl, 64))).toEqual(Array.from(x));
    expect([nl[18], nl[19]]).toEqual([0, 0]);
    const xs = new Float32Array(256);
    xs.set(x.subarray(0, 32), 64);
    // zero groups decode to d·0·1, −0 when the super-scale is negative: compared as numbers (+0 + −0 = +0)
    expect(Array.from(dequantize('IQ4_XS', encode('IQ4_XS', xs), 256), (v) => v + 0)).toEqual(Array.from(xs));
  });

  it('rejects lengths that are not whole blocks', () => {
    expect(() => encode('IQ4_NL', new Float32Array(48))).toThrow(/multiple of 32/);
    expect(() => encode('IQ4_XS', new Float32Array(288))).toThrow(/multiple of 256/);
  });
});

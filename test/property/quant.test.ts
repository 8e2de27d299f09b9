/**
 * Round-trip properties of every encoder `apr quantize` uses, on random float32 blocks of magnitudes from
 * 1e-6 to 1e4: the per-element error bounds of contracts/quant-*.yaml (computed here from the input and
 * the stored scales, not by the code under test), nearest-level storage for the K-quants, idempotence where
 * the scheme has it, and the byte layouts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dequantize } from '../../src/tensor/codecs/index.js';
import { scaleMinK4 } from '../../src/tensor/codecs/kquants.js';
import { f16ToF32 } from '../../src/tensor/half.js';
import { NF4_CODEBOOK, decode, encode } from '../../src/tensor/quant/index.js';

const f = Math.fround;

function half(bytes: Uint8Array, o: number): number {
  return f16ToF32((bytes[o] ?? 0) | ((bytes[o + 1] ?? 0) << 8));
}

/** nb blocks of `size` float32 values, uniform in ±10^exp, with some exact zeros and repeated extremes. */
function blocks(size: number, maxBlocks: number) {
  return fc.tuple(fc.integer({ min: 1, max: maxBlocks }), fc.integer({ min: -6, max: 4 }), fc.integer({ min: 1, max: 2 ** 31 - 1 }), fc.boolean()).map(([nb, exp, seed, ties]) => {
    const x = new Float32Array(nb * size);
    let s = seed;
    for (let i = 0; i < x.length; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      x[i] = s % 17 === 0 ? 0 : f(((s / 2 ** 32) * 2 - 1) * 10 ** exp);
    }
    if (ties) for (let b = 0; b < nb; b++) x[b * size + 1] = -(x[b * size] ?? 0);
    return x;
  });
}

function absMax(x: Float32Array, from: number, n: number): number {
  let m = 0;
  for (let i = from; i < from + n; i++) m = Math.max(m, Math.abs(x[i] ?? 0));
  return m;
}

/** max over elements of |x − x̂| / bound(block, x), which must stay ≤ 1. */
function worstRatio(x: Float32Array, y: Float32Array, size: number, bound: (b: number, v: number) => number): number {
  let worst = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i] ?? 0;
    const err = Math.abs(v - (y[i] ?? 0));
    if (err === 0) continue;
    worst = Math.max(worst, err / bound(Math.floor(i / size), v));
  }
  return worst;
}

describe('legacy affine and 5-bit types', () => {
  it('Q4_1: |x − x̂| ≤ d/2 + |f16(min) − min| + 15|f16(d) − d| (+1e-5·d) [ob:q4_1-error-bound]', () => {
    fc.assert(fc.property(blocks(32, 6), (x) => {
      const bytes = encode('Q4_1', x);
      const y = dequantize('Q4_1', bytes, x.length);
      return worstRatio(x, y, 32, (b) => {
        let min = Infinity, max = -Infinity;
        for (let j = b * 32; j < b * 32 + 32; j++) { min = Math.min(min, x[j] ?? 0); max = Math.max(max, x[j] ?? 0); }
        const d = (max - min) / 15;
        return d * (0.5 + 1e-5) + Math.abs(half(bytes, b * 20 + 2) - min) + 15 * Math.abs(half(bytes, b * 20) - d);
      }) <= 1;
    }), { numRuns: 300 });
  });

  it('Q5_0: |x − x̂| ≤ |d|/2 where x/d ≤ 15.5 and ≤ |d| at the clamp, + 16|f16(d) − d| [ob:q5_0-error-bound]', () => {
    fc.assert(fc.property(blocks(32, 6), (x) => {
      const bytes = encode('Q5_0', x);
      const y = dequantize('Q5_0', bytes, x.length);
      return worstRatio(x, y, 32, (b, v) => {
        let amax = 0, max = 0;
        for (let j = b * 32; j < b * 32 + 32; j++) if (amax < Math.abs(x[j] ?? 0)) { amax = Math.abs(x[j] ?? 0); max = x[j] ?? 0; }
        const d = max / -16;
        return (v / d <= 15.5 ? Math.abs(d) / 2 : Math.abs(d)) + 16 * Math.abs(Math.abs(half(bytes, b * 22)) - Math.abs(d)) + 4e-6 * Math.abs(d);
      }) <= 1;
    }), { numRuns: 300 });
  });

  it('Q5_1: |x − x̂| ≤ d/2 + |f16(min) − min| + 31|f16(d) − d| (+1e-5·d) [ob:q5_1-error-bound]', () => {
    fc.assert(fc.property(blocks(32, 6), (x) => {
      const bytes = encode('Q5_1', x);
      const y = dequantize('Q5_1', bytes, x.length);
      return worstRatio(x, y, 32, (b) => {
        let min = Infinity, max = -Infinity;
        for (let j = b * 32; j < b * 32 + 32; j++) { min = Math.min(min, x[j] ?? 0); max = Math.max(max, x[j] ?? 0); }
        const d = (max - min) / 31;
        return d * (0.5 + 1e-5) + Math.abs(half(bytes, b * 24 + 2) - min) + 31 * Math.abs(half(bytes, b * 24) - d);
      }) <= 1;
    }), { numRuns: 300 });
  });

  it('Q5_0 / Q5_1: 32 levels on the grid come back exactly (qh carries every fifth bit) [ob:q5_0-packing] [ob:q5_1-packing]', () => {
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 31 }), { minLength: 32, maxLength: 32 }), (levels) => {
      const grid = Float32Array.from(levels, (l) => l - 16);
      grid[0] = -16; // the extreme fixes d = 1
      expect(Array.from(dequantize('Q5_0', encode('Q5_0', grid), 32))).toEqual(Array.from(grid));
      const affine = Float32Array.from(levels, (l) => l);
      affine[0] = 0;
      affine[1] = 31;
      expect(Array.from(dequantize('Q5_1', encode('Q5_1', affine), 32))).toEqual(Array.from(affine));
    }), { numRuns: 200 });
  });

  // Values, not bytes: a block whose scale underflows f16 stores arbitrary quants next to d16 = 0 (and −0 = +0).
  it('Q8_0 and Q4_0 are idempotent: quantizing the dequantized values gives the same values [ob:q8_0-idempotent] [ob:q4_0-idempotent]', () => {
    fc.assert(fc.property(blocks(32, 6), (x) => {
      for (const d of ['Q8_0', 'Q4_0'] as const) {
        const y = dequantize(d, encode(d, x), x.length);
        expect(Array.from(dequantize(d, encode(d, y), x.length), (v) => v + 0)).toEqual(Array.from(y, (v) => v + 0)); // −0 = +0
      }
    }), { numRuns: 200 });
  });
});

describe('K-quants: every value at the nearest level of its sub-block grid', () => {
  /** |x − x̂| − (distance from x to the nearest level step·q − offset, q ∈ [qmin, qmax]), worst over x. */
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

  function nearestK(dtype: 'Q4_K' | 'Q5_K', bb: number, qmax: number): void {
    fc.assert(fc.property(blocks(256, 3), (x) => {
      const bytes = encode(dtype, x);
      const y = dequantize(dtype, bytes, x.length);
      return worstExcess(x, y, 32, (g) => {
        const o = Math.floor(g / 8) * bb;
        const [sc, m] = scaleMinK4(bytes, o + 4, g % 8);
        return [f(half(bytes, o) * sc), f(half(bytes, o + 2) * m), 0, qmax];
      }) <= 0;
    }), { numRuns: 60 });
  }

  it('Q4_K: x̂ = d·sc·q − dmin·m with q the level nearest to x in [0, 15] [ob:q4k-nearest-level]', () => nearestK('Q4_K', 144, 15));
  it('Q5_K: x̂ = d·sc·q − dmin·m with q the level nearest to x in [0, 31] [ob:q5k-nearest-level]', () => nearestK('Q5_K', 176, 31));

  it('Q6_K: x̂ = d·scale·q with q the level nearest to x in [−32, 31] [ob:q6k-nearest-level]', () => {
    fc.assert(fc.property(blocks(256, 3), (x) => {
      const bytes = encode('Q6_K', x);
      const y = dequantize('Q6_K', bytes, x.length);
      return worstExcess(x, y, 16, (g) => {
        const o = Math.floor(g / 16) * 210;
        return [f(half(bytes, o + 208) * (((bytes[o + 192 + (g % 16)] ?? 0) << 24) >> 24)), 0, -32, 31];
      }) <= 0;
    }), { numRuns: 60 });
  });
});

describe('NF4', () => {
  const halfGap = ((NF4_CODEBOOK[1] ?? 0) - (NF4_CODEBOOK[0] ?? 0)) / 2;

  it('|x − x̂| ≤ 0.152·a16 + |a16 − absmax| per 64-value block, a16 the stored f16 absmax [ob:nf4-error-bound]', () => {
    expect(halfGap).toBeCloseTo(0.1519, 4);
    fc.assert(fc.property(blocks(64, 4), (x) => {
      const bytes = encode('NF4', x);
      const y = decode('NF4', bytes, x.length);
      return worstRatio(x, y, 64, (b) => {
        const a16 = half(bytes, b * 34);
        return (halfGap + 1e-6) * a16 + Math.abs(a16 - absMax(x, b * 64, 64));
      }) <= 1;
    }), { numRuns: 300 });
  });

  it('every value is stored as the codebook entry nearest to x/a16 [ob:nf4-nearest-code]', () => {
    fc.assert(fc.property(blocks(64, 2), (x) => {
      const bytes = encode('NF4', x);
      for (let i = 0; i < x.length; i++) {
        const b = Math.floor(i / 64), a16 = half(bytes, b * 34);
        if (a16 === 0) continue;
        const byte = bytes[b * 34 + 2 + ((i % 64) >> 1)] ?? 0;
        const code = i % 2 === 0 ? byte >> 4 : byte & 15;
        const t = (x[i] ?? 0) / a16;
        const chosen = Math.abs(t - (NF4_CODEBOOK[code] ?? 0));
        for (const c of NF4_CODEBOOK) if (Math.abs(t - c) < chosen - 1e-12) return false;
      }
      return true;
    }), { numRuns: 200 });
  });

  it('idempotent: quantizing the dequantized values gives the same bytes [ob:nf4-idempotent]', () => {
    fc.assert(fc.property(blocks(64, 4), (x) => {
      const once = encode('NF4', x);
      return Buffer.from(encode('NF4', decode('NF4', once, x.length))).equals(Buffer.from(once));
    }), { numRuns: 200 });
  });
});

describe('aprender APR_Q8 / APR_Q4', () => {
  it('APR_Q8: 4 + n bytes, s = amax/127, |x − x̂| ≤ s/2 (+2e-5·s) [ob:apr-q8-error-bound]', () => {
    fc.assert(fc.property(blocks(1, 300), (x) => {
      const bytes = encode('APR_Q8', x);
      if (bytes.byteLength !== 4 + x.length) return false;
      const s = new DataView(bytes.buffer).getFloat32(0, true);
      const amax = absMax(x, 0, x.length);
      if (s !== (amax === 0 ? 1 : f(amax / 127))) return false;
      return worstRatio(x, decode('APR_Q8', bytes, x.length), x.length, () => s * (0.5 + 2e-5)) <= 1;
    }), { numRuns: 300 });
  });

  it('APR_Q4: |x − x̂| ≤ s/2 + 7|f16(s) − s| (+4e-6·s), s = amax/7 per block, nibble 8 never exceeded by more than 7 [ob:apr-q4-error-bound]', () => {
    fc.assert(fc.property(blocks(32, 6), (x) => {
      const bytes = encode('APR_Q4', x);
      for (let b = 0; b < x.length / 32; b++) for (let j = 0; j < 16; j++) {
        const byte = bytes[b * 18 + 2 + j] ?? 0;
        if ((byte & 15) === 0 || byte >> 4 === 0) return false; // q = −8 is unreachable: |x/s| ≤ 7
      }
      return worstRatio(x, decode('APR_Q4', bytes, x.length), 32, (b) => {
        const s = absMax(x, b * 32, 32) / 7;
        return s * (0.5 + 4e-6) + 7 * Math.abs(half(bytes, b * 18) - s);
      }) <= 1;
    }), { numRuns: 300 });
  });

  it('APR_Q4 is idempotent [ob:apr-q4-idempotent]', () => {
    fc.assert(fc.property(blocks(32, 6), (x) => {
      const once = encode('APR_Q4', x);
      return Buffer.from(encode('APR_Q4', decode('APR_Q4', once, x.length))).equals(Buffer.from(once));
    }), { numRuns: 200 });
  });
});

describe('F16 / BF16', () => {
  it('F16: within half an ulp, 2^-11·max(|x|, 2^-14) [ob:f16-half-ulp]', () => {
    fc.assert(fc.property(blocks(1, 64), (x) => worstRatio(x, dequantize('F16', encode('F16', x), x.length), 1, (_b, v) => 2 ** -11 * Math.max(Math.abs(v), 2 ** -14)) <= 1), { numRuns: 300 });
  });

  it('BF16: within half an ulp, 2^-8·|x| [ob:bf16-half-ulp]', () => {
    fc.assert(fc.property(blocks(1, 64), (x) => worstRatio(x, dequantize('BF16', encode('BF16', x), x.length), 1, (_b, v) => 2 ** -8 * Math.max(Math.abs(v), 2 ** -126)) <= 1), { numRuns: 300 });
  });
});

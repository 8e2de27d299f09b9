/**
 * What every decoder may touch: exactly `count` values of `out` from the first count/blockSize blocks of `bytes`,
 * whatever follows in either; an element count it cannot decode is refused, naming the type.
 */
import { describe, expect, it } from 'vitest';
import { canDequantize, dequantize } from '../../src/tensor/codecs/index.js';
import { DTYPES, type DType } from '../../src/tensor/dtype.js';

const BLOCK_TYPES = (Object.keys(DTYPES) as DType[]).filter((d) => DTYPES[d].blockSize > 1 && canDequantize(d));
const SENTINEL = 1234.5;

/** Deterministic bytes (an LCG); f16 scales may come out NaN or infinite, which changes nothing below. */
function bytes(n: number, seed: number): Uint8Array {
  let s = seed >>> 0;
  return Uint8Array.from({ length: n }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) >>> 24);
}

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

describe('block decoders stay within count', () => {
  it('covers the block types', () => {
    expect(BLOCK_TYPES.length).toBeGreaterThanOrEqual(20);
  });

  for (const dtype of BLOCK_TYPES) {
    it(`${dtype}: decodes two blocks of three into a larger output, leaving the rest alone`, () => {
      const { blockSize, blockBytes } = DTYPES[dtype];
      const raw = bytes(3 * blockBytes, blockBytes * 31 + blockSize);
      const count = 2 * blockSize;
      const exact = dequantize(dtype, raw.subarray(0, 2 * blockBytes), count);
      const big = new Float32Array(count + 2 * blockSize).fill(SENTINEL);
      dequantize(dtype, raw, count, big);
      expect(bits(big.subarray(0, count))).toEqual(bits(exact));
      expect(big.subarray(count).every((v) => v === SENTINEL)).toBe(true);
    });

    // APR_Q4 and NF4 come from src/tensor/quant, whose checks word their errors differently
    it.skipIf(dtype.startsWith('APR_') || dtype === 'NF4')(`${dtype}: refuses a partial block or a negative or fractional count, naming the type; 0 elements is fine`, () => {
      const { blockSize, blockBytes } = DTYPES[dtype];
      const raw = new Uint8Array(2 * blockBytes);
      // an explicit output: the default one, new Float32Array(count), would refuse these counts itself
      const out = new Float32Array(4 * blockSize);
      for (const count of [blockSize + 1, -blockSize, 1.5, Number.NaN]) expect(() => dequantize(dtype, raw, count, out)).toThrow(new RegExp(`^${dtype}: element count`));
      expect(() => dequantize(dtype, raw, 3 * blockSize)).toThrow(new RegExp(`^${dtype}: ${3 * blockSize} elements need`));
      expect(dequantize(dtype, raw, 0)).toHaveLength(0);
    });
  }
});

describe('dequantize dispatch', () => {
  it('F32 at any byte offset: the aligned view and the unaligned DataView path give the same values', () => {
    const values = Float32Array.of(1.5, -2.25, 3e-8, -0);
    for (const offset of [0, 1, 4, 6]) {
      const buf = new Uint8Array(offset + 16 + 4);
      buf.set(new Uint8Array(values.buffer), offset);
      expect(bits(dequantize('F32', buf.subarray(offset, offset + 16), 4))).toEqual(bits(values));
    }
  });

  it('F32, F16 and BF16 refuse fewer bytes than the count needs, also for an aligned view into a larger buffer', () => {
    for (const [dtype, size] of [['F32', 4], ['F16', 2], ['BF16', 2]] as const) {
      const buf = new Uint8Array(8 * size);
      // 3 elements' bytes at an aligned offset: the 4th exists in the buffer but not in the view
      expect(() => dequantize(dtype, buf.subarray(size * 2, size * 5), 4)).toThrow(new RegExp(`^${dtype}: 4 elements need ${4 * size} bytes, got ${3 * size}`));
      expect(() => dequantize(dtype, buf, -1, new Float32Array(4))).toThrow(new RegExp(`^${dtype}: element count`));
      expect(dequantize(dtype, buf.subarray(size * 2, size * 5), 3)).toHaveLength(3);
    }
  });

  it('refuses a dtype it has no decoder for, and says so in canDequantize', () => {
    const integer = (Object.keys(DTYPES) as DType[]).find((d) => /^I(8|16|32|64)$/.test(d));
    expect(integer).toBeDefined();
    expect(canDequantize(integer!)).toBe(false);
    expect(() => dequantize(integer!, new Uint8Array(16), 2)).toThrow(`no decoder for dtype ${integer}`);
  });
});

/**
 * NF4, aprender's APR_Q8 / APR_Q4, F16 / BF16 and Q5_0 / Q5_1 encoders on hand-worked examples, plus the
 * dispatch. The byte layouts are the ones aprender's AprV2Writer and realizar's dequantizers use and
 * bitsandbytes' NF4 codebook; llama.cpp's Q5_0 / Q5_1 are compared with llama-quantize in the golden tests.
 */
import { describe, expect, it } from 'vitest';
import { dequantize } from '../../src/tensor/codecs/index.js';
import { byteSize, isQuantized, tensorHeaderBytes } from '../../src/tensor/dtype.js';
import { bf16ToF32, f16ToF32 } from '../../src/tensor/half.js';
import { NF4_CODEBOOK, canDecode, canEncode, decode, encode } from '../../src/tensor/quant/index.js';
import { nf4Code } from '../../src/tensor/quant/nf4.js';

function f16(bytes: Uint8Array, o: number): number {
  return f16ToF32((bytes[o] ?? 0) | ((bytes[o + 1] ?? 0) << 8));
}

describe('APR_Q8 (aprender add_q8_tensor)', () => {
  it('is one f32 scale amax/127 then one i8 per value, rounding halves away from zero', () => {
    const x = Float32Array.of(1.27, -0.635, 0.005, 0.015, 0);
    const bytes = encode('APR_Q8', x);
    expect(bytes.byteLength).toBe(4 + 5);
    expect(byteSize('APR_Q8', [5])).toBe(9);
    const scale = new DataView(bytes.buffer).getFloat32(0, true);
    expect(scale).toBe(Math.fround(Math.fround(1.27) / 127));
    // 1.27/0.01 = 127, -0.635/0.01 = -63.5 → -64, 0.5 → 1 (away from zero), 1.5 → 2.
    expect(Array.from(new Int8Array(bytes.buffer, 4))).toEqual([127, -64, 1, 2, 0]);
    expect(Array.from(decode('APR_Q8', bytes, 5))).toEqual([127, -64, 1, 2, 0].map((q) => Math.fround(q * scale)));
  });

  it('an all-zero tensor gets scale 1 (as aprender writes it) and decodes to zeros', () => {
    const bytes = encode('APR_Q8', new Float32Array(8));
    expect(new DataView(bytes.buffer).getFloat32(0, true)).toBe(1);
    expect(Array.from(decode('APR_Q8', bytes, 8))).toEqual(new Array(8).fill(0));
  });

  it('counts as quantized and carries a 4-byte tensor header', () => {
    expect(isQuantized('APR_Q8')).toBe(true);
    expect(tensorHeaderBytes('APR_Q8')).toBe(4);
    expect(tensorHeaderBytes('Q8_0')).toBe(0);
    expect(byteSize('APR_Q8', [3, 7])).toBe(25);
  });
});

describe('APR_Q4 (aprender add_q4_tensor)', () => {
  it('32-value blocks: f16 amax/7, element 2i in the low nibble of byte i, stored as q + 8', () => {
    // aprender's own round-trip example: x_i = (i − 16)/16, amax = 1, s = 1/7.
    const x = Float32Array.from({ length: 32 }, (_, i) => (i - 16) / 16);
    const bytes = encode('APR_Q4', x);
    expect(bytes.byteLength).toBe(18);
    expect(f16(bytes, 0)).toBe(f16ToF32(0x3092)); // f16(1/7) = 0.142822265625
    // q = round(7x): x0 = −1 → −7 (nibble 1), x1 = −15/16 → −6.5625 → −7 (1), x2 = −14/16 → −6.125 → −6 (2).
    expect((bytes[2] ?? 0) & 15).toBe(1);
    expect((bytes[2] ?? 0) >> 4).toBe(1);
    expect((bytes[3] ?? 0) & 15).toBe(2);
    // x16 = 0 → 8, x17 = 1/16 → 0.4375 → 0 (8).
    expect(bytes[2 + 8]).toBe(0x88);
    const y = decode('APR_Q4', bytes, 32);
    for (let i = 0; i < 32; i++) expect(Math.abs((y[i] ?? 0) - (x[i] ?? 0))).toBeLessThanOrEqual(0.5 / 7 + 7 * Math.abs(f16(bytes, 0) - 1 / 7) + 1e-7);
  });

  it('an all-zero block has scale 1 and every nibble 8', () => {
    const bytes = encode('APR_Q4', new Float32Array(32));
    expect(f16(bytes, 0)).toBe(1);
    expect(Array.from(bytes.subarray(2))).toEqual(new Array(16).fill(0x88));
  });
});

describe('NF4', () => {
  it('the codebook is bitsandbytes\' (16 entries from −1 to 1, 0 at index 7)', () => {
    expect(NF4_CODEBOOK.length).toBe(16);
    expect([NF4_CODEBOOK[0], NF4_CODEBOOK[7], NF4_CODEBOOK[15]]).toEqual([-1, 0, 1]);
    expect(NF4_CODEBOOK[8]).toBe(Math.fround(0.07958029955625534));
  });

  it('nearest entry, ties to the lower one', () => {
    expect(nf4Code(1)).toBe(15);
    expect(nf4Code(-1)).toBe(0);
    expect(nf4Code(0.02)).toBe(7);
    expect(nf4Code(0.05)).toBe(8);
    const mid = ((NF4_CODEBOOK[14] ?? 0) + (NF4_CODEBOOK[15] ?? 0)) / 2;
    expect(nf4Code(mid)).toBe(14);
    expect(nf4Code(mid + 1e-9)).toBe(15);
  });

  it('64-value blocks of f16 absmax + 32 bytes, element 2j in the high nibble (bitsandbytes order)', () => {
    const x = new Float32Array(64);
    x[0] = -2; // absmax 2 → code 0
    x[1] = 2; // code 15
    x[2] = 0.16093020141124725 * 2; // code 9 exactly
    const bytes = encode('NF4', x);
    expect(bytes.byteLength).toBe(34);
    expect(f16(bytes, 0)).toBe(2);
    expect(bytes[2]).toBe(0x0f);
    expect((bytes[3] ?? 0) >> 4).toBe(9);
    expect((bytes[3] ?? 0) & 15).toBe(7);
    const y = decode('NF4', bytes, 64);
    expect([y[0], y[1], y[2], y[3]]).toEqual([-2, 2, Math.fround((NF4_CODEBOOK[9] ?? 0) * 2), 0]);
  });
});

describe('F16 / BF16', () => {
  it('round to nearest even', () => {
    const x = Float32Array.of(1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, -65504, 2 ** -24);
    const h = encode('F16', x);
    expect(Array.from(dequantize('F16', h, 5))).toEqual([1, 1, 1 + 2 ** -9, -65504, 2 ** -24]);
    const b = encode('BF16', Float32Array.of(1 + 2 ** -8, 1 + 3 * 2 ** -8));
    const view = new DataView(b.buffer);
    expect([bf16ToF32(view.getUint16(0, true)), bf16ToF32(view.getUint16(2, true))]).toEqual([1, 1 + 2 ** -6]);
  });
});

describe('Q5_0 / Q5_1 (ggml)', () => {
  it('values on the Q5_0 grid come back exactly; the fifth bits land in qh', () => {
    const x = Float32Array.from({ length: 32 }, (_, i) => (i === 0 ? -16 : ((i * 7) % 32) - 16));
    const bytes = encode('Q5_0', x);
    expect(bytes.byteLength).toBe(22);
    expect(f16(bytes, 0)).toBe(1); // d = max/−16 = 1
    expect(Array.from(dequantize('Q5_0', bytes, 32))).toEqual(Array.from(x));
  });

  it('Q5_1 stores min and (max − min)/31', () => {
    const x = Float32Array.from({ length: 32 }, (_, i) => 3 + i);
    const bytes = encode('Q5_1', x);
    expect([f16(bytes, 0), f16(bytes, 2)]).toEqual([1, 3]);
    expect(Array.from(dequantize('Q5_1', bytes, 32))).toEqual(Array.from(x));
  });
});

describe('dispatch', () => {
  it('encodes and decodes every dtype a scheme can produce; refuses the others', () => {
    for (const d of ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'NF4', 'APR_Q8', 'APR_Q4'] as const) {
      expect(canEncode(d)).toBe(true);
      expect(canDecode(d)).toBe(true);
    }
    expect(canEncode('IQ2_XXS')).toBe(false);
    expect(() => encode('IQ2_XXS', new Float32Array(256))).toThrow(/no encoder for dtype IQ2_XXS/);
  });

  it('rejects partial blocks through the contract precondition', () => {
    expect(() => encode('NF4', new Float32Array(32))).toThrow(/multiple of 64/);
    expect(() => encode('Q4_K', Float32Array.of(...new Array<number>(256).fill(0).map((_, i) => (i === 3 ? Number.NaN : 0))))).toThrow(/finite/);
  });
});

/**
 * The expressions the z3 harnesses in proofs/ reason about, evaluated on numbers and compared with the
 * project's codecs and quantizers (so a proof is about code that runs), plus the proved error bounds checked
 * on the project's quantizer and on llama.cpp's own quantized files.
 */
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsWords } from '../../proofs/lib/words.js';
import { q4_0Pack, q4_0Unpack } from '../../proofs/q4_0.js';
import { q4kPackScales, q4kScaleMin } from '../../proofs/q4_k.js';
import { q6kPack, q6kUnpack } from '../../proofs/q6_k.js';
import { readGguf } from '../../src/formats/gguf/read.js';
import { decodeBlockRow } from '../../src/kernels/cpu/blocks.js';
import { dequantize, quantize } from '../../src/tensor/codecs/index.js';
import { scaleMinK4 } from '../../src/tensor/codecs/kquants.js';
import { f16ToF32 } from '../../src/tensor/half.js';

const w = jsWords;
const F16_ONE = 0x3c00;
const GGUF = path.resolve(process.cwd(), '../shared/fixtures/gguf');

function half(bytes: Uint8Array, o: number): number {
  return f16ToF32((bytes[o] ?? 0) | ((bytes[o + 1] ?? 0) << 8));
}

function setHalf(bytes: Uint8Array, o: number, h: number): void {
  bytes[o] = h & 0xff;
  bytes[o + 1] = h >> 8;
}

/** Float32 blocks of magnitude 10^minExp .. 10^4 (down to 1e-30: f16 subnormal and normal scales both occur). */
function blocks(blockSize: number, maxBlocks: number, minExp = -30) {
  return fc.tuple(fc.integer({ min: 1, max: maxBlocks }), fc.integer({ min: minExp, max: 4 }), fc.integer({ min: 1, max: 2 ** 31 - 1 })).map(([nb, exp, seed]) => {
    const x = new Float32Array(nb * blockSize);
    let s = seed;
    for (let i = 0; i < x.length; i++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      x[i] = ((s / 2 ** 32) * 2 - 1) * 10 ** exp;
    }
    return x;
  });
}

describe('Q4_0 (quant-q4_0-v1)', () => {
  it('the proved unpack equals the codecs and the row kernel for all 256 bytes; pack∘unpack and unpack∘pack are identities [ob:q4_0-nibble-bijection]', () => {
    const data = new Uint8Array(16 * 18);
    for (let i = 0; i < 16; i++) {
      setHalf(data, i * 18, F16_ONE);
      for (let j = 0; j < 16; j++) data[i * 18 + 2 + j] = i * 16 + j;
    }
    const viaCodec = dequantize('Q4_0', data, 16 * 32);
    const viaKernel = decodeBlockRow('Q4_0', data, 0, 16 * 32, new Float32Array(16 * 32));
    for (let q = 0; q < 256; q++) {
      const [lo, hi] = q4_0Unpack(w, q);
      const i = q >> 4, j = q & 15;
      expect([viaCodec[i * 32 + j], viaCodec[i * 32 + j + 16]]).toEqual([lo - 8, hi - 8]);
      expect([viaKernel[i * 32 + j], viaKernel[i * 32 + j + 16]]).toEqual([lo - 8, hi - 8]);
      expect(q4_0Pack(w, lo, hi)).toBe(q);
      expect(q4_0Unpack(w, q4_0Pack(w, q & 15, q >> 4))).toEqual([q & 15, q >> 4]);
    }
  });

  it('output 32i + j + 16h carries nibble h of byte 18i + 2 + j [ob:q4_0-element-index]', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 16 * 6, maxLength: 16 * 6 }), fc.integer({ min: 1, max: 6 }), (qs, nb) => {
      const data = new Uint8Array(nb * 18);
      for (let i = 0; i < nb; i++) {
        setHalf(data, i * 18, F16_ONE);
        data.set(qs.subarray(i * 16, i * 16 + 16), i * 18 + 2);
      }
      const out = dequantize('Q4_0', data, nb * 32);
      for (let i = 0; i < nb; i++) for (let j = 0; j < 16; j++) for (const h of [0, 1]) {
        const byte = data[i * 18 + 2 + j] ?? 0;
        if (out[32 * i + j + 16 * h] !== (h ? byte >> 4 : byte & 15) - 8) return false;
      }
      return true;
    }), { numRuns: 200 });
  });

  // t = fl(fl(x·fl(1/d)) + 8.5) is off from x/d + 8.5 by ≤ 2·2^-20 (three float32 roundings at magnitude ≤ 16.5),
  // so the float32 quantizer may exceed the real-number bound by that much times |d|: the YAML tolerance 4e-6.
  const Q4_TOL = 4e-6;

  /** The proved bound for one element, given the float32 scale d the quantizer computed and the stored d16. */
  function q4Bound(x: number, d: number, d16: number): number {
    const err16 = 8 * Math.abs(d16 - d);
    return (x / d <= 7.5 ? Math.abs(d) / 2 : Math.abs(d)) + err16 + Q4_TOL * Math.abs(d);
  }

  function signedMax(x: Float32Array, from: number): number {
    let amax = 0, max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[from + j] ?? 0;
      if (amax < Math.abs(v)) { amax = Math.abs(v); max = v; }
    }
    return max;
  }

  function checkQ4Blocks(x: Float32Array, bytes: Uint8Array): number {
    const y = dequantize('Q4_0', bytes, x.length);
    let worst = 0;
    for (let i = 0; i < x.length / 32; i++) {
      const d = Math.fround(signedMax(x, i * 32) / -8);
      if (d === 0) continue;
      const d16 = half(bytes, i * 18);
      for (let j = 0; j < 32; j++) {
        const xi = x[i * 32 + j] ?? 0;
        const ratio = Math.abs(xi - (y[i * 32 + j] ?? 0)) / q4Bound(xi, d, d16);
        worst = Math.max(worst, ratio);
      }
    }
    return worst;
  }

  it('quantize/dequantize stays within the proved bound on random blocks [ob:q4_0-error-bound]', () => {
    fc.assert(fc.property(blocks(32, 8), (x) => checkQ4Blocks(x, quantize('Q4_0', x)) <= 1), { numRuns: 300 });
  });

  it("llama.cpp's Q4_0 file is within the proved bound of the f32 weights it came from [ob:q4_0-error-bound]", () => {
    const worst = compareWithLlama('Q4_0', checkQ4Blocks);
    expect(worst.tensors).toBeGreaterThan(0);
    expect(worst.ratio).toBeLessThanOrEqual(1);
    // The bound is not vacuous: some weights use more than 90% of it.
    expect(worst.ratio).toBeGreaterThan(0.9);
  });
});

describe('Q8_0 (quant-q8_0-v1)', () => {
  // t = fl(x·fl(1/d)) with |t| ≤ 127 is off from x/d by ≤ 127·2^-23 ≈ 1.5e-5, so roundf may land one step
  // differently only when x/d is within that of a half-integer: the YAML tolerance 2e-5 (relative to d).
  const Q8_TOL = 2e-5;

  function checkQ8Blocks(x: Float32Array, bytes: Uint8Array): number {
    const y = dequantize('Q8_0', bytes, x.length);
    let worst = 0;
    for (let i = 0; i < x.length / 32; i++) {
      let amax = 0;
      for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[i * 32 + j] ?? 0));
      const d = Math.fround(amax / 127);
      if (d === 0) continue;
      const d16 = half(bytes, i * 34);
      for (let j = 0; j < 32; j++) {
        const bound = d / 2 + 127 * Math.abs(d16 - d) + Q8_TOL * d;
        worst = Math.max(worst, Math.abs((x[i * 32 + j] ?? 0) - (y[i * 32 + j] ?? 0)) / bound);
      }
    }
    return worst;
  }

  it('no stored quant is -128 (|q| ≤ 127, no wrap-around) [ob:q8_0-range]', () => {
    fc.assert(fc.property(blocks(32, 8), (x) => {
      const bytes = quantize('Q8_0', x);
      for (let i = 0; i < x.length / 32; i++) for (let j = 0; j < 32; j++) if (bytes[i * 34 + 2 + j] === 0x80) return false;
      return true;
    }), { numRuns: 300 });
  });

  it('quantize/dequantize stays within the proved bound on random blocks [ob:q8_0-error-bound]', () => {
    fc.assert(fc.property(blocks(32, 8), (x) => checkQ8Blocks(x, quantize('Q8_0', x)) <= 1), { numRuns: 300 });
  });

  it("llama.cpp's Q8_0 file is within the proved bound and never stores -128 [ob:q8_0-error-bound] [ob:q8_0-range]", () => {
    const worst = compareWithLlama('Q8_0', (x, bytes) => {
      for (let i = 0; i < x.length / 32; i++) for (let j = 0; j < 32; j++) if (bytes[i * 34 + 2 + j] === 0x80) return Infinity;
      return checkQ8Blocks(x, bytes);
    });
    expect(worst.tensors).toBeGreaterThan(0);
    expect(worst.ratio).toBeLessThanOrEqual(1);
    expect(worst.ratio).toBeGreaterThan(0.9);
  });
});

/** Runs `check` over every tensor of `dtype` in llama.cpp's quantized file against the f32 file; worst ratio. */
function compareWithLlama(dtype: 'Q4_0' | 'Q8_0', check: (x: Float32Array, bytes: Uint8Array) => number): { ratio: number; tensors: number } {
  const q = readGguf(path.join(GGUF, `tiny-coder-llama-${dtype}.gguf`));
  const f = readGguf(path.join(GGUF, 'tiny-coder-llama-f32.gguf'));
  try {
    let ratio = 0, tensors = 0;
    for (const t of q.tensors.filter((x) => x.ggmlType === dtype)) {
      const ft = f.tensors.find((x) => x.name === t.name);
      if (!ft || ft.ggmlType !== 'F32') continue;
      const x = dequantize('F32', f.read(ft), t.dims.reduce((a, b) => a * b, 1));
      ratio = Math.max(ratio, check(x, q.read(t)));
      tensors++;
    }
    return { ratio, tensors };
  } finally {
    q.close();
    f.close();
  }
}

describe('Q4_K (quant-q4_k-v1)', () => {
  it('the proved get_scale_min_k4 equals codecs scaleMinK4 on random 12-byte fields, and re-packs to the same bytes [ob:q4k-scale-bijection]', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 12, maxLength: 12 }), (s) => {
      const b = [...s];
      const pairs = Array.from({ length: 8 }, (_, j) => q4kScaleMin(w, b, j));
      for (let j = 0; j < 8; j++) expect(pairs[j]).toEqual(scaleMinK4(s, 0, j));
      expect(q4kPackScales(w, pairs.map((p) => p[0]), pairs.map((p) => p[1]))).toEqual(b);
    }), { numRuns: 2000 });
  });

  it('packing 6-bit scales and mins then unpacking with codecs scaleMinK4 returns them [ob:q4k-scale-min-roundtrip]', () => {
    const six = fc.array(fc.integer({ min: 0, max: 63 }), { minLength: 8, maxLength: 8 });
    fc.assert(fc.property(six, six, (ls, lm) => {
      const bytes = Uint8Array.from(q4kPackScales(w, ls, lm));
      for (let j = 0; j < 8; j++) expect(scaleMinK4(bytes, 0, j)).toEqual([ls[j], lm[j]]);
    }), { numRuns: 2000 });
  });

  it("the project's quantizer and decoder agree on the packing: round-trip RMS error under 10% [ob:q4k-scale-min-roundtrip]", () => {
    // A scale/min layout mismatch between quantize-kquants.ts and kquants.ts gives errors of the order of the values.
    // Magnitudes ≥ 1e-2: below that d = max scale/63 falls into f16's subnormal range and loses precision.
    fc.assert(fc.property(blocks(256, 3, -2), (x) => {
      const y = dequantize('Q4_K', quantize('Q4_K', x), x.length);
      let e = 0, s = 0;
      for (let i = 0; i < x.length; i++) { e += ((x[i] ?? 0) - (y[i] ?? 0)) ** 2; s += (x[i] ?? 0) ** 2; }
      return e <= 0.01 * s;
    }), { numRuns: 100 });
  });

  it('output 64j + 32h + l is nibble h of byte 16 + 32j + l scaled by sub-block 2j + h [ob:q4k-element-index]', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 128, maxLength: 128 }), fc.array(fc.integer({ min: 1, max: 63 }), { minLength: 8, maxLength: 8 }), (qs, ls) => {
      const block = new Uint8Array(144);
      setHalf(block, 0, F16_ONE);
      block.set(q4kPackScales(w, ls, new Array<number>(8).fill(0)), 4);
      block.set(qs, 16);
      const y = dequantize('Q4_K', block, 256);
      for (let j = 0; j < 4; j++) for (const h of [0, 1]) for (let l = 0; l < 32; l++) {
        const byte = qs[32 * j + l] ?? 0;
        if (y[64 * j + 32 * h + l] !== (ls[2 * j + h] ?? 0) * (h ? byte >> 4 : byte & 15)) return false;
      }
      return true;
    }), { numRuns: 200 });
  });
});

describe('Q6_K (quant-q6_k-v1)', () => {
  function q6Block(ql: Uint8Array, qh: Uint8Array, scales: Int8Array): Uint8Array {
    const b = new Uint8Array(210);
    b.set(ql, 0);
    b.set(qh, 128);
    b.set(new Uint8Array(scales.buffer, scales.byteOffset, 16), 192);
    setHalf(b, 208, F16_ONE);
    return b;
  }

  it('the proved unpack equals dequantizeQ6_K and decodeBlockRow; pack(unpack(bytes)) = bytes [ob:q6k-packing-bijection]', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 128, maxLength: 128 }), fc.uint8Array({ minLength: 64, maxLength: 64 }), (ql, qh) => {
      const block = q6Block(ql, qh, new Int8Array(16).fill(1));
      const y = dequantize('Q6_K', block, 256);
      const yk = decodeBlockRow('Q6_K', block, 0, 256, new Float32Array(256));
      for (let n = 0; n < 2; n++) for (let l = 0; l < 32; l++) {
        const a = ql[64 * n + l] ?? 0, b = ql[64 * n + l + 32] ?? 0, c = qh[32 * n + l] ?? 0;
        const q = q6kUnpack(w, a, b, c);
        for (let k = 0; k < 4; k++) {
          if (y[128 * n + l + 32 * k] !== q[k] || yk[128 * n + l + 32 * k] !== q[k]) return false;
          if ((q[k] ?? 0) < -32 || (q[k] ?? 0) > 31) return false;
        }
        const [l1, l2, l3, l4] = q.map((v) => v + 32) as [number, number, number, number];
        if (q6kPack(w, l1, l2, l3, l4).join() !== [a, b, c].join()) return false;
      }
      return true;
    }), { numRuns: 300 });
  });

  it('packing four 6-bit quants and decoding them with the codec gives them back [ob:q6k-packing-bijection]', () => {
    const six = fc.integer({ min: 0, max: 63 });
    fc.assert(fc.property(six, six, six, six, (l1, l2, l3, l4) => {
      const [a, b, c] = q6kPack(w, l1, l2, l3, l4);
      const ql = new Uint8Array(128), qh = new Uint8Array(64);
      ql[5] = a; ql[37] = b; qh[5] = c;
      const y = dequantize('Q6_K', q6Block(ql, qh, new Int8Array(16).fill(1)), 256);
      return [y[5], y[37], y[69], y[101]].join() === [l1 - 32, l2 - 32, l3 - 32, l4 - 32].join();
    }), { numRuns: 3000 });
  });

  it('element y is scaled by scales[y/16] [ob:q6k-element-index]', () => {
    const scales = Int8Array.from({ length: 16 }, (_, i) => i + 1);
    const ql = new Uint8Array(128).fill(0x11), qh = new Uint8Array(64).fill(0xaa); // every quant (1 | 2 << 4) − 32 = 1
    const y = dequantize('Q6_K', q6Block(ql, qh, scales), 256);
    for (let i = 0; i < 256; i++) expect(y[i]).toBe(Math.floor(i / 16) + 1);
  });
});

/**
 * Block codecs against blocks packed here from their logical contents (scales, mins, quants) following the
 * struct layouts of ggml-common.h. The expected value of every element is computed from the logical contents
 * in float32 (Math.fround at each step ggml rounds), so a layout or arithmetic slip fails exactly.
 * The bit-exact comparison with llama.cpp itself is in test/golden/gguf-llama-cpp.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { type DType, DTYPES } from '../../src/tensor/dtype.js';
import { canDequantize, dequantize } from '../../src/tensor/codecs/index.js';
import { f16ToF32 } from '../../src/tensor/half.js';

const f = Math.fround;
let seed = 12345;
function rand(n: number): number {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return (seed >>> 8) % n;
}
const randArr = (len: number, n: number): number[] => Array.from({ length: len }, () => rand(n));
/** A random finite positive f16 in a typical scale range, as bits. */
const randHalf = (): number => 0x1000 + rand(0x3000);
const putHalf = (b: Uint8Array, o: number, h: number): void => {
  b[o] = h & 0xff;
  b[o + 1] = h >> 8;
};

interface Case {
  bytes: Uint8Array;
  expected: number[];
}

function q8_0(): Case {
  const b = new Uint8Array(34), dh = randHalf(), q = randArr(32, 256).map((x) => x - 128);
  putHalf(b, 0, dh);
  q.forEach((v, i) => (b[2 + i] = v & 0xff));
  const d = f16ToF32(dh);
  return { bytes: b, expected: q.map((v) => f(v * d)) };
}

function q4_0(): Case {
  const b = new Uint8Array(18), dh = randHalf() | 0x8000 * rand(2), q = randArr(32, 16);
  putHalf(b, 0, dh);
  for (let j = 0; j < 16; j++) b[2 + j] = (q[j] ?? 0) | ((q[j + 16] ?? 0) << 4);
  const d = f16ToF32(dh);
  return { bytes: b, expected: q.map((v) => f((v - 8) * d)) };
}

function q4_1(): Case {
  const b = new Uint8Array(20), dh = randHalf(), mh = randHalf() | 0x8000, q = randArr(32, 16);
  putHalf(b, 0, dh);
  putHalf(b, 2, mh);
  for (let j = 0; j < 16; j++) b[4 + j] = (q[j] ?? 0) | ((q[j + 16] ?? 0) << 4);
  const d = f16ToF32(dh), m = f16ToF32(mh);
  return { bytes: b, expected: q.map((v) => f(f(v * d) + m)) };
}

function q5(kind: 'Q5_0' | 'Q5_1'): Case {
  const hasMin = kind === 'Q5_1';
  const b = new Uint8Array(hasMin ? 24 : 22), dh = randHalf(), mh = randHalf() | 0x8000, q = randArr(32, 32);
  putHalf(b, 0, dh);
  if (hasMin) putHalf(b, 2, mh);
  const qhAt = hasMin ? 4 : 2;
  let qh = 0;
  for (let j = 0; j < 32; j++) if ((q[j] ?? 0) & 16) qh |= 1 << j;
  new DataView(b.buffer).setUint32(qhAt, qh >>> 0, true);
  for (let j = 0; j < 16; j++) b[qhAt + 4 + j] = ((q[j] ?? 0) & 15) | (((q[j + 16] ?? 0) & 15) << 4);
  const d = f16ToF32(dh), m = f16ToF32(mh);
  return { bytes: b, expected: q.map((v) => (hasMin ? f(f(v * d) + m) : f((v - 16) * d))) };
}

/** Q4_K/Q5_K 12-byte scale packing: 8 six-bit scales and mins (get_scale_min_k4's inverse). */
function packScalesK4(b: Uint8Array, o: number, sc: number[], mn: number[]): void {
  for (let j = 0; j < 4; j++) {
    b[o + j] = (sc[j] ?? 0) | (((sc[j + 4] ?? 0) >> 4) << 6);
    b[o + j + 4] = (mn[j] ?? 0) | (((mn[j + 4] ?? 0) >> 4) << 6);
    b[o + j + 8] = ((sc[j + 4] ?? 0) & 15) | (((mn[j + 4] ?? 0) & 15) << 4);
  }
}

function qK(kind: 'Q4_K' | 'Q5_K'): Case {
  const five = kind === 'Q5_K';
  const b = new Uint8Array(five ? 176 : 144), dh = randHalf(), mh = randHalf();
  const sc = randArr(8, 64), mn = randArr(8, 64), q = randArr(256, five ? 32 : 16);
  putHalf(b, 0, dh);
  putHalf(b, 2, mh);
  packScalesK4(b, 4, sc, mn);
  const qs = five ? 48 : 16;
  for (let c = 0; c < 4; c++) {
    for (let l = 0; l < 32; l++) {
      const lo = q[c * 64 + l] ?? 0, hi = q[c * 64 + 32 + l] ?? 0;
      b[qs + c * 32 + l] = (lo & 15) | ((hi & 15) << 4);
      if (five) b[16 + l] = (b[16 + l] ?? 0) | (((lo >> 4) & 1) << (2 * c)) | (((hi >> 4) & 1) << (2 * c + 1));
    }
  }
  const d = f16ToF32(dh), dmin = f16ToF32(mh);
  return { bytes: b, expected: q.map((v, i) => f(f(f(d * (sc[i >> 5] ?? 0)) * v) - f(dmin * (mn[i >> 5] ?? 0)))) };
}

function q6K(): Case {
  const b = new Uint8Array(210), dh = randHalf(), q = randArr(256, 64), sc = randArr(16, 256).map((x) => x - 128);
  for (let n = 0; n < 2; n++) {
    for (let l = 0; l < 32; l++) {
      const at = (k: number): number => q[n * 128 + k * 32 + l] ?? 0;
      b[n * 64 + l] = (at(0) & 15) | ((at(2) & 15) << 4);
      b[n * 64 + 32 + l] = (at(1) & 15) | ((at(3) & 15) << 4);
      b[128 + n * 32 + l] = (at(0) >> 4) | ((at(1) >> 4) << 2) | ((at(2) >> 4) << 4) | ((at(3) >> 4) << 6);
    }
  }
  sc.forEach((s, i) => (b[192 + i] = s & 0xff));
  putHalf(b, 208, dh);
  const d = f16ToF32(dh);
  return { bytes: b, expected: q.map((v, i) => f(f(d * (sc[i >> 4] ?? 0)) * (v - 32))) };
}

/** Q2_K / Q3_K element i: 128-element half n, shift pair j, 16-row half h, lane l. */
const lowBitsAt = (i: number): { byte: number; shift: number } => ({ byte: (i >> 7) * 32 + ((i >> 4) & 1) * 16 + (i & 15), shift: ((i >> 5) & 3) * 2 });

function q2K(): Case {
  const b = new Uint8Array(84), dh = randHalf(), mh = randHalf(), sc = randArr(16, 16), mn = randArr(16, 16), q = randArr(256, 4);
  sc.forEach((s, i) => (b[i] = s | ((mn[i] ?? 0) << 4)));
  q.forEach((v, i) => {
    const { byte, shift } = lowBitsAt(i);
    b[16 + byte] = (b[16 + byte] ?? 0) | (v << shift);
  });
  putHalf(b, 80, dh);
  putHalf(b, 82, mh);
  const d = f16ToF32(dh), dmin = f16ToF32(mh);
  return { bytes: b, expected: q.map((v, i) => f(f(f(d * (sc[i >> 4] ?? 0)) * v) - f(dmin * (mn[i >> 4] ?? 0)))) };
}

function q3K(): Case {
  const b = new Uint8Array(110), dh = randHalf(), sc = randArr(16, 64), q = randArr(256, 8);
  q.forEach((v, i) => {
    const { byte, shift } = lowBitsAt(i);
    b[32 + byte] = (b[32 + byte] ?? 0) | ((v & 3) << shift);
    const lane = ((i >> 4) & 1) * 16 + (i & 15), bit = (i >> 7) * 4 + ((i >> 5) & 3);
    if (v & 4) b[lane] = (b[lane] ?? 0) | (1 << bit);
  });
  sc.forEach((s, j) => {
    const nib = j < 8 ? j : j - 8;
    b[96 + nib] = (b[96 + nib] ?? 0) | ((s & 15) << (j < 8 ? 0 : 4));
    b[96 + 8 + (j % 4)] = (b[96 + 8 + (j % 4)] ?? 0) | ((s >> 4) << (2 * Math.floor(j / 4)));
  });
  putHalf(b, 108, dh);
  const d = f16ToF32(dh);
  return { bytes: b, expected: q.map((v, i) => f(f(d * ((sc[i >> 4] ?? 0) - 32)) * (v - 4))) };
}

const MAKERS: Record<string, () => Case> = {
  Q8_0: q8_0, Q4_0: q4_0, Q4_1: q4_1, Q5_0: () => q5('Q5_0'), Q5_1: () => q5('Q5_1'),
  Q2_K: q2K, Q3_K: q3K, Q4_K: () => qK('Q4_K'), Q5_K: () => qK('Q5_K'), Q6_K: q6K,
};

describe('block dequantization matches the ggml layouts', () => {
  for (const [dtype, make] of Object.entries(MAKERS)) {
    it(`${dtype}: 3 random blocks decode element by element`, () => {
      const cases = [make(), make(), make()];
      const bytes = new Uint8Array(cases.reduce((s, c) => s + c.bytes.byteLength, 0));
      let o = 0;
      for (const c of cases) {
        bytes.set(c.bytes, o);
        o += c.bytes.byteLength;
      }
      const expected = cases.flatMap((c) => c.expected);
      const out = dequantize(dtype as DType, bytes, expected.length);
      expect(Array.from(out)).toEqual(expected);
    });
  }

  it('rejects an element count that is not whole blocks, or too few bytes', () => {
    expect(() => dequantize('Q4_K', new Uint8Array(144), 255)).toThrow(/multiple of the block size 256/);
    expect(() => dequantize('Q8_0', new Uint8Array(33), 32)).toThrow(/need 34 bytes/);
  });

  it('decodes every ggml type listed in DTYPES except the integer ones', () => {
    const missing = (Object.keys(DTYPES) as DType[]).filter((d) => DTYPES[d].id < 24 && !canDequantize(d));
    expect(missing).toEqual([]);
  });
});

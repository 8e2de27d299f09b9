import { describe, expect, test, vi } from 'vitest';
import { contractMode } from '../../src/contract/mode.js';
import { cpuBackend as be, matmul, matmulInt, matmulIntThreaded, threadPool } from '../../src/kernels/cpu/index.js';
import { actRowBytes, quantizeActivations } from '../../src/kernels/cpu/int-act.js';
import { INT_TYPES, type IntDType, matmulIntReference } from '../../src/kernels/cpu/int-ref.js';
import type { WeightMatrix } from '../../src/kernels/types.js';
import { f16ToF32, f32ToF16 } from '../../src/tensor/half.js';
import { violatedClause } from '../helpers.js';
import { randomF32 } from '../property/kernels-helpers.js';
import { SENTINEL, bits, counting, exact, k, reference, violation, weight } from './kernels-int-helpers.js';

/**
 * Edge cases of the integer-dot products (int-matmul.ts, int-act.ts, int-ref.ts): each contract clause on its
 * own, which form (SIMD kernel, scalar reference, float matmul, thread pool) a product takes, the activation
 * buffer's growth, and writes that must stay inside the output. Numbers are checked against the scalar
 * reference (int-ref.ts, bit for bit, as the SIMD kernels are specified) or a float64 dot product of the
 * codec-dequantized weights.
 */


describe('activation quantizer contracts', () => {
  const clause = violatedClause;
  const buf = new ArrayBuffer(4096);
  const x = new Float32Array(512);

  test('actRowBytes: cols must be a positive multiple of the block; Q8_0 and Q8_K row sizes', () => {
    for (const cols of [0, 16, -32]) expect(clause(() => actRowBytes('Q8_0', cols))).toBe('cols a positive multiple of the block');
    // Q8_0: 64 q + 2 d + 2 s (float32); Q8_K: 256 q + 1 d + 8 + 16 int16 sums
    expect(actRowBytes('Q8_0', 64)).toBe(64 + 8 + 8);
    expect(actRowBytes('Q8_K', 256)).toBe(256 + 4 + 16 + 32);
  });

  test('quantizeActivations: each clause on its own', () => {
    const q = (cols: number, n: number, xs: Float32Array, dst: ArrayBuffer, off: number): string => clause(() => quantizeActivations('Q8_0', xs, n, cols, dst, off));
    // a misaligned dst as well, so that the cols clause is the only one that can name these
    for (const cols of [0, 16, -32]) expect(q(cols, 1, x, buf, 1)).toBe('cols a positive multiple of the block');
    expect(q(32, 0, x, buf, 0)).toBe('x holds n·cols floats');
    expect(q(32, 1.5, x, buf, 0)).toBe('x holds n·cols floats');
    expect(q(32, 1, x.subarray(0, 31), buf, 0)).toBe('x holds n·cols floats');
    expect(q(32, 2, x.subarray(0, 32), buf, 0)).toBe('x holds n·cols floats');
    expect(q(32, 1, x, buf, 2)).toBe('dst holds n rows');
    expect(q(32, 1, x, new ArrayBuffer(actRowBytes('Q8_0', 32) - 1), 0)).toBe('dst holds n rows');
    expect(q(32, 2, x, new ArrayBuffer(actRowBytes('Q8_0', 32)), 0)).toBe('dst holds n rows');
    expect(q(32, 2, x, new ArrayBuffer(2 * actRowBytes('Q8_0', 32)), 0)).toBe('none');
  });
});

describe('activation quantizer values', () => {
  test('[ob:int-act-quantization] Q8_0: an all-zero block gets d = 0, q = 0 and s = 0 (no 0·∞)', () => {
    const x = Float32Array.from({ length: 64 }, (_, i) => (i < 32 ? -0 : i - 48));
    const buf = new ArrayBuffer(actRowBytes('Q8_0', 64));
    quantizeActivations('Q8_0', x, 1, 64, buf, 0);
    const q = new Int8Array(buf, 0, 64);
    const d = new Float32Array(buf, 64, 2);
    const s = new Float32Array(buf, 72, 2);
    expect(Array.from(q.subarray(0, 32))).toEqual(new Array(32).fill(0));
    expect(d[0]).toBe(0);
    expect(s[0]).toBe(0);
    // block 1 holds −16..15: d = f16(16/127), q(−16) = −127, the rest cancel in pairs, so s = f16(16/127 · −127) ≈ −16
    expect(d[1]).toBeCloseTo(16 / 127, 4);
    expect(q[32]).toBe(-127);
    expect(s[1]).toBeCloseTo(-16, 2);
  });

  test('[ob:int-act-quantization] Q8_K: of tied largest magnitudes the first one sets the sign of d (scalar form)', () => {
    for (const sign of [1, -1]) {
      const x = randomF32(256, 9, 0.5);
      x[5] = 3 * sign;
      x[100] = -3 * sign;
      const buf = new ArrayBuffer(actRowBytes('Q8_K', 256));
      quantizeActivations('Q8_K', x, 1, 256, buf, 0);
      const q = new Int8Array(buf, 0, 256);
      const d = new Float32Array(buf, 256, 1)[0]!;
      // ggml: iscale = −127/max, d = 1/iscale = −max/127, q = min(127, round(iscale·x))
      expect(Math.abs(d - (-3 * sign) / 127)).toBeLessThan(1e-7);
      // iscale·max = −127 whatever the sign of max, and the other tie maps to +127
      expect(q[5]).toBe(-127);
      expect(q[100]).toBe(127);
    }
  });

  test('Q8_K with x and dst in the kernel memory runs the SIMD quantizer (no element read on the JS side), same bytes', () => {
    const host = randomF32(512, 3, 2);
    const x = k.allocF32(512)!;
    x.set(host);
    const dst = k.allocBytes(2 * actRowBytes('Q8_K', 256))!;
    const counted = counting(x);
    quantizeActivations('Q8_K', counted.view, 2, 256, dst.buffer, dst.byteOffset);
    expect(counted.reads()).toBe(0);
    const ref = new Uint8Array(dst.length);
    quantizeActivations('Q8_K', host, 2, 256, ref.buffer, 0);
    expect(Array.from(dst)).toEqual(Array.from(ref));
  });
});

describe('scalar reference (int-ref.ts) contracts and bounds', () => {
  const clause = violatedClause;
  const w = weight('Q8_0', 3, 32, 11);
  const act = new Uint8Array(2 * actRowBytes('Q8_0', 32));
  const out = new Float32Array(6);

  test('each clause on its own', () => {
    const r = (ww: WeightMatrix, a: Uint8Array, n: number, o: Float32Array): string => clause(() => matmulIntReference(ww, a, n, o));
    expect(r({ ...w, cols: 48 }, act, 1, out)).toBe('dtype has an integer kernel');
    expect(r({ ...w, data: new Float32Array(32) }, act, 1, out)).toBe('dtype has an integer kernel');
    expect(r(w, act.subarray(0, actRowBytes('Q8_0', 32) - 1), 1, out)).toBe('act holds n quantized rows');
    expect(r(w, act.subarray(0, actRowBytes('Q8_0', 32)), 2, out)).toBe('act holds n quantized rows');
    expect(r(w, act, 1, out.subarray(0, 2))).toBe('out holds n·rows floats');
    expect(r(w, act, 2, out.subarray(0, 3))).toBe('out holds n·rows floats');
    expect(r(w, act, 2, out)).toBe('none');
  });

  test('writes n·rows outputs and nothing after them', () => {
    const x = randomF32(64, 12);
    quantizeActivations('Q8_0', x, 2, 32, act.buffer, 0);
    const o = new Float32Array(8).fill(SENTINEL);
    matmulIntReference(w, act, 2, o);
    expect(Array.from(o.subarray(6))).toEqual([SENTINEL, SENTINEL]);
    const { value, mag, wabs } = exact(w, x, 2);
    // activation rounding: ≤ half a step d = amax/127 (amax ≤ 1 here) per element, d stored as f16 (2^-11
    // relative), plus float32 round-off
    value.forEach((v, i) => expect(Math.abs(o[i]! - v)).toBeLessThanOrEqual(wabs[i]! / 254 + 2 ** -10 * mag[i]! + 1e-6));
  });
});

describe('matmulInt: contracts', () => {
  const w = be.prepareWeight(weight('Q8_0', 4, 32, 21));
  const x = be.upload(randomF32(64, 22));
  const out = be.alloc(8);
  const pre = (clause: string): string => `kernel-matmul-int-v1 pre '${clause}' [n,out,w,x]`;

  test('each precondition on its own, named by matmulInt itself', () => {
    expect(violation(() => matmulInt(w, x, 0, out))).toBe(pre('n ≥ 1'));
    expect(violation(() => matmulInt(w, x, 1.5, out))).toBe(pre('n ≥ 1'));
    expect(violation(() => matmulInt(w, x.subarray(0, 31), 1, out))).toBe(pre('x holds n·cols floats'));
    expect(violation(() => matmulInt(w, x.subarray(0, 32), 2, out))).toBe(pre('x holds n·cols floats'));
    expect(violation(() => matmulInt(w, x, 1, out.subarray(0, 3)))).toBe(pre('out holds n·rows floats'));
    expect(violation(() => matmulInt(w, x, 2, out.subarray(0, 4)))).toBe(pre('out holds n·rows floats'));
    expect(violation(() => matmulInt(w, x, 2, out))).toBe('none');
  });

  test('the finite-output postcondition looks at all n·rows outputs (matmulInt and the threaded form)', () => {
    if (contractMode() !== 'full') return;
    const bad = weight('Q8_0', 4, 32, 23);
    const data = bad.data as Uint8Array;
    // row 2's block scale = f16 NaN: outputs (t, 2) are NaN, row 0 stays finite
    data[2 * 34] = 0x00;
    data[2 * 34 + 1] = 0x7e;
    for (const wb of [bad, be.prepareWeight(bad)]) {
      expect(violation(() => matmulInt(wb, x, 1, be.alloc(4)))).toBe("kernel-matmul-int-v1 post 'finite output' [n,out,w,x]");
      expect(violation(() => matmulIntThreaded(threadPool(2)!, wb, x, 1, be.alloc(4)))).toBe("kernel-matmul-int-v1 post 'finite output' [n,out,pool,w,x]");
    }
  });
});

describe('matmulInt: which form a product takes', () => {
  test('types without an integer kernel take matmul: F32 and F16 weights', () => {
    const x = randomF32(64, 31);
    for (const w of [
      { dtype: 'F32' as const, rows: 3, cols: 32, data: randomF32(96, 32) },
      { dtype: 'F16' as const, rows: 3, cols: 32, data: new Uint8Array(Uint16Array.from(randomF32(96, 33), f32ToF16).buffer) },
    ]) {
      for (const ww of [w, be.prepareWeight(w)]) {
        const got = matmulInt(ww, be.upload(x), 2, be.alloc(6));
        expect(bits(got)).toEqual(bits(matmul(ww, be.upload(x), 2, be.alloc(6))));
        const { value, mag } = exact(w, x, 2);
        // float32 inputs, float64 or float32 sums: within 2^-20 of Σ|w·x|
        value.forEach((v, i) => expect(Math.abs(got[i]! - v)).toBeLessThanOrEqual(2 ** -20 * mag[i]! + 1e-30));
      }
    }
  });

  test('integer dtypes the integer kernel cannot take go to matmul, whose contract names them', () => {
    const wrong = (w: WeightMatrix): string => violation(() => matmulInt(w, randomF32(64, 34), 1, new Float32Array(4)));
    const matmulShape = "kernel-matmul-v1 pre 'weight bytes match dtype and shape' [n,out,w,x]";
    expect(wrong({ dtype: 'Q8_0', rows: 1, cols: 32, data: new Float32Array(32) })).toBe(matmulShape);
    expect(wrong({ dtype: 'Q8_0', rows: 1, cols: 48, data: new Uint8Array(68) })).toBe(matmulShape);
  });

  test('[ob:int-matmul-equals-reference] weights and out in the kernel memory take the SIMD kernel; else the scalar reference', () => {
    for (const [dtype, n] of [['Q8_0', 1], ['Q8_0', 3], ['Q4_K', 2]] as const) {
      const cols = INT_TYPES[dtype].block * 2;
      const host = weight(dtype, 5, cols, 41 + n);
      const x = randomF32(n * cols, 42 + n, 3);
      const ref = reference(host, x, n);
      const dev = be.prepareWeight(host);
      const counted = counting(dev.data as Uint8Array);
      const simd = matmulInt({ ...dev, data: counted.view }, be.upload(x), n, be.alloc(n * 5));
      expect(bits(simd)).toEqual(bits(ref));
      expect(counted.reads()).toBe(0);
      // weight on the heap, or out on the heap: the scalar reference, which reads the weight bytes
      const heapW = counting(new Uint8Array(host.data as Uint8Array));
      expect(bits(matmulInt({ ...host, data: heapW.view }, be.upload(x), n, be.alloc(n * 5)))).toEqual(bits(ref));
      expect(heapW.reads()).toBeGreaterThan(0);
      const devW = counting(dev.data as Uint8Array);
      expect(bits(matmulInt({ ...dev, data: devW.view }, be.upload(x), n, new Float32Array(n * 5)))).toEqual(bits(ref));
      expect(devW.reads()).toBeGreaterThan(0);
    }
  });

  test('only the 32-block prefill kernel asks for a scratch, big enough for two unpacked rows (int16 values, block scales)', () => {
    const cols = 256;
    const run = (dtype: IntDType, n: number): number[] => {
      const dev = be.prepareWeight(weight(dtype, 4, cols, 51));
      const x = be.upload(randomF32(n * cols, 52));
      const out = be.alloc(4 * n);
      const spy = vi.spyOn(k, 'scratch');
      try {
        matmulInt(dev, x, n, out);
        return spy.mock.calls.map(([bytes]) => bytes);
      } finally {
        spy.mockRestore();
      }
    };
    const asked = run('Q8_0', 3);
    expect(asked).toHaveLength(1);
    expect(asked[0]).toBeGreaterThanOrEqual(2 * (2 * cols + 4 * (cols / 32)));
    // decode (one token) and the K-quant kernels read no scratch: none is asked for (the scratch only grows)
    expect(run('Q8_0', 1)).toEqual([]);
    expect(run('Q4_K', 3)).toEqual([]);
  });

  test('several tokens take the prefill kernel, which unpacks each row pair once into the scratch (int16 values)', () => {
    const cols = 64;
    const host = weight('Q8_0', 4, cols, 55);
    const x = randomF32(2 * cols, 56);
    const ptr = k.scratch(16 * cols);
    const scratch = new Int16Array(k.memory.buffer, ptr, 2 * cols);
    scratch.fill(0);
    expect(bits(matmulInt(be.prepareWeight(host), be.upload(x), 2, be.alloc(8)))).toEqual(bits(reference(host, x, 2)));
    // the last pair is rows 2 and 3; slot 0 holds row 2's int8 quants widened to int16
    const data = host.data as Uint8Array;
    const row2 = Array.from({ length: cols }, (_, e) => ((data[(2 * 2 + (e >> 5)) * 34 + 2 + (e & 31)]! << 24) >> 24));
    expect(Array.from(scratch.subarray(0, cols))).toEqual(row2);
  });

  test('a one-token product leaves the rest of the kernel memory alone (f16 table intact)', () => {
    const cols = 2048;
    const host = weight('Q8_0', 6, cols, 61);
    const x = randomF32(cols, 62);
    expect(bits(matmulInt(be.prepareWeight(host), be.upload(x), 1, be.alloc(6)))).toEqual(bits(reference(host, x, 1)));
    const table = new Float32Array(k.memory.buffer, k.f16Table, 65536);
    expect(table.findIndex((v, h) => !Object.is(v, f16ToF32(h)) && !(Number.isNaN(v) && Number.isNaN(f16ToF32(h))))).toBe(-1);
  });

  test('the activation buffer grows geometrically, is reused when large enough, and the old one is released', () => {
    const dev = be.prepareWeight(weight('Q8_0', 1, 32, 71));
    const rowBytes = actRowBytes('Q8_0', 32);
    const run = (n: number): { allocs: number[]; releases: number } => {
      const x = be.upload(randomF32(32 * n, 72));
      const out = be.alloc(n);
      const a = vi.spyOn(k, 'allocBytes');
      const r = vi.spyOn(k, 'release');
      try {
        matmulInt(dev, x, n, out);
        return { allocs: a.mock.calls.map(([b]) => b), releases: r.mock.calls.length };
      } finally {
        a.mockRestore();
        r.mockRestore();
      }
    };
    // grow until the buffer is known to hold exactly the bytes last asked for (a few steps at most)
    let n = 1;
    let last = run(n);
    for (let i = 0; i < 8 && !(last.allocs.length === 1 && last.allocs[0] === n * rowBytes); i++) {
      n = last.allocs.length === 0 ? 4 * n : Math.ceil((2 * last.allocs[0]! + 1) / rowBytes);
      last = run(n);
    }
    expect(last.allocs).toEqual([n * rowBytes]);
    // more than twice the size: exactly what is asked for, the old buffer released
    n = 2 * n + 1;
    expect(run(n)).toEqual({ allocs: [n * rowBytes], releases: 1 });
    expect(run(n)).toEqual({ allocs: [], releases: 0 });
    expect(run(n + 1)).toEqual({ allocs: [2 * n * rowBytes], releases: 1 });
  });
});

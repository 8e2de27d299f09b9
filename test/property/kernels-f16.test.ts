import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { cpuBackend, matmul, matmulThreaded, threadPool } from '../../src/kernels/cpu/index.js';
import { wasmKernels } from '../../src/kernels/cpu/wasm/runtime.js';
import { f16ToF32 } from '../../src/tensor/half.js';
import { randomF32, withReadyThreadPools } from './kernels-helpers.js';

/**
 * F16 weights kept in their halves (not widened at load): the SIMD decoder equals the f16 → f32 conversion for
 * all 65,536 halves, so an F16 product equals the F32 product of the widened matrix bit for bit (the same
 * micro-kernels run on the decoded rows), on one thread and on several.
 */
const be = cpuBackend;
const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

function randomHalves(count: number, seed: number): Uint8Array {
  const out = new Uint8Array(2 * count);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    // sign, exponent 0..29 (finite, subnormals included), mantissa
    const h = (s & 0x83ff) | ((s >>> 16) % 30 << 10);
    out[2 * i] = h & 0xff;
    out[2 * i + 1] = h >> 8;
  }
  return out;
}

describe('F16 weights', () => {
  test('decode_f16 equals f16ToF32 for every half (NaN stays NaN)', () => {
    const k = wasmKernels;
    expect(k).toBeDefined();
    if (k === undefined) return;
    const src = k.allocBytes(2 * 65536)!;
    const dst = k.allocF32(65536)!;
    new Uint16Array(src.buffer, src.byteOffset, 65536).set(Array.from({ length: 65536 }, (_, h) => h));
    k.fn.decode_f16(src.byteOffset, dst.byteOffset, 65536, k.f16Table);
    for (let h = 0; h < 65536; h++) {
      const want = f16ToF32(h);
      if (Number.isNaN(want)) expect(Number.isNaN(dst[h])).toBe(true);
      else expect(Object.is(dst[h], want) || dst[h] === want).toBe(true);
    }
  });

  test('[ob:matmul-f16-equals-widened] an F16 product equals the F32 product of the widened matrix bit for bit', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 13 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 5 }), fc.integer(), (rows, c4, n, seed) => {
      const cols = 4 * c4;
      const halves = randomHalves(rows * cols, seed);
      const f16 = be.prepareWeight({ dtype: 'F16', rows, cols, data: halves });
      const wide = Float32Array.from({ length: rows * cols }, (_, i) => f16ToF32((halves[2 * i] as number) | ((halves[2 * i + 1] as number) << 8)));
      const f32 = be.prepareWeight({ dtype: 'F32', rows, cols, data: wide });
      const x = be.upload(randomF32(n * cols, seed + 1, 1));
      const a = matmul(f16, x, n, be.alloc(n * rows)).slice();
      expect(bits(a)).toEqual(bits(matmul(f32, x, n, be.alloc(n * rows))));
    }), { numRuns: 150 });
  });
});

describe('F16 weights on threads', () => {
  withReadyThreadPools();

  test('[ob:matmul-f16-equals-widened] 2 threads give the one-thread bits', () => {
    const p2 = threadPool(2)!;
    fc.assert(fc.property(fc.integer({ min: 8, max: 40 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 4 }), fc.integer(), (rows, c4, n, seed) => {
      const cols = 4 * c4;
      const f16 = be.prepareWeight({ dtype: 'F16', rows, cols, data: randomHalves(rows * cols, seed) });
      const x = be.upload(randomF32(n * cols, seed + 2, 1));
      const one = matmul(f16, x, n, be.alloc(n * rows)).slice();
      expect(bits(matmulThreaded(p2, f16, x, n, be.alloc(n * rows), 0))).toEqual(bits(one));
    }), { numRuns: 60 });
  });
});

import fc from 'fast-check';
import { describe, expect, test, vi } from 'vitest';
import { cpuBackend, matmulInt } from '../../src/kernels/cpu/index.js';
import { actRowBytes, quantizeActivations } from '../../src/kernels/cpu/int-act.js';
import { INT_TYPES, type IntDType, matmulIntReference } from '../../src/kernels/cpu/int-ref.js';
import { wasmKernels } from '../../src/kernels/cpu/wasm/runtime.js';
import { randomBlocks, randomF32 } from './kernels-helpers.js';

// before the kernels are compiled: the module without relaxed SIMD, as on an engine that lacks it
vi.hoisted(() => {
  process.env['APR_RELAXED_SIMD'] = '0';
});

/**
 * The K-quant integer dots without relaxed SIMD (extmul pairs instead of i16x8.relaxed_dot_i8x16_i7x16_s):
 * the same bits as the scalar reference, so engines with and without relaxed SIMD give the same outputs
 * (kernels-int-matmul.test.ts checks the relaxed module against the same reference).
 */
const be = cpuBackend;
const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describe('integer-dot matmul, module without relaxed SIMD', () => {
  test('APR_RELAXED_SIMD=0 compiles the fallback kernels', () => {
    expect(wasmKernels?.relaxed).toBe(false);
  });

  test('[ob:int-matmul-equals-reference] fallback SIMD kernel equals the scalar reference bit for bit (decode and prefill)', () => {
    const shape = fc.record({
      dtype: fc.constantFrom<IntDType>('Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K'),
      rows: fc.integer({ min: 1, max: 9 }),
      blocks: fc.integer({ min: 1, max: 2 }),
      n: fc.integer({ min: 1, max: 9 }),
      scale: fc.constantFrom(1e-3, 1, 40),
      seed: fc.integer(),
    });
    fc.assert(fc.property(shape, ({ dtype, rows, blocks, n, scale, seed }) => {
      const cols = 256 * blocks;
      const host = { dtype, rows, cols, data: randomBlocks(dtype, rows, cols, seed) };
      const x = randomF32(n * cols, seed + 1, scale);
      const got = matmulInt(be.prepareWeight(host), be.upload(x), n, be.alloc(n * rows));
      const act = new Uint8Array(n * actRowBytes(INT_TYPES[dtype].format, cols));
      quantizeActivations(INT_TYPES[dtype].format, x, n, cols, act.buffer, 0);
      expect(bits(got)).toEqual(bits(matmulIntReference(host, act, n, new Float32Array(n * rows))));
    }), { numRuns: 120 });
  });
});

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { cpuPortableBackend as cpu } from '../../src/kernels/cpu/index.js';
import { createWebGpuBackend, type WebGpuBackendOptions } from '../../src/kernels/webgpu/backend.js';
import { planKernels } from '../../src/kernels/webgpu/limits.js';
import { dequantize } from '../../src/tensor/codecs/index.js';
import { DTYPES, type DType } from '../../src/tensor/dtype.js';
import { randomBlocks, randomF32 } from './kernels-helpers.js';
import { gpu, noGpuReason, U32 } from './webgpu-helpers.js';

/**
 * Every product kernel variant (vec4 tiled shapes, blocked Q4_K / Q8_0 matvec, chunked matvec for
 * prefill, scalar fallbacks) against the CPU matmul on random shapes, including ragged edges (rows, n not
 * multiples of the tile; cols ≡ 0 mod 4 and not). Tolerance: float32 reassociation of a cols-term sum,
 * |gpu − cpu| ≤ (cols + 2)·2⁻²⁴·Σ|w·x|.
 */

const VARIANTS: [string, WebGpuBackendOptions][] = [
  ['v4 8x8x16', { kernel: 'v4', tile: { tm: 8, tn: 8, bk: 16 } }],
  ['v4 8x8x32', { kernel: 'v4', tile: { tm: 8, tn: 8, bk: 32 } }],
  ['v4 8x4x16', { kernel: 'v4', tile: { tm: 8, tn: 4, bk: 16 } }],
  ['v4 4x4x8', { kernel: 'v4', tile: { tm: 4, tn: 4, bk: 8 } }],
  ['v1 8x8x16, scalar matvec', { kernel: 'v1', tile: { tm: 8, tn: 8, bk: 16 }, blockedMatvec: false }],
];
const DT: DType[] = ['F32', 'Q8_0', 'Q4_K', 'Q6_K'];

/** Why a variant cannot run here (no device, or its tile needs more workgroup memory than the device grants), else ''. */
function skipReason(opts: WebGpuBackendOptions): string {
  if (!gpu) return noGpuReason;
  const fit = planKernels({ limits: gpu.limits, ...(opts.tile ? { tile: opts.tile } : {}) });
  return fit.ok ? '' : ` (skipped: ${gpu.description}: ${fit.reason})`;
}

describe.skipIf(!gpu)(`WebGPU product variants vs CPU${noGpuReason}`, () => {
  for (const [name, opts] of VARIANTS) {
    const skip = skipReason(opts);
    const be = gpu && skip === '' ? createWebGpuBackend(gpu, opts) : undefined;
    // The 32-deep tile with the Q4_K decoder inlined 32 times takes lavapipe ~50 s to compile; 8x8x16 covers Q4_K.
    test.skipIf(!be).each(DT.filter((d) => !(name.includes('x32') && d === 'Q4_K')))(`[ob:webgpu-matmul-parity] ${name}, %s: within the reassociation bound${skip}`, async (dt) => {
      const g = be as NonNullable<typeof be>;
      await fc.assert(
        fc.asyncProperty(fc.constant(dt), fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 3 }), fc.constantFrom(1, 3, 9, 21, 40), fc.integer(), async (dtype, rows, blocks, n, seed) => {
          const bs = DTYPES[dtype].blockSize;
          const cols = bs === 1 ? blocks * 20 + (seed & 1) * 3 : blocks * bs;
          const data = dtype === 'F32' ? randomF32(rows * cols, seed) : randomBlocks(dtype, rows, cols, seed);
          const dense = dtype === 'F32' ? (data as Float32Array) : dequantize(dtype, data as Uint8Array, rows * cols);
          const x = randomF32(n * cols, seed + 1);
          const out = g.alloc(n * rows);
          const w = g.prepareWeight(dtype === 'F32' ? { dtype, rows, cols, data: dense } : { dtype, rows, cols, data: data });
          g.matmul(w, g.upload(x), n, out);
          const got = await g.readAsync(out, 0, n * rows);
          const ref = new Float32Array(n * rows);
          cpu.matmul({ dtype: 'F32', rows, cols, data: dense }, x, n, ref);
          for (let t = 0; t < n; t++) {
            for (let r = 0; r < rows; r++) {
              let mag = 0;
              for (let c = 0; c < cols; c++) mag += Math.abs(dense[r * cols + c]! * x[t * cols + c]!);
              const i = t * rows + r;
              expect(Math.abs(got[i]! - ref[i]!), `${dtype} rows ${rows} cols ${cols} n ${n} t ${t} r ${r}`).toBeLessThanOrEqual((cols + 2) * U32 * mag + 1e-30);
            }
          }
        }),
        { numRuns: 3 },
      );
    }, 60_000);
  }
});

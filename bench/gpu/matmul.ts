/**
 * GPU matmul throughput of the WebGPU backend: out[n, rows] = x[n, cols] · Wᵀ at size³ (default 4096³) for
 * F32 and Q4_K weights, for each tile shape, as GFLOP/s (2·n·rows·cols per product) and as a fraction of the
 * fp32 peak (--peak-tflops, default 67: H100 SXM and H200 fp32 non-tensor peak). Checks 64 random outputs
 * against a float64 dot product within the reassociation bound before timing. One JSON line per case.
 * Variants: v4-TMxTNxBK (vec4 loads, register prefetch, padded k-major shared tiles) or v1-TMxTNxBK (scalar).
 *   node matmul.mjs [--size 4096] [--iters 20] [--variants v4-8x8x16,v1-8x8x16] [--dtypes F32,Q4_K] [--n N] [--dawn-features disable_robustness,disable_workgroup_init]
 */
import { dequantize } from '../../src/tensor/codecs/index.js';
import { DTYPES, type DType } from '../../src/tensor/dtype.js';
import { createWebGpuBackend, type GpuBuf, type WebGpuBackend } from '../../src/kernels/webgpu/backend.js';
import { benchGpu } from './gpu-flags.js';
import { flag, randomWeights } from './synthetic.js';

const size = Number(flag('size', '4096'));
const n = Number(flag('n', String(size)));
const iters = Number(flag('iters', '20'));
const peak = Number(flag('peak-tflops', '67'));
const variants = flag('variants', 'v4-8x8x16,v4-8x8x32,v4-8x8x8,v4-8x4x16,v4-4x4x16,v1-8x8x16').split(',').map((s) => {
  const [kernel, shape] = s.includes('-') ? s.split('-') : ['v4', s];
  const [tm, tn, bk] = (shape ?? '').split('x').map(Number);
  return { name: s, kernel: kernel === 'v1' ? 'v1' as const : 'v4' as const, tile: { tm: tm ?? 8, tn: tn ?? 8, bk: bk ?? 16 } };
});
const dtypes = flag('dtypes', 'F32,Q4_K').split(',') as DType[];

async function check(be: WebGpuBackend, dense: Float32Array, x: Float32Array, out: GpuBuf): Promise<number> {
  const got = await be.readAsync(out, 0, n * size);
  let worst = 0;
  for (let s = 0; s < 64; s++) {
    const t = Math.floor(Math.random() * n);
    const r = Math.floor(Math.random() * size);
    let dot = 0;
    let mag = 0;
    for (let c = 0; c < size; c++) {
      const p = (dense[r * size + c] as number) * (x[t * size + c] as number);
      dot += p;
      mag += Math.abs(p);
    }
    const err = Math.abs((got[t * size + r] as number) - dot) / ((size + 2) * 2 ** -24 * mag + 1e-30);
    worst = Math.max(worst, err);
  }
  return worst;
}

async function main(): Promise<void> {
  const a = { gpu: await benchGpu() };
  process.stderr.write(`device: ${a.gpu.description}\n`);
  const x = Float32Array.from({ length: n * size }, () => Math.random() - 0.5);
  for (const dtype of dtypes) {
    if (size % DTYPES[dtype].blockSize !== 0) throw new Error(`--size ${size} is not a multiple of the ${dtype} block size ${DTYPES[dtype].blockSize}`);
    const bytes = randomWeights(dtype, size * size);
    const dense = dtype === 'F32' ? new Float32Array(bytes.buffer) : dequantize(dtype, bytes, size * size);
    for (const { name, kernel, tile } of variants) {
      const be = createWebGpuBackend(a.gpu, { tile, kernel });
      const w = be.prepareWeight(dtype === 'F32' ? { dtype, rows: size, cols: size, data: dense } : { dtype, rows: size, cols: size, data: bytes });
      const xb = be.upload(x);
      const out = be.alloc(n * size);
      be.matmul(w, xb, n, out);
      const boundRatio = await check(be, dense, x, out);
      await be.finish();
      const t0 = performance.now();
      for (let i = 0; i < iters; i++) be.matmul(w, xb, n, out);
      await be.finish();
      const sec = (performance.now() - t0) / 1000;
      const gflops = (2 * n * size * size * iters) / sec / 1e9;
      const line = { bench: 'webgpu-matmul', device: a.gpu.description, dtype, n, rows: size, cols: size, variant: name, iters, ms_per_product: (1000 * sec) / iters, gflops: Math.round(gflops), fraction_of_fp32_peak: gflops / (peak * 1000), peak_tflops: peak, error_over_bound_max: boundRatio, device_error: be.firstError ?? null };
      process.stdout.write(`${JSON.stringify(line)}\n`);
      be.releaseWeight(w);
      be.release(xb);
      be.release(out);
      be.flush();
    }
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`matmul bench: ${(err as Error).message}\n`);
  process.exit(1);
});

import { availableParallelism } from 'node:os';
import { matmul } from '../../kernels/cpu/matmul.js';
import { MAX_THREADS, threadPool } from '../../kernels/cpu/pool.js';
import { ACC } from '../../kernels/cpu/wasm/matmul-src.js';
import { wasmKernels } from '../../kernels/cpu/wasm/runtime.js';

/**
 * The training products on the inference worker pool (src/kernels/cpu/pool.ts). A product runs on the pool
 * exactly when one thread would run it with the WebAssembly kernel (its three buffers in the kernel memory,
 * cols a multiple of the kernel's lane width) and it is big enough to be worth waking the workers; the pool
 * cuts the output rows at multiples of the kernel's row block and every row is summed in the same order by
 * the same kernel, so the result is bit-identical for every thread count. Everything else runs `matmul`
 * on the calling thread.
 */

/** Below this many multiply-adds a product stays on the calling thread (the inference default, APR_THREAD_MIN_WORK). */
const MIN_WORK_DEFAULT = 1 << 17;

function envCount(raw: string | undefined): number | undefined {
  const v = Number(raw);
  return raw !== undefined && raw !== '' && Number.isInteger(v) && v >= 0 ? v : undefined;
}

let cachedEnv: string | undefined;
let cachedThreads = 0;

/** Threads for training products: APR_THREADS when a positive integer (capped at the pool's maximum), else the machine's cores. */
export function trainThreads(): number {
  const raw = process.env['APR_THREADS'];
  if (cachedThreads > 0 && raw === cachedEnv) return cachedThreads;
  const env = envCount(raw);
  cachedEnv = raw;
  cachedThreads = env !== undefined && env >= 1 ? Math.min(env, MAX_THREADS) : Math.max(1, Math.min(availableParallelism(), MAX_THREADS));
  return cachedThreads;
}

let minWork: number | undefined;

function threadMinWork(): number {
  minWork ??= envCount(process.env['APR_THREAD_MIN_WORK']) ?? MIN_WORK_DEFAULT;
  return minWork;
}

/** Products handed to the pool so far, and milliseconds spent in products the pool could take at any thread count. */
const stats = { pooled: 0, parallelMs: 0 };

/** A copy of the counters (tests prove the pool ran; bench/train-speed.ts reports the share of a step that can run in parallel). */
export function productStats(): { readonly pooled: number; readonly parallelMs: number } {
  return { ...stats };
}

/** y[t, r] = Σ_c w[r, c]·x[t, c] for w [rows, cols], x [n, cols], y [n, rows] (overwritten). */
export function product(w: Float32Array, rows: number, cols: number, x: Float32Array, n: number, y: Float32Array): void {
  const k = wasmKernels;
  const simd = k !== undefined && cols % (4 * ACC) === 0 && k.owns(w) && k.owns(x) && k.owns(y);
  const parallel = simd && rows >= 8 && rows * cols * n >= threadMinWork();
  if (!parallel) {
    matmul({ dtype: 'F32', rows, cols, data: w }, x, n, y);
    return;
  }
  const t0 = performance.now();
  const threads = trainThreads();
  const pool = threads > 1 ? threadPool(threads) : undefined;
  if (pool === undefined || pool.isClosed) matmul({ dtype: 'F32', rows, cols, data: w }, x, n, y);
  else {
    stats.pooled++;
    pool.matmul({ kind: 'F32', w: w.byteOffset, x: x.byteOffset, out: y.byteOffset, rows, cols, n, rowBytes: 4 * cols });
  }
  stats.parallelMs += performance.now() - t0;
}

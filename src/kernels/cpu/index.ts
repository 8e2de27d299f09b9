import type { Backend, WeightMatrix } from '../types.js';
import { attention, kvStore } from './attention.js';
import { add, addBias, geglu, scale, softcap, swiglu } from './elementwise.js';
import { embed, matmul } from './matmul.js';
import { rmsnorm } from './norm.js';
import { rope } from './rope.js';
import { wasmKernels } from './wasm/runtime.js';
import { availableParallelism } from 'node:os';
import { defineContract } from '../../contract/index.js';
import { MAX_THREADS, threadPool } from './pool.js';
import { matmulIntThreaded, matmulInt } from './int-matmul.js';
import { matmulThreaded } from './threaded.js';

export { attention, kvStore } from './attention.js';
export { decodeBlockRow, ROW_DECODERS } from './blocks.js';
export { add, addBias, geglu, scale, softcap, swiglu } from './elementwise.js';
export { embed, matmul, matvec } from './matmul.js';
export { rmsnorm } from './norm.js';
export { rope } from './rope.js';
export { softmax } from './softmax.js';
export { matmulThreaded } from './threaded.js';
export { matmulInt, matmulIntThreaded } from './int-matmul.js';
export { threadPool, type ThreadPool } from './pool.js';

type KernelOps = 'features' | 'matmul' | 'embed' | 'rmsnorm' | 'addBias' | 'add' | 'swiglu' | 'geglu' | 'scale' | 'softcap' | 'rope' | 'kvStore' | 'attention';

const kernels: Required<Pick<Backend<Float32Array, WeightMatrix>, KernelOps>> = {
  features: ['attention-window', 'attention-softcap', 'attention-scale', 'rope-partial', 'weights-any-block'],
  matmul: (w, x, n, out) => void matmulInt(w, x, n, out),
  embed: (table, tokens, out) => void embed(table, tokens, out),
  rmsnorm: (x, weight, eps, n, dim, out) => void rmsnorm(x, weight, eps, n, dim, out),
  addBias: (x, bias, n, dim) => void addBias(x, bias, n, dim),
  add: (a, b, length, out) => void add(a, b, length, out),
  swiglu: (gate, up, length, out) => void swiglu(gate, up, length, out),
  geglu: (gate, up, length, out) => void geglu(gate, up, length, out),
  scale: (x, length, s) => void scale(x, length, s),
  softcap: (x, length, cap) => void softcap(x, length, cap),
  rope: (x, n, heads, headDim, startPos, theta, rotaryDim) => void rope(x, n, heads, headDim, startPos, theta, rotaryDim),
  kvStore: (cache, src, n, kvHeads, headDim, startPos, capacity) => void kvStore(cache, src, n, kvHeads, headDim, startPos, capacity),
  attention: (q, k, v, shape, out) => void attention(q, k, v, shape, out),
};

function alloc(length: number): Float32Array {
  return wasmKernels?.allocF32(length) ?? new Float32Array(length);
}

/** Copies a weight into the kernel memory (so products take the SIMD form); keeps it where it is if full. */
function prepareWeight(w: WeightMatrix): WeightMatrix {
  const k = wasmKernels;
  if (k === undefined || k.owns(w.data)) return w;
  if (w.data instanceof Float32Array) {
    const data = k.allocF32(w.data.length);
    if (data === undefined) return w;
    data.set(w.data);
    return { ...w, data };
  }
  const data = k.allocBytes(w.data.byteLength);
  if (data === undefined) return w;
  data.set(w.data);
  return { ...w, data };
}

/**
 * The CPU backend: Float32Array buffers in a shared WebAssembly memory; products and attention in
 * WebAssembly SIMD, the rest in TypeScript (everything in TypeScript where WebAssembly is unavailable), one
 * thread.
 */
export const cpuBackend: Backend<Float32Array, WeightMatrix> = {
  name: wasmKernels === undefined ? 'cpu' : 'cpu-simd',
  alloc,
  upload: (data) => {
    const buf = alloc(data.length);
    buf.set(data);
    return buf;
  },
  release: (buf) => wasmKernels?.release(buf),
  releaseWeight: (w) => wasmKernels?.release(w.data),
  read: (buf, offset, length) => buf.subarray(offset, offset + length),
  readAsync: (buf, offset, length) => Promise.resolve(buf.slice(offset, offset + length)),
  copy: (src, srcOffset, dst, dstOffset, length) => dst.set(src.subarray(srcOffset, srcOffset + length), dstOffset),
  prepareWeight,
  ...kernels,
};

/** The same kernels on ordinary Float32Arrays: every kernel in its TypeScript form (float64 sums). */
export const cpuPortableBackend: Backend<Float32Array, WeightMatrix> = {
  name: 'cpu-portable',
  alloc: (length) => new Float32Array(length),
  upload: (data) => Float32Array.from(data),
  read: (buf, offset, length) => buf.subarray(offset, offset + length),
  readAsync: (buf, offset, length) => Promise.resolve(buf.slice(offset, offset + length)),
  copy: (src, srcOffset, dst, dstOffset, length) => dst.set(src.subarray(srcOffset, srcOffset + length), dstOffset),
  prepareWeight: (w) => w,
  ...kernels,
};

export interface CpuBackendOptions {
  /** Threads for matrix products, the calling thread included (default: APR_THREADS, else min(cores, 8)). */
  threads?: number;
  /** Products below this many multiply-adds stay on the calling thread (default: APR_THREAD_MIN_WORK, else 2^17). */
  minWork?: number;
  /**
   * Integer-dot products for block-quantized weights (activations rounded to 8 bits, as llama.cpp); false:
   * every product exact against the dequantized weights (as the WebGPU kernels), e.g. as a parity reference.
   * Default true (APR_QUANT_DOT=f32 turns it off everywhere).
   */
  integerDot?: boolean;
}

function envCount(name: string): number | undefined {
  const v = Number(process.env[name]);
  return Number.isInteger(v) && v >= 0 ? v : undefined;
}

/** Default thread count: APR_THREADS when a positive integer, else min(available cores, 8). */
function defaultThreads(): number {
  const env = envCount('APR_THREADS');
  if (env !== undefined && env >= 1) return Math.min(env, MAX_THREADS);
  return Math.max(1, Math.min(availableParallelism(), 8));
}

export const cpuBackendContract = defineContract<CpuBackendOptions, Backend<Float32Array, WeightMatrix>>({
  id: 'kernel-threads-v1',
  equation: 'cpu_backend',
  spec: 'createCpuBackend({threads: T, integerDot}) = cpuBackend with matmul on T threads (integer-dot or exact for block weights); every kernel result independent of T',
  pre: [['threads an integer in [1, 64] when given', ({ threads }) => threads === undefined || (Number.isInteger(threads) && threads >= 1 && threads <= MAX_THREADS)]],
});

/**
 * The CPU backend with its matrix products on `threads` threads (worker threads over the shared kernel
 * memory); the other kernels run on the calling thread. One thread, or no WebAssembly: `cpuBackend` itself.
 */
export function createCpuBackend(opts: CpuBackendOptions = {}): Backend<Float32Array, WeightMatrix> {
  return cpuBackendContract.run(opts, () => {
    const threads = opts.threads ?? defaultThreads();
    const exact = opts.integerDot === false;
    let pool = threadPool(threads);
    if (pool === undefined) return exact ? { ...cpuBackend, name: `${cpuBackend.name}-exact`, matmul: (w, x, n, out) => void matmul(w, x, n, out) } : cpuBackend;
    const minWork = opts.minWork ?? envCount('APR_THREAD_MIN_WORK') ?? 1 << 17;
    const threaded = exact ? matmulThreaded : matmulIntThreaded;
    return {
      ...cpuBackend,
      name: `${cpuBackend.name}-${threads}t${exact ? '-exact' : ''}`,
      matmul: (w, x, n, out) => {
        // Stryker disable next-line EqualityOperator: pool is never undefined here (threadPool with WebAssembly and threads ≥ 2 always returns one), so `pool !== undefined` only fetches the same cached pool again, or its replacement once closed, as the original does
        if (pool === undefined || pool.isClosed) pool = threadPool(threads);
        if (pool === undefined) void (exact ? matmul(w, x, n, out) : matmulInt(w, x, n, out));
        else threaded(pool, w, x, n, out, minWork);
      },
    };
  });
}

import { defineContract } from '../../contract/index.js';
import { DTYPES } from '../../tensor/dtype.js';
import type { WeightMatrix } from '../types.js';
import { matmul } from './matmul.js';
import { MATMUL_KINDS, type MatmulKind, type ThreadPool } from './pool.js';
import { wasmKernels } from './wasm/runtime.js';

/**
 * The multi-threaded matrix product: the WebAssembly kernel of `matmul`, its output rows split over the
 * threads of a pool. Each row is computed by the same kernel with the same summation order as on one
 * thread, so the result is bit-identical for every thread count (and batch-invariant, as `matmul`).
 * Products below `minWork` multiply-adds, or whose buffers are not all in the kernel memory, run `matmul`
 * on the calling thread (waking workers costs more than such a product).
 */

interface Input {
  w: WeightMatrix;
  x: Float32Array;
  n: number;
  out: Float32Array;
  threads: number;
}

function rowBytes(w: WeightMatrix): number {
  const { blockSize, blockBytes } = DTYPES[w.dtype];
  return w.dtype === 'F32' ? 4 * w.cols : (w.cols / blockSize) * blockBytes;
}

function shapeOk({ w }: Input): boolean {
  const { blockSize } = DTYPES[w.dtype];
  return Number.isInteger(w.rows) && w.rows >= 1 && w.cols % blockSize === 0 && w.data.byteLength >= w.rows * rowBytes(w);
}

export const threadedMatmulContract = defineContract<Input, Float32Array>({
  id: 'kernel-threads-v1',
  equation: 'threaded_matmul',
  spec: 'out[t, r] = Σ_c W[r, c] · x[t, c], rows r ∈ [a_p, b_p) computed by thread p with the one-thread kernel',
  pre: [
    ['weight bytes match dtype and shape', shapeOk],
    ['n ≥ 1', ({ n }) => Number.isInteger(n) && n >= 1],
    ['x holds n·cols floats', ({ w, x, n }) => x.length >= n * w.cols],
    ['out holds n·rows floats', ({ w, out, n }) => out.length >= n * w.rows],
  ],
  post: [['finite output', ({ w, n }, out) => out.subarray(0, n * w.rows).every(Number.isFinite)]],
});

function kindOf(w: WeightMatrix): MatmulKind | undefined {
  return Object.hasOwn(MATMUL_KINDS, w.dtype) ? (w.dtype as MatmulKind) : undefined;
}

/** out[t, r] = Σ_c W[r, c] · x[t, c] on every thread of `pool` (x is [n, cols], out is [n, rows]). */
export function matmulThreaded(pool: ThreadPool, w: WeightMatrix, x: Float32Array, n: number, out: Float32Array, minWork = 0): Float32Array {
  return threadedMatmulContract.run({ w, x, n, out, threads: pool.threads }, () => {
    const k = wasmKernels;
    const kind = kindOf(w);
    const big = w.rows * w.cols * n >= minWork && w.rows >= 8;
    if (k === undefined || kind === undefined || !big || w.cols % 4 !== 0 || !k.owns(w.data) || !k.owns(x) || !k.owns(out)) return matmul(w, x, n, out);
    pool.matmul({ kind, w: w.data.byteOffset, x: x.byteOffset, out: out.byteOffset, rows: w.rows, cols: w.cols, n, rowBytes: rowBytes(w) });
    return out;
  });
}

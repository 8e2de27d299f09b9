import { allFinite } from '../../contract/predicates.js';
import { defineContract } from '../../contract/index.js';
import type { WeightMatrix } from '../types.js';
import { actRowBytes, quantizeActivations } from './int-act.js';
import { INT_TYPES, type IntDType, matmulIntReference } from './int-ref.js';
import { matmul } from './matmul.js';
import type { MatmulKind, ThreadPool } from './pool.js';
import { matmulThreaded } from './threaded.js';
import { type WasmKernels, wasmKernels } from './wasm/runtime.js';

/**
 * Products against block-quantized weights the way ggml's CPU backend computes them: the activations are
 * quantized once per product to 8-bit blocks (int-act.ts), then each output is an integer dot product per
 * weight block with one float scale multiply per block (int-ref.ts defines the exact arithmetic; the SIMD
 * kernels in wasm/int-src.ts equal it bit for bit). Weights are read in their stored format. Types without an
 * integer kernel (and every type when APR_QUANT_DOT=f32) take `matmul` (rows decoded to float32).
 * Every output depends only on its weight row and its token row, so results do not change with the batch size
 * or the thread count.
 */

type Suffix = 'q8_0' | 'q4_0' | 'q4_1' | 'q5_0' | 'q5_1' | 'iq4_nl' | 'q2_k' | 'q3_k' | 'q4_k' | 'q5_k' | 'q6_k';
const SUFFIX: Readonly<Record<IntDType, Suffix>> = { Q8_0: 'q8_0', Q4_0: 'q4_0', Q4_1: 'q4_1', Q5_0: 'q5_0', Q5_1: 'q5_1', IQ4_NL: 'iq4_nl', Q2_K: 'q2_k', Q3_K: 'q3_k', Q4_K: 'q4_k', Q5_K: 'q5_k', Q6_K: 'q6_k' };

/** One token: the fused kernel (qdot, unpacks as it goes); several: rows unpacked once into a scratch (qgemm). */
function kernelName(d: IntDType, n: number): `qdot_${Suffix}` | `qgemm_${Suffix}` {
  return n === 1 ? `qdot_${SUFFIX[d]}` : `qgemm_${SUFFIX[d]}`;
}

function poolKind(d: IntDType, n: number): MatmulKind {
  return `${n === 1 ? 'INT' : 'GEMM'}_${d}`;
}

const enabled = process.env['APR_QUANT_DOT'] !== 'f32';

function intType(w: WeightMatrix): IntDType | undefined {
  if (!enabled || !(w.data instanceof Uint8Array) || !Object.hasOwn(INT_TYPES, w.dtype)) return undefined;
  const d = w.dtype as IntDType;
  return w.cols % INT_TYPES[d].block === 0 ? d : undefined;
}

/** Quantized activations: a grow-only buffer in the kernel memory (or on the heap without it), main thread only. */
let act: Uint8Array | undefined;

function actBuffer(k: WasmKernels | undefined, bytes: number): Uint8Array {
  if (act !== undefined && act.byteLength >= bytes) return act;
  const size = Math.max(bytes, 2 * (act?.byteLength ?? 0));
  if (act !== undefined) k?.release(act);
  act = k?.allocBytes(size) ?? new Uint8Array(size);
  return act;
}

/** Quantizes x ([n, cols]) in the format `d` takes; returns the buffer. */
function quantize(d: IntDType, w: WeightMatrix, x: Float32Array, n: number): Uint8Array {
  const format = INT_TYPES[d].format;
  const buf = actBuffer(wasmKernels, n * actRowBytes(format, w.cols));
  quantizeActivations(format, x, n, w.cols, buf.buffer, buf.byteOffset);
  return buf;
}

function intProduct(d: IntDType, w: WeightMatrix, x: Float32Array, n: number, out: Float32Array): Float32Array {
  const q = quantize(d, w, x, n);
  const k = wasmKernels;
  if (k !== undefined && k.owns(w.data) && k.owns(out) && k.owns(q)) {
    const scratch = n === 1 || INT_TYPES[d].block === 256 ? 0 : k.scratch(16 * w.cols);
    k.fn[kernelName(d, n)](w.data.byteOffset, q.byteOffset, out.byteOffset, w.rows, w.cols, n, w.rows, scratch, k.f16Table);
    return out;
  }
  return matmulIntReference(w, q, n, out);
}

interface Input {
  w: WeightMatrix;
  x: Float32Array;
  n: number;
  out: Float32Array;
}

const pre: [string, (i: Input) => boolean][] = [
  ['n ≥ 1', ({ n }) => Number.isInteger(n) && n >= 1],
  ['x holds n·cols floats', ({ w, x, n }) => x.length >= n * w.cols],
  ['out holds n·rows floats', ({ w, out, n }) => out.length >= n * w.rows],
];

export const matmulIntContract = defineContract<Input, Float32Array>({
  id: 'kernel-matmul-int-v1',
  equation: 'matmul_int',
  spec: 'out[t, r] = Σ_blocks f32(Σ s·q_w·q_x) · (d_w · d_x) [− mins], x quantized per row to Q8_0/Q8_K; other dtypes: matmul',
  pre,
  post: [['finite output', ({ w, n }, out) => allFinite(out, n * w.rows)]],
});

/** out[t, r] = Σ_c W[r, c] · x[t, c] with integer dot products for Q8_0/Q4_0/Q4_K/Q6_K weights (see above). */
export function matmulInt(w: WeightMatrix, x: Float32Array, n: number, out: Float32Array): Float32Array {
  return matmulIntContract.run({ w, x, n, out }, () => {
    const d = intType(w);
    return d === undefined ? matmul(w, x, n, out) : intProduct(d, w, x, n, out);
  });
}

export const matmulIntThreadedContract = defineContract<Input & { pool: ThreadPool }, Float32Array>({
  id: 'kernel-matmul-int-v1',
  equation: 'matmul_int_threaded',
  spec: 'matmulInt with rows r ∈ [a_p, b_p) computed by thread p with the one-thread kernel; x quantized once by the caller',
  pre,
  post: [['finite output', ({ w, n }, out) => allFinite(out, n * w.rows)]],
});

/**
 * `matmulInt` on the threads of `pool` (on the calling thread for products below `minWork` multiply-adds or
 * buffers outside the kernel memory; `matmulThreaded` for dtypes without an integer kernel).
 */
export function matmulIntThreaded(pool: ThreadPool, w: WeightMatrix, x: Float32Array, n: number, out: Float32Array, minWork = 0): Float32Array {
  return matmulIntThreadedContract.run({ pool, w, x, n, out }, () => {
    const d = intType(w);
    const k = wasmKernels;
    if (d === undefined) return matmulThreaded(pool, w, x, n, out, minWork);
    if (k === undefined || w.rows * w.cols * n < minWork || w.rows < 8 || !k.owns(w.data) || !k.owns(out)) return intProduct(d, w, x, n, out);
    const q = quantize(d, w, x, n);
    const rowBytes = (w.cols / INT_TYPES[d].block) * INT_TYPES[d].bytes;
    pool.matmul({ kind: poolKind(d, n), w: w.data.byteOffset, x: q.byteOffset, out: out.byteOffset, rows: w.rows, cols: w.cols, n, rowBytes });
    return out;
  });
}


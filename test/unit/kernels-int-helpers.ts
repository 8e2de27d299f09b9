/** Shared by the kernels-cpu-mut-int tests: weights, the scalar and float64 references, contract-violation labels. */
import { ContractViolation } from '../../src/contract/index.js';
import { actRowBytes, quantizeActivations } from '../../src/kernels/cpu/int-act.js';
import { INT_TYPES, type IntDType, matmulIntReference } from '../../src/kernels/cpu/int-ref.js';
import { wasmKernels } from '../../src/kernels/cpu/wasm/runtime.js';
import type { WeightMatrix } from '../../src/kernels/types.js';
import { dequantize } from '../../src/tensor/codecs/index.js';
import { randomBlocks } from '../property/kernels-helpers.js';
export const k = wasmKernels!;
export const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
export const SENTINEL = 7.25;

/** `contractId clause [input keys]` of the violation `fn` throws, 'none' when it passes. */
export function violation(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ContractViolation)) throw err;
    const v = (err.kind === 'pre' ? err.values : (err.values as { input: object }).input) as object;
    return `${err.contractId} ${err.kind} '${err.clause}' [${Object.keys(v).sort().join(',')}]`;
  }
  return 'none';
}

export function weight(dtype: IntDType, rows: number, cols: number, seed: number): WeightMatrix {
  return { dtype, rows, cols, data: randomBlocks(dtype, rows, cols, seed) };
}

/** The scalar reference of the whole product: x quantized by the scalar quantizer, then int-ref.ts. */
export function reference(w: WeightMatrix, x: Float32Array, n: number): Float32Array {
  const format = INT_TYPES[w.dtype as IntDType].format;
  const act = new Uint8Array(n * actRowBytes(format, w.cols));
  quantizeActivations(format, x, n, w.cols, act.buffer, 0);
  return matmulIntReference({ ...w, data: new Uint8Array(w.data as Uint8Array) }, act, n, new Float32Array(n * w.rows));
}

/** float64 Σ_c W[r, c]·x[t, c] of the codec-dequantized weight, and Σ|W·x| (for the tolerance). */
export function exact(w: WeightMatrix, x: Float32Array, n: number): { value: Float64Array; mag: Float64Array; wabs: Float64Array } {
  const wf = w.data instanceof Float32Array ? w.data : dequantize(w.dtype, w.data, w.rows * w.cols);
  const value = new Float64Array(n * w.rows);
  const mag = new Float64Array(n * w.rows);
  const wabs = new Float64Array(n * w.rows);
  for (let t = 0; t < n; t++) for (let r = 0; r < w.rows; r++) for (let c = 0; c < w.cols; c++) {
    const p = wf[r * w.cols + c]! * x[t * w.cols + c]!;
    value[t * w.rows + r]! += p;
    mag[t * w.rows + r]! += Math.abs(p);
    wabs[t * w.rows + r]! += Math.abs(wf[r * w.cols + c]!);
  }
  return { value, mag, wabs };
}

/** A view of `a` that counts element reads (a kernel in WebAssembly reads none through it). */
export function counting<T extends Float32Array | Uint8Array>(a: T): { view: T; reads: () => number } {
  let reads = 0;
  const view = new Proxy(a, {
    get(target, p) {
      if (typeof p === 'string' && /^\d+$/.test(p)) reads++;
      const v: unknown = Reflect.get(target, p);
      return typeof v === 'function' ? (v as (...args: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { view, reads: () => reads };
}

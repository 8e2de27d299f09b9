import { matmul } from '../../kernels/cpu/matmul.js';
import { wasmKernels } from '../../kernels/cpu/wasm/runtime.js';
import { product } from './threads.js';

/**
 * The products of training, all reduced to the inference kernel `matmul` (out[t, r] = Σ_c W[r, c]·x[t, c]),
 * which runs in WebAssembly SIMD when its three buffers live in the kernel memory and cols is a multiple of
 * 4, split over the worker pool's threads when large (./threads.ts: the same bits for every thread count).
 * Activations stay ordinary Float32Arrays; each product copies its operands into grow-only scratch
 * buffers of the kernel memory (O(n·(rows + cols)) copies against O(n·rows·cols) work), so no activation
 * has to be freed by hand. Without WebAssembly every product runs the TypeScript kernel (float64 sums).
 */

const slots: Float32Array[] = [];

/** Scratch slot `i` of at least `length` floats: in the kernel memory when possible, contents undefined. */
export function scratch(i: number, length: number): Float32Array {
  const cur = slots[i];
  if (cur !== undefined && cur.length >= length) return cur.subarray(0, length);
  if (cur !== undefined) wasmKernels?.release(cur);
  const size = Math.max(length, 2 * (cur?.length ?? 0), 1024);
  const next = wasmKernels?.allocF32(size) ?? new Float32Array(size);
  slots[i] = next;
  return next.subarray(0, length);
}

/** A persistent float buffer in the kernel memory (weights), or an ordinary one. */
export function kernelFloats(length: number): Float32Array {
  return wasmKernels?.allocF32(length) ?? new Float32Array(length);
}

const S_X = 0;
const S_OUT = 1;
const S_WT = 2;
const S_XT = 3;
const S_YT = 4;
const S_W = 6;

function simdOk(cols: number): boolean {
  return wasmKernels !== undefined && cols % 4 === 0;
}

/**
 * y[t, r] = Σ_c w[r, c]·x[t, c] (+ y when `accumulate`). `w` is [rows, cols]; x [n, cols]; y [n, rows].
 * A weight outside the kernel memory is copied into a scratch first when `copyWeight` (temporaries).
 */
export function matmulNT(w: Float32Array, rows: number, cols: number, x: Float32Array, n: number, y: Float32Array, accumulate = false, copyWeight = false): void {
  if (simdOk(cols) && copyWeight && !wasmKernels?.owns(w)) {
    const ws = scratch(S_W, rows * cols);
    ws.set(w.subarray(0, rows * cols));
    w = ws;
  }
  if (!simdOk(cols) || !wasmKernels?.owns(w)) {
    const out = accumulate ? new Float32Array(n * rows) : y;
    matmul({ dtype: 'F32', rows, cols, data: w }, x, n, out);
    if (accumulate) addInto(y, out, n * rows);
    return;
  }
  const xs = scratch(S_X, n * cols);
  xs.set(x.subarray(0, n * cols));
  const out = scratch(S_OUT, n * rows);
  product(w, rows, cols, xs, n, out);
  if (accumulate) addInto(y, out, n * rows);
  else y.set(out);
}

/** dst[i] += src[i] for i < len. */
export function addInto(dst: Float32Array, src: Float32Array, len: number): void {
  for (let i = 0; i < len; i++) dst[i] = (dst[i] as number) + (src[i] as number);
}

/**
 * dst[c·ld + r] = src[r·srcLd + c] for r < rows, c < cols (columns beyond `rows` up to ld are zeroed), in
 * 32×32 tiles so both sides stay in cache.
 */
export function transposeInto(src: Float32Array, rows: number, cols: number, dst: Float32Array, ld = rows, srcLd = cols): void {
  const B = 32;
  for (let r0 = 0; r0 < rows; r0 += B) {
    const r1 = Math.min(rows, r0 + B);
    for (let c0 = 0; c0 < cols; c0 += B) {
      const c1 = Math.min(cols, c0 + B);
      for (let r = r0; r < r1; r++) {
        const o = r * srcLd;
        for (let c = c0; c < c1; c++) dst[c * ld + r] = src[o + c] as number;
      }
    }
  }
  if (ld > rows) for (let c = 0; c < cols; c++) dst.fill(0, c * ld + rows, (c + 1) * ld);
}

/**
 * dx[t, c] += Σ_r dy[t, r]·w[r, c]: the product with Wᵀ (transposed into a scratch first); with `overwrite`
 * (dx known to be zero) the sum is stored instead of added.
 */
export function backInput(w: Float32Array, rows: number, cols: number, dy: Float32Array, n: number, dx: Float32Array, overwrite = false): void {
  const wt = scratch(S_WT, rows * cols);
  transposeInto(w, rows, cols, wt);
  backInputT(wt, rows, cols, dy, n, dx, overwrite);
}

/** `backInput` given Wᵀ [cols, rows] itself (a frozen weight's kept transpose, or one decoded transposed). */
export function backInputT(wt: Float32Array, rows: number, cols: number, dy: Float32Array, n: number, dx: Float32Array, overwrite = false): void {
  matmulOwned(wt, cols, rows, dy, n, dx, wasmKernels?.owns(wt) === true, overwrite);
}

function matmulOwned(w: Float32Array, rows: number, cols: number, x: Float32Array, n: number, y: Float32Array, owned: boolean, overwrite: boolean): void {
  const simd = owned && simdOk(cols);
  const xs = simd ? scratch(S_X, n * cols) : x;
  if (simd) xs.set(x.subarray(0, n * cols));
  const out = overwrite && !simd ? y : simd ? scratch(S_OUT, n * rows) : new Float32Array(n * rows);
  product(w, rows, cols, xs, n, out);
  if (out === y) return;
  if (overwrite) y.set(out.subarray(0, n * rows));
  else addInto(y, out, n * rows);
}

/**
 * dw[r, c] += Σ_t dy[t, r]·x[t, c]: Xᵀ [cols, n'] is the kernel's weight and dYᵀ [rows, n'] its input
 * (n' = n rounded up to 4, zero-padded), so the product lands as [rows, cols].
 */
export function backWeight(dy: Float32Array, x: Float32Array, n: number, rows: number, cols: number, dw: Float32Array): void {
  const np = (n + 3) & ~3;
  const xt = scratch(S_XT, cols * np);
  transposeInto(x, n, cols, xt, np);
  const yt = scratch(S_YT, rows * np);
  transposeInto(dy, n, rows, yt, np);
  const owned = wasmKernels !== undefined && wasmKernels.owns(xt);
  if (!owned) {
    const out = new Float32Array(rows * cols);
    matmul({ dtype: 'F32', rows: cols, cols: np, data: xt }, yt, rows, out);
    addInto(dw, out, rows * cols);
    return;
  }
  const out = scratch(S_OUT, rows * cols);
  product(xt, cols, np, yt, rows, out);
  addInto(dw, out, rows * cols);
}

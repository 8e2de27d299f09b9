import { totalmem } from 'node:os';
import { dequantizeNf4 } from '../../tensor/quant/nf4.js';
import { wasmKernels } from '../../kernels/cpu/wasm/runtime.js';
import { scratch, transposeInto } from './linalg.js';

/**
 * Wᵀ for the input gradient of a frozen weight (dX = dY·W needs W's columns contiguous), without the
 * serial pass of a fresh transpose every backward: a frozen f32 weight keeps its transpose (in the kernel
 * memory while the kernel memory holds under KEEP_KERNEL_BYTES, else in ordinary memory up to a quarter of
 * the machine's RAM, copied into a kernel scratch per use, a copy being much cheaper than a transpose), and
 * a frozen NF4 weight is decoded straight into the transposed layout. Each value equals what
 * dequantize-then-transpose gives, so the products see the same numbers whichever way they came.
 */

/** Kept transposes leave the kernel memory once it holds this many bytes (of its 4 GiB), leaving room for scratch. */
const KEEP_KERNEL_BYTES = 2 ** 31;
const KEEP_PLAIN_BYTES = totalmem() / 4;
/** Scratch slot of ./linalg.ts for a transpose made or copied per use (slots 0–6 are linalg's own). */
const S_NF4T = 7;
/** Rows decoded per tile before they are written out as columns (64 floats: 256 contiguous bytes per column, few pages touched per tile). */
const TILE = 64;

/** Per frozen weight: its kept transpose, or null when none is kept. */
const kept = new WeakMap<Float32Array, Float32Array | null>();
let keptPlainBytes = 0;
const plainFreed = new FinalizationRegistry<number>((bytes) => {
  keptPlainBytes -= bytes;
});

function keep(w: Float32Array, rows: number, cols: number): Float32Array | null {
  const bytes = 4 * rows * cols;
  const k = wasmKernels;
  const inKernel = k !== undefined && k.allocatedBytes() + bytes <= KEEP_KERNEL_BYTES ? k.allocF32(rows * cols) : undefined;
  if (inKernel === undefined && keptPlainBytes + bytes > KEEP_PLAIN_BYTES) return null;
  const t = inKernel ?? new Float32Array(rows * cols);
  if (inKernel === undefined) {
    keptPlainBytes += bytes;
    plainFreed.register(w, bytes);
  }
  transposeInto(w, rows, cols, t);
  return t;
}

/** Wᵀ [cols, rows] of a frozen row-major w [rows, cols], from the kept copy when there is one. */
export function frozenTranspose(w: Float32Array, rows: number, cols: number): Float32Array {
  let t = kept.get(w);
  if (t === undefined) {
    t = keep(w, rows, cols);
    kept.set(w, t);
  }
  if (t !== null && (wasmKernels === undefined || wasmKernels.owns(t))) return t;
  const s = scratch(S_NF4T, rows * cols);
  if (t === null) transposeInto(w, rows, cols, s);
  else s.set(t);
  return s;
}

const NF4_BLOCK = 64;
const NF4_BLOCK_BYTES = 34;

/** Decodes NF4 rows [r0, r1) of a [rows, cols] matrix into out[(r − r0)·stride + c], each row by the codec. */
function decodeRows(bytes: Uint8Array, cols: number, r0: number, r1: number, out: Float32Array, stride = cols): void {
  const rowBytes = (cols / NF4_BLOCK) * NF4_BLOCK_BYTES;
  for (let r = r0; r < r1; r++) {
    const to = (r - r0) * stride;
    dequantizeNf4(bytes.subarray(r * rowBytes, (r + 1) * rowBytes), cols, out.subarray(to, to + cols));
  }
}

/** Scratch slot of ./linalg.ts for an NF4 weight decoded row-major (the one matrixFloats uses). */
const S_DECODE = 5;

/** W [rows, cols] of an NF4 matrix, decoded into a scratch reused by every call. */
export function nf4Floats(bytes: Uint8Array, rows: number, cols: number): Float32Array {
  const dst = scratch(S_DECODE, rows * cols);
  decodeRows(bytes, cols, 0, rows, dst);
  return dst;
}

let tileBuf = new Float32Array(TILE * 64);

/** Wᵀ [cols, rows] of an NF4 matrix [rows, cols] (cols a multiple of 64), decoded a tile of rows at a time into a scratch. */
export function nf4Transposed(bytes: Uint8Array, rows: number, cols: number): Float32Array {
  const dst = scratch(S_NF4T, rows * cols);
  // tile rows padded by one cache line: a power-of-two row stride would put a tile column in a few cache sets
  const stride = cols + 16;
  if (tileBuf.length < TILE * stride) tileBuf = new Float32Array(TILE * stride);
  const tile = tileBuf;
  for (let r0 = 0; r0 < rows; r0 += TILE) {
    const r1 = Math.min(rows, r0 + TILE);
    decodeRows(bytes, cols, r0, r1, tile, stride);
    const h = r1 - r0;
    // column c of the tile goes to dst row c as h contiguous floats
    for (let c = 0; c < cols; c++) {
      const o = c * rows + r0;
      for (let i = 0; i < h; i++) dst[o + i] = tile[i * stride + c] as number;
    }
  }
  return dst;
}

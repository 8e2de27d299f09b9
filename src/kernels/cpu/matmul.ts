import { allFinite, idsInRange } from '../../contract/predicates.js';
import { defineContract } from '../../contract/index.js';
import { DTYPES } from '../../tensor/dtype.js';
import type { WeightMatrix } from '../types.js';
import { ROW_DECODERS } from './blocks.js';
import { ACC, ROWS } from './wasm/matmul-src.js';
import { wasmKernels } from './wasm/runtime.js';

/**
 * Matrix products against row-major [rows, cols] weights. Every output element is one dot product summed
 * in one fixed order — four partial sums over i ≡ 0..3 (mod 4) in float64, combined as (s0+s1)+(s2+s3),
 * then the tail — whatever n is, so a batched call is bit-identical to n single-row calls (speculative
 * verification needs the batch argmax to equal the one-token argmax). Quantized rows are decoded into a
 * small scratch (two rows at a time), so a quantized product is bit-identical to the f32 product of the
 * dequantized matrix.
 */

let scratch = new Float32Array(1024);

function rowScratch(length: number): Float32Array {
  if (scratch.length < length) scratch = new Float32Array(length);
  return scratch;
}

function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const n4 = n - (n & 3);
  let i = 0;
  for (; i < n4; i += 4) {
    s0 += (a[ao + i] as number) * (b[bo + i] as number);
    s1 += (a[ao + i + 1] as number) * (b[bo + i + 1] as number);
    s2 += (a[ao + i + 2] as number) * (b[bo + i + 2] as number);
    s3 += (a[ao + i + 3] as number) * (b[bo + i + 3] as number);
  }
  let s = s0 + s1 + (s2 + s3);
  for (; i < n; i++) s += (a[ao + i] as number) * (b[bo + i] as number);
  return s;
}

/** Two weight rows (at o0, o1) against one x row: the same per-element order as `dot`, sharing x loads. */
function dot2(w: Float32Array, o0: number, o1: number, x: Float32Array, xo: number, n: number, out: Float32Array, i0: number): void {
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  let b0 = 0;
  let b1 = 0;
  let b2 = 0;
  let b3 = 0;
  const n4 = n - (n & 3);
  let i = 0;
  for (; i < n4; i += 4) {
    const x0 = x[xo + i] as number;
    const x1 = x[xo + i + 1] as number;
    const x2 = x[xo + i + 2] as number;
    const x3 = x[xo + i + 3] as number;
    a0 += (w[o0 + i] as number) * x0;
    a1 += (w[o0 + i + 1] as number) * x1;
    a2 += (w[o0 + i + 2] as number) * x2;
    a3 += (w[o0 + i + 3] as number) * x3;
    b0 += (w[o1 + i] as number) * x0;
    b1 += (w[o1 + i + 1] as number) * x1;
    b2 += (w[o1 + i + 2] as number) * x2;
    b3 += (w[o1 + i + 3] as number) * x3;
  }
  let sa = a0 + a1 + (a2 + a3);
  let sb = b0 + b1 + (b2 + b3);
  for (; i < n; i++) {
    const xi = x[xo + i] as number;
    sa += (w[o0 + i] as number) * xi;
    sb += (w[o1 + i] as number) * xi;
  }
  out[i0] = sa;
  out[i0 + 1] = sb;
}

/** Rows r, r+1 of the weight (held at o0, o1 of `w`) against all n x rows. */
function rowPair(w: Float32Array, o0: number, o1: number, r: number, rows: number, cols: number, x: Float32Array, n: number, out: Float32Array): void {
  for (let t = 0; t < n; t++) dot2(w, o0, o1, x, t * cols, cols, out, t * rows + r);
}

function rowSingle(w: Float32Array, o0: number, r: number, rows: number, cols: number, x: Float32Array, n: number, out: Float32Array): void {
  for (let t = 0; t < n; t++) out[t * rows + r] = dot(w, o0, x, t * cols, cols);
}

function matmulF32(w: Float32Array, rows: number, cols: number, x: Float32Array, n: number, out: Float32Array): void {
  let r = 0;
  for (; r + 1 < rows; r += 2) rowPair(w, r * cols, (r + 1) * cols, r, rows, cols, x, n, out);
  if (r < rows) rowSingle(w, r * cols, r, rows, cols, x, n, out);
}

function matmulBlocks(wm: WeightMatrix, data: Uint8Array, x: Float32Array, n: number, out: Float32Array): void {
  const { rows, cols, dtype } = wm;
  const decode = ROW_DECODERS[dtype];
  if (!decode) throw new Error(`matmul: no row decoder for ${dtype}`);
  const { blockSize, blockBytes } = DTYPES[dtype];
  const nb = cols / blockSize;
  const rowBytes = nb * blockBytes;
  const s = rowScratch(2 * cols);
  const s1 = s.subarray(cols);
  let r = 0;
  for (; r + 1 < rows; r += 2) {
    decode(data, r * rowBytes, nb, s);
    decode(data, (r + 1) * rowBytes, nb, s1);
    rowPair(s, 0, cols, r, rows, cols, x, n, out);
  }
  if (r < rows) {
    decode(data, r * rowBytes, nb, s);
    rowSingle(s, 0, r, rows, cols, x, n, out);
  }
}

export interface MatmulInput {
  w: WeightMatrix;
  x: Float32Array;
  n: number;
  out: Float32Array;
}

/** Whether `w.data` has the bytes its dtype and shape call for. */
function weightShapeOk(w: WeightMatrix): boolean {
  const { blockSize, blockBytes } = DTYPES[w.dtype];
  if (w.dtype === 'F32') return w.data instanceof Float32Array && w.data.length >= w.rows * w.cols;
  return w.data instanceof Uint8Array && ROW_DECODERS[w.dtype] !== undefined && w.cols % blockSize === 0 && w.data.byteLength >= (w.rows * w.cols / blockSize) * blockBytes;
}

export const matmulContract = defineContract<MatmulInput, Float32Array>({
  id: 'kernel-matmul-v1',
  equation: 'matmul',
  spec: 'out[t, r] = Σ_c W[r, c] · x[t, c], W row-major [rows, cols] in F32, F16 or a ggml block format (Q8_0, Q4_0, Q2_K..Q6_K)',
  pre: [
    ['weight bytes match dtype and shape', ({ w }) => weightShapeOk(w)],
    ['n ≥ 1', ({ n }) => Number.isInteger(n) && n >= 1],
    ['x holds n·cols floats', ({ w, x, n }) => x.length >= n * w.cols],
    ['out holds n·rows floats', ({ w, out, n }) => out.length >= n * w.rows],
  ],
  post: [['finite output', ({ w, n }, out) => allFinite(out, n * w.rows)]],
});


/**
 * The SIMD form, taken when the weight, x and out all live in the kernel memory and cols is a multiple of 4·ACC.
 * Which form a product takes depends only on where its buffers live, never on n, so batch invariance holds
 * within each form.
 */
function matmulWasm(w: WeightMatrix, x: Float32Array, n: number, out: Float32Array): boolean {
  const k = wasmKernels;
  if (k === undefined || w.cols % (4 * ACC) !== 0 || !k.owns(w.data) || !k.owns(x) || !k.owns(out)) return false;
  const args = [w.data.byteOffset, x.byteOffset, out.byteOffset, w.rows, w.cols, n, w.rows] as const;
  const quant = (): readonly [number, number] => [k.scratch(ROWS * w.cols * 4), k.f16Table];
  switch (w.dtype) {
    case 'F32': k.fn.matmul_f32(...args); return true;
    case 'Q8_0': k.fn.matmul_q8_0(...args, ...quant()); return true;
    case 'Q4_0': k.fn.matmul_q4_0(...args, ...quant()); return true;
    case 'Q4_K': k.fn.matmul_q4_k(...args, ...quant()); return true;
    case 'Q6_K': k.fn.matmul_q6_k(...args, ...quant()); return true;
    case 'F16': k.fn.matmul_f16(...args, ...quant()); return true;
    // Stryker disable next-line ConditionalExpression: an empty default falls out of the switch and returns undefined, which product() treats as false
    default: return false;
  }
}

function product(w: WeightMatrix, x: Float32Array, n: number, out: Float32Array): Float32Array {
  if (matmulWasm(w, x, n, out)) return out;
  if (w.data instanceof Float32Array) matmulF32(w.data, w.rows, w.cols, x, n, out);
  else matmulBlocks(w, w.data, x, n, out);
  return out;
}

/** out[t, r] = Σ_c W[r, c] · x[t, c] for t < n; x is [n, cols], out is [n, rows]. */
export function matmul(w: WeightMatrix, x: Float32Array, n: number, out: Float32Array): Float32Array {
  return matmulContract.run({ w, x, n, out }, () => product(w, x, n, out));
}

/** out[r] = Σ_c W[r, c] · x[c]: `matmul` with n = 1 (the same code path, so the same bits). */
export function matvec(w: WeightMatrix, x: Float32Array, out: Float32Array): Float32Array {
  return matmulContract.run({ w, x, n: 1, out }, () => product(w, x, 1, out));
}

export interface EmbedInput {
  table: WeightMatrix;
  tokens: ArrayLike<number>;
  out: Float32Array;
}

export const embedContract = defineContract<EmbedInput, Float32Array>({
  id: 'kernel-embed-v1',
  equation: 'embed',
  spec: 'out[t, :] = dequantize(table[tokens[t], :]), table row-major [vocab, dim]',
  pre: [
    ['table bytes match dtype and shape', ({ table }) => weightShapeOk(table)],
    ['out holds n·dim floats', ({ table, tokens, out }) => out.length >= tokens.length * table.cols],
    ['token ids in [0, vocab)', ({ table, tokens }) => idsInRange(tokens, table.rows)],
  ],
  post: [['finite output', ({ table, tokens }, out) => allFinite(out, tokens.length * table.cols)]],
});


/** Gathers embedding rows: out[t, :] = table[tokens[t], :], decoding quantized rows. */
export function embed(table: WeightMatrix, tokens: ArrayLike<number>, out: Float32Array): Float32Array {
  return embedContract.run({ table, tokens, out }, () => {
    const { cols, data, dtype } = table;
    for (let t = 0; t < tokens.length; t++) {
      const id = tokens[t] as number;
      if (data instanceof Float32Array) {
        out.set(data.subarray(id * cols, (id + 1) * cols), t * cols);
        continue;
      }
      const decode = ROW_DECODERS[dtype];
      if (!decode) throw new Error(`embed: no row decoder for ${dtype}`);
      const { blockSize, blockBytes } = DTYPES[dtype];
      const nb = cols / blockSize;
      decode(data, id * nb * blockBytes, nb, out.subarray(t * cols, (t + 1) * cols));
    }
    return out;
  });
}

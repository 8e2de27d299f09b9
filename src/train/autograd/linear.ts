import { dequantizeNf4 } from '../../tensor/quant/nf4.js';
import { frozenTranspose, nf4Floats, nf4Transposed } from './frozen.js';
import { addInto, backInput, backInputT, backWeight, matmulNT } from './linalg.js';
import type { Tape, Var } from './tape.js';

/** A row-major [rows, cols] matrix in f32 (trainable when `grad` is set) or frozen NF4 blocks. */
export type Matrix =
  | { readonly kind: 'dense'; readonly rows: number; readonly cols: number; readonly data: Float32Array; readonly grad?: Float32Array }
  | { readonly kind: 'nf4'; readonly rows: number; readonly cols: number; readonly bytes: Uint8Array };

/** A LoRA pair: A [r, in], B [out, r], update scale·B·A (PEFT's alpha/r). */
export interface LoraFactors {
  readonly r: number;
  readonly scale: number;
  readonly a: Float32Array;
  readonly aGrad: Float32Array;
  readonly b: Float32Array;
  readonly bGrad: Float32Array;
}

export interface LinearParams {
  readonly w: Matrix;
  readonly bias?: { readonly data: Float32Array; readonly grad?: Float32Array };
  readonly lora?: LoraFactors;
}

/** The matrix as f32 floats: the f32 data itself, or NF4 dequantized into a scratch reused by every call. */
export function matrixFloats(m: Matrix): Float32Array {
  if (m.kind === 'dense') return m.data;
  return nf4Floats(m.bytes, m.rows, m.cols);
}

function trainable(p: LinearParams): boolean {
  return (p.w.kind === 'dense' && p.w.grad !== undefined) || p.bias?.grad !== undefined || p.lora !== undefined;
}

/** Rows of `x` [n, cols] of a table: out[t, :] = table[ids[t], :]; frozen NF4 rows decoded block by block. */
export function embedding(tape: Tape, table: Matrix, ids: ArrayLike<number>): Var {
  const n = ids.length;
  const D = table.cols;
  const out = new Float32Array(n * D);
  const rowBytes = (D / 64) * 34;
  for (let t = 0; t < n; t++) {
    const id = ids[t] as number;
    if (table.kind === 'dense') out.set(table.data.subarray(id * D, (id + 1) * D), t * D);
    else dequantizeNf4(table.bytes.subarray(id * rowBytes, (id + 1) * rowBytes), D, out.subarray(t * D, (t + 1) * D));
  }
  const grad = table.kind === 'dense' ? table.grad : undefined;
  return tape.output(out, grad !== undefined, (o) => {
    if (grad === undefined) return;
    const dy = o.g();
    for (let t = 0; t < n; t++) {
      const id = ids[t] as number;
      for (let i = 0; i < D; i++) grad[id * D + i] = (grad[id * D + i] as number) + (dy[t * D + i] as number);
    }
  });
}

/** y = x·Wᵀ + bias + scale·(x·Aᵀ)·Bᵀ for x [n, in]; y [n, out]. */
export function linear(tape: Tape, x: Var, n: number, p: LinearParams): Var {
  const { rows, cols } = p.w;
  const y = new Float32Array(n * rows);
  // a weight outside the kernel memory (a large frozen base) is copied into a scratch to run the SIMD kernel
  matmulNT(matrixFloats(p.w), rows, cols, x.value, n, y, false, true);
  if (p.bias) addBias(y, p.bias.data, n, rows);
  const u = p.lora ? loraForward(p.lora, x.value, n, rows, cols, y) : undefined;
  return tape.output(y, x.requiresGrad || trainable(p), (o) => linearBack(p, x, n, o.g(), u));
}

function addBias(y: Float32Array, bias: Float32Array, n: number, dim: number): void {
  for (let t = 0; t < n; t++) for (let i = 0; i < dim; i++) y[t * dim + i] = (y[t * dim + i] as number) + (bias[i] as number);
}

/** Adds scale·(x·Aᵀ)·Bᵀ into y; returns u = x·Aᵀ [n, r] for the backward pass. */
function loraForward(l: LoraFactors, x: Float32Array, n: number, out: number, inn: number, y: Float32Array): Float32Array {
  const u = new Float32Array(n * l.r);
  matmulNT(l.a, l.r, inn, x, n, u);
  const v = new Float32Array(n * out);
  matmulNT(l.b, out, l.r, u, n, v);
  for (let i = 0; i < n * out; i++) y[i] = (y[i] as number) + l.scale * (v[i] as number);
  return u;
}

function linearBack(p: LinearParams, x: Var, n: number, dy: Float32Array, u: Float32Array | undefined): void {
  const { rows, cols } = p.w;
  const bias = p.bias?.grad;
  if (bias !== undefined) for (let t = 0; t < n; t++) addInto(bias, dy.subarray(t * rows), rows);
  if (p.w.kind === 'dense' && p.w.grad !== undefined) backWeight(dy, x.value, n, rows, cols, p.w.grad);
  if (p.lora !== undefined && u !== undefined) loraBack(p.lora, x, n, rows, cols, dy, u);
  if (x.requiresGrad) inputGrad(p.w, dy, n, ...gradOf(x));
}

/** dx += dy·W; a frozen W's transpose comes kept or decoded transposed (./frozen.ts), a trainable one's fresh. */
function inputGrad(w: Matrix, dy: Float32Array, n: number, dx: Float32Array, fresh: boolean): void {
  const { rows, cols } = w;
  if (w.kind === 'nf4') backInputT(nf4Transposed(w.bytes, rows, cols), rows, cols, dy, n, dx, fresh);
  else if (w.grad === undefined) backInputT(frozenTranspose(w.data, rows, cols), rows, cols, dy, n, dx, fresh);
  else backInput(w.data, rows, cols, dy, n, dx, fresh);
}

/** x's gradient buffer, and whether it is fresh (all zeros, so a product may overwrite it). */
function gradOf(x: Var): [Float32Array, boolean] {
  const fresh = x.grad === undefined;
  return [x.g(), fresh];
}

function loraBack(l: LoraFactors, x: Var, n: number, out: number, inn: number, dy: Float32Array, u: Float32Array): void {
  const dys = new Float32Array(n * out);
  for (let i = 0; i < n * out; i++) dys[i] = l.scale * (dy[i] as number);
  backWeight(dys, u, n, out, l.r, l.bGrad);
  const du = new Float32Array(n * l.r);
  backInput(l.b, out, l.r, dys, n, du);
  backWeight(du, x.value, n, l.r, inn, l.aGrad);
  if (x.requiresGrad) backInput(l.a, l.r, inn, du, n, x.g());
}

import { defineContract } from '../../contract/index.js';
import { f16ToF32, f32ToF16 } from '../../tensor/half.js';
import { wasmKernels } from './wasm/runtime.js';

/**
 * Activations quantized to 8-bit blocks once per product, as ggml's CPU backend does before an integer dot
 * product (x86 `quantize_row_q8_0`, `quantize_row_q8_K_ref`):
 *   Q8_0 (32-blocks, for Q8_0 / Q4_0 weights): d = amax/127 stored as f16, q = round_half_even(x · 127/amax);
 *   Q8_K (256-blocks, for K-quant weights): iscale = −127/max (max = the element of largest |x|, first
 *   one on ties), q = min(127, round_half_even(iscale · x)), d = 1/iscale, plus the sum of each 32 q's.
 * All arithmetic in float32 (every product rounded with Math.fround). The values are the ggml ones; the layout
 * is ours, for the SIMD kernels: per token row, q as int8 (cols of them), then one float32 d per block, then
 * (Q8_0) one float32 s per block, ggml's Q8_1 s = f16(d·Σq) with the unrounded d = amax/127 (for Q4_1/Q5_1
 * weights, whose mins meet it), or (Q8_K) one int16 sum per 32 q's (|sum| ≤ 32·127) and one per 16 q's.
 */

export type ActFormat = 'Q8_0' | 'Q8_K';

/** Block size of each activation format. */
export const ACT_BLOCK: Readonly<Record<ActFormat, number>> = { Q8_0: 32, Q8_K: 256 };

/** Bytes of one quantized token row of `cols` values. */
export function actRowBytes(format: ActFormat, cols: number): number {
  return actContract.run({ format, cols }, () => cols + (4 * cols) / ACT_BLOCK[format] + (format === 'Q8_K' ? cols / 16 + cols / 8 : cols / 8));
}

export const actContract = defineContract<{ format: ActFormat; cols: number }, number>({
  id: 'kernel-matmul-int-v1',
  equation: 'act_row_bytes',
  spec: 'bytes(row) = cols (int8 q) + 4·cols/B (float32 d) + [Q8_0] 4·cols/32 (float32 s) | [Q8_K] 2·cols/32 + 2·cols/16 (int16 sums of 32 and of 16 q)',
  pre: [['cols a positive multiple of the block', ({ format, cols }) => cols > 0 && cols % ACT_BLOCK[format] === 0]],
});

const fr = Math.fround;
/** ggml's nearest_int: float32 (v + 1.5·2^23) − 1.5·2^23, i.e. round half to even for |v| < 2^22. */
const MAGIC = 12582912;

function roundEven(v: number): number {
  return fr(v + MAGIC) - MAGIC;
}

interface ActView {
  q: Int8Array;
  d: Float32Array;
  sums: Int16Array;
  sums16: Int16Array;
  /** Q8_0: ggml Q8_1's s per block. */
  s: Float32Array;
}

/** The parts of quantized activation row t: q, d, the sums of 32 and of 16 q's (Q8_K) or s (Q8_0). */
function actViews(buf: ArrayBufferLike, byteOffset: number, format: ActFormat, cols: number): ActView {
  const nb = cols / ACT_BLOCK[format];
  const k = format === 'Q8_K';
  const q = new Int8Array(buf, byteOffset, cols);
  const d = new Float32Array(buf, byteOffset + cols, nb);
  const sums = new Int16Array(buf, byteOffset + cols + 4 * nb, k ? cols / 32 : 0);
  const sums16 = new Int16Array(buf, byteOffset + cols + 4 * nb + (k ? cols / 16 : 0), k ? cols / 16 : 0);
  const sv = new Float32Array(buf, byteOffset + cols + 4 * nb, k ? 0 : nb);
  return { q, d, sums, sums16, s: sv };
}

function quantQ8_0(x: Float32Array, xo: number, cols: number, v: ActView): void {
  // Stryker disable next-line EqualityOperator: `<=` adds a block past the row's end, whose writes fall outside the exactly sized q, d and s views (out-of-bounds typed-array writes are no-ops)
  for (let b = 0; b < cols / 32; b++) {
    const o = xo + 32 * b;
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[o + j] as number));
    v.d[b] = f16ToF32(f32ToF16(fr(amax / 127)));
    const id = amax !== 0 ? fr(127 / amax) : 0;
    let sum = 0;
    for (let j = 0; j < 32; j++) sum += v.q[32 * b + j] = roundEven(fr((x[o + j] as number) * id));
    v.s[b] = f16ToF32(f32ToF16(fr(sum * fr(amax / 127))));
  }
}

function quantQ8_K(x: Float32Array, xo: number, cols: number, v: ActView): void {
  // Stryker disable next-line EqualityOperator: `<=` adds a block past the row's end, whose writes fall outside the exactly sized q, d and sums views (out-of-bounds typed-array writes are no-ops)
  for (let b = 0; b < cols / 256; b++) {
    const o = xo + 256 * b;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 256; j++) {
      const ax = Math.abs(x[o + j] as number);
      if (ax > amax) {
        amax = ax;
        max = x[o + j] as number;
      }
    }
    const iscale = amax === 0 ? 0 : fr(-127 / max);
    v.d[b] = amax === 0 ? 0 : fr(1 / iscale);
    // Stryker disable next-line EqualityOperator: `<=` writes the next block's first q (rewritten when that block is quantized) or past the q view (a no-op); this block's sums read only its own 256 q
    for (let j = 0; j < 256; j++) v.q[256 * b + j] = Math.min(127, roundEven(fr(iscale * (x[o + j] as number))));
    // Stryker disable next-line EqualityOperator: `<=` writes a 17th sum of 16 into the next block's first slot (rewritten by that block) or past the sums16 view (a no-op)
    for (let s = 0; s < 16; s++) {
      let sum = 0;
      for (let j = 0; j < 16; j++) sum += v.q[256 * b + 16 * s + j] as number;
      v.sums16[16 * b + s] = sum;
    }
    // Stryker disable next-line EqualityOperator: `<=` writes a 9th sum of 32 into the next block's first slot (rewritten by that block) or past the sums view (a no-op)
    for (let s = 0; s < 8; s++) v.sums[8 * b + s] = (v.sums16[16 * b + 2 * s] as number) + (v.sums16[16 * b + 2 * s + 1] as number);
  }
}

interface QuantizeInput {
  format: ActFormat;
  x: Float32Array;
  n: number;
  cols: number;
  dst: ArrayBufferLike;
  dstOffset: number;
}

export const quantizeActContract = defineContract<QuantizeInput, void>({
  id: 'kernel-matmul-int-v1',
  equation: 'quantize_act',
  spec: 'row t of x → ggml quantize_row_q8_0/q8_1 (x86) / quantize_row_q8_K values, int8 q, float32 d, [Q8_0] float32 s, [Q8_K] int16 sums of 32 and 16',
  pre: [
    ['cols a positive multiple of the block', ({ format, cols }) => cols > 0 && cols % ACT_BLOCK[format] === 0],
    ['x holds n·cols floats', ({ x, n, cols }) => Number.isInteger(n) && n >= 1 && x.length >= n * cols],
    ['dst holds n rows', ({ format, n, cols, dst, dstOffset }) => dstOffset % 4 === 0 && dstOffset + n * actRowBytes(format, cols) <= dst.byteLength],
  ],
});

/** Quantizes the n rows of x ([n, cols]) into `dst` at byte `dstOffset`, rows `actRowBytes` apart. */
export function quantizeActivations(format: ActFormat, x: Float32Array, n: number, cols: number, dst: ArrayBufferLike, dstOffset: number): void {
  quantizeActContract.run({ format, x, n, cols, dst, dstOffset }, () => {
    const stride = actRowBytes(format, cols);
    const k = wasmKernels;
    // Stryker disable next-line ArithmeticOperator: owns() looks only at the view's buffer, and the precondition already keeps dstOffset + n·stride inside dst, so the view's length changes nothing
    if (format === 'Q8_K' && k !== undefined && k.owns(x) && k.owns(new Uint8Array(dst, dstOffset, n * stride))) {
      k.fn.quant_q8_k(x.byteOffset, dstOffset, n, cols, stride);
      return;
    }
    for (let t = 0; t < n; t++) {
      const v = actViews(dst, dstOffset + t * stride, format, cols);
      if (format === 'Q8_0') quantQ8_0(x, t * cols, cols, v);
      else quantQ8_K(x, t * cols, cols, v);
    }
  });
}

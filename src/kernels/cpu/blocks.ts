import { allFinite } from '../../contract/predicates.js';
import { defineContract } from '../../contract/index.js';
import { dequantize } from '../../tensor/codecs/index.js';
import { DTYPES, type DType } from '../../tensor/dtype.js';
import { f16ToF32 } from '../../tensor/half.js';

/**
 * Per-row decoders of ggml block formats, read straight from the block bytes (the layouts of ggml's
 * `block_q8_0`, `block_q4_0`, `block_q4_K`, `block_q6_K`). Arithmetic follows ggml's `dequantize_row_*`
 * in float32 without fused multiply-add (every product and difference rounded with Math.fround), so a
 * decoded row equals the whole-tensor decoder's output for that row.
 */

/** f16 bits → float32 value, all 65,536 of them (256 KiB, built once). */
const F16_TABLE = new Float32Array(65536);
for (let h = 0; h < 65536; h++) F16_TABLE[h] = f16ToF32(h);

const fr = Math.fround;

function half(b: Uint8Array, o: number): number {
  return F16_TABLE[(b[o] ?? 0) | ((b[o + 1] ?? 0) << 8)] ?? 0;
}

/** The dtypes whose rows this module decodes directly (the rest are converted to F32 at load). */

function decodeQ8_0(b: Uint8Array, o: number, nb: number, out: Float32Array): void {
  let y = 0;
  for (let blk = 0; blk < nb; blk++, o += 34) {
    const d = half(b, o);
    for (let j = 0; j < 32; j++) {
      const q = ((b[o + 2 + j] ?? 0) << 24) >> 24;
      out[y++] = d * q;
    }
  }
}

function decodeQ4_0(b: Uint8Array, o: number, nb: number, out: Float32Array): void {
  let y = 0;
  for (let blk = 0; blk < nb; blk++, o += 18, y += 32) {
    const d = half(b, o);
    for (let j = 0; j < 16; j++) {
      const q = b[o + 2 + j] ?? 0;
      out[y + j] = ((q & 0x0f) - 8) * d;
      out[y + j + 16] = ((q >> 4) - 8) * d;
    }
  }
}

/** ggml's get_scale_min_k4: 6-bit scale (sm = 0) or min (sm = 1) of sub-block j from the 12 packed bytes at s. */
function scaleMinK4(b: Uint8Array, s: number, j: number, sm: 0 | 1): number {
  if (j < 4) return (b[s + j + 4 * sm] ?? 0) & 63;
  const hi = b[s + j + 4] ?? 0;
  const lo = sm === 0 ? hi & 0x0f : hi >> 4;
  return lo | (((b[s + j - 4 * (1 - sm)] ?? 0) >> 6) << 4);
}

function decodeQ4_K(b: Uint8Array, o: number, nb: number, out: Float32Array): void {
  let y = 0;
  for (let blk = 0; blk < nb; blk++, o += 144) {
    const d = half(b, o);
    const dmin = half(b, o + 2);
    const s = o + 4;
    let q = o + 16;
    for (let is = 0; is < 8; is += 2, q += 32) {
      const d1 = fr(d * scaleMinK4(b, s, is, 0));
      const m1 = fr(dmin * scaleMinK4(b, s, is, 1));
      const d2 = fr(d * scaleMinK4(b, s, is + 1, 0));
      const m2 = fr(dmin * scaleMinK4(b, s, is + 1, 1));
      // Stryker disable next-line EqualityOperator: `<=` writes out[y + 32], which the loop below overwrites at once
      for (let l = 0; l < 32; l++) out[y + l] = fr(d1 * ((b[q + l] ?? 0) & 0x0f)) - m1;
      for (let l = 0; l < 32; l++) out[y + 32 + l] = fr(d2 * ((b[q + l] ?? 0) >> 4)) - m2;
      y += 64;
    }
  }
}

function decodeQ6_K(b: Uint8Array, o: number, nb: number, out: Float32Array): void {
  let y = 0;
  for (let blk = 0; blk < nb; blk++, o += 210) {
    const d = half(b, o + 208);
    for (let n = 0; n < 2; n++, y += 128) {
      const ql = o + 64 * n;
      const qh = o + 128 + 32 * n;
      const sc = o + 192 + 8 * n;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const lo0 = b[ql + l] ?? 0;
        const lo1 = b[ql + l + 32] ?? 0;
        const h = b[qh + l] ?? 0;
        const q1 = ((lo0 & 0x0f) | ((h & 3) << 4)) - 32;
        const q2 = ((lo1 & 0x0f) | (((h >> 2) & 3) << 4)) - 32;
        const q3 = ((lo0 >> 4) | (((h >> 4) & 3) << 4)) - 32;
        const q4 = ((lo1 >> 4) | (((h >> 6) & 3) << 4)) - 32;
        out[y + l] = fr(d * int8(b, sc + is)) * q1;
        out[y + l + 32] = fr(d * int8(b, sc + is + 2)) * q2;
        out[y + l + 64] = fr(d * int8(b, sc + is + 4)) * q3;
        out[y + l + 96] = fr(d * int8(b, sc + is + 6)) * q4;
      }
    }
  }
}

function int8(b: Uint8Array, o: number): number {
  return ((b[o] ?? 0) << 24) >> 24;
}

interface DecodeRowInput {
  dtype: DType;
  data: Uint8Array;
  row: number;
  cols: number;
  out: Float32Array;
}

export const blockDecodeContract = defineContract<DecodeRowInput, Float32Array>({
  id: 'kernel-block-decode-v1',
  equation: 'block_decode_row',
  spec: 'row r of a ggml block-quantized [rows, cols] matrix: y = ggml dequantize_row_<type>(blocks of row r), float32',
  pre: [
    ['dtype has a row decoder', ({ dtype }) => ROW_DECODERS[dtype] !== undefined],
    ['cols is a multiple of the block size', ({ dtype, cols }) => cols % DTYPES[dtype].blockSize === 0],
    ['row lies inside data', ({ dtype, data, row, cols }) => row >= 0 && ((row + 1) * cols / DTYPES[dtype].blockSize) * DTYPES[dtype].blockBytes <= data.byteLength],
    ['out holds cols floats', ({ out, cols }) => out.length >= cols],
  ],
  post: [['finite output', ({ cols }, out) => allFinite(out, cols)]],
});


/** Decodes row `row` of a block-quantized matrix into `out[0..cols)`. */
export function decodeBlockRow(dtype: DType, data: Uint8Array, row: number, cols: number, out: Float32Array): Float32Array {
  return blockDecodeContract.run({ dtype, data, row, cols, out }, () => {
    decodeRowUnchecked(dtype, data, row, cols, out);
    return out;
  });
}

/** Decodes `nBlocks` blocks starting at byte `offset` into out[0..nBlocks·blockSize). */
export type RowDecoder = (data: Uint8Array, offset: number, nBlocks: number, out: Float32Array) => void;

/** A row decoder running the whole-tensor codec over the row's blocks. */
function viaCodec(dtype: DType): RowDecoder {
  const { blockSize, blockBytes } = DTYPES[dtype];
  return (b, o, nb, out) => void dequantize(dtype, b.subarray(o, o + blockBytes * nb), blockSize * nb, out);
}

/**
 * Dispatch table used by the matmul and embedding kernels, whose own contracts check the shapes once per
 * call; `decodeBlockRow` is the contracted entry point for everyone else.
 */
export const ROW_DECODERS: Readonly<Partial<Record<DType, RowDecoder>>> = {
  Q8_0: decodeQ8_0,
  Q4_0: decodeQ4_0,
  Q4_K: decodeQ4_K,
  Q6_K: decodeQ6_K,
  // the codec's decoders on the row's blocks (no float SIMD form: the integer-dot kernels take these types)
  ...Object.fromEntries((['Q4_1', 'Q5_0', 'Q5_1', 'IQ4_NL', 'Q2_K', 'Q3_K', 'Q5_K', 'F16'] as const).map((d) => [d, viaCodec(d)])),
};

/** The dtypes every backend keeps in their blocks (the others are widened to float32 at load unless a backend lists 'weights-any-block'). */
export const COMMON_BLOCK_TYPES: ReadonlySet<DType> = new Set(['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K']);

function decodeRowUnchecked(dtype: DType, data: Uint8Array, row: number, cols: number, out: Float32Array): void {
  const { blockSize, blockBytes } = DTYPES[dtype];
  const nb = cols / blockSize;
  const decode = ROW_DECODERS[dtype];
  if (!decode) throw new Error(`no row decoder for dtype ${dtype}`);
  decode(data, row * nb * blockBytes, nb, out);
}

/**
 * Dequantization of ggml's 256-element K-quant super-blocks, as ggml-quants.c `dequantize_row_q*_K` does.
 * ggml computes `d·sc` and `min·m` in float (exact: f16 × 6-bit), then `d1·q − m1` (the product is exact,
 * so one rounding). Here the same values are exact in double and rounded once when stored into the
 * Float32Array; a difference of two float32 values rounded via double is correctly rounded (53 ≥ 2·24 + 2).
 * Q6_K's `d·sc·q` is exact in double (≤ 25 bits), so its one rounding on store equals ggml's too.
 * Q2_K and Q3_K are in kquants-q23.ts.
 */
import { blockCount, f16Table } from './f16-table.js';
import { halfAt } from './legacy.js';

const QK_K = 256;

/** Decodes one super-block at byte `o` into `out[y .. y + 256)`; `h` is the f16 lookup table. */
export type SuperBlockDecoder = (bytes: Uint8Array, o: number, out: Float32Array, y: number, h: Float32Array) => void;

/** Checks the sizes, then decodes every `blockBytes`-byte super-block of `bytes`. */
export function decodeSuperBlocks(name: string, blockBytes: number, decode: SuperBlockDecoder, bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount(name, bytes, count, QK_K, blockBytes);
  const h = f16Table();
  for (let i = 0; i < nb; i++) decode(bytes, i * blockBytes, out, i * QK_K, h);
}

/** ggml's get_scale_min_k4: 6-bit scale and min number `j` (0..7) from the 12 packed bytes at `s`. */
export function scaleMinK4(bytes: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [(bytes[s + j] ?? 0) & 63, (bytes[s + j + 4] ?? 0) & 63];
  const a = bytes[s + j + 4] ?? 0;
  return [(a & 0xf) | (((bytes[s + j - 4] ?? 0) >> 6) << 4), (a >> 4) | (((bytes[s + j] ?? 0) >> 6) << 4)];
}

/**
 * Q4_K and Q5_K: eight sub-blocks of 32 values `d·sc·q − dmin·m`. Sub-block `sub` takes the low (even)
 * or high (odd) nibbles of `qs[32·⌊sub/2⌋ ..]`; Q5_K adds 16 where bit `sub` of `qh[l]` is set.
 */
function decodeQ45Block(bytes: Uint8Array, o: number, out: Float32Array, y: number, h: Float32Array, qs: number, qh: number | undefined): void {
  const d = h[halfAt(bytes, o)] ?? 0;
  const min = h[halfAt(bytes, o + 2)] ?? 0;
  for (let sub = 0; sub < 8; sub++) {
    const [sc, m] = scaleMinK4(bytes, o + 4, sub);
    const dl = d * sc, ml = min * m;
    const q = o + qs + (sub >> 1) * 32, shift = (sub & 1) * 4, bit = 1 << sub, ys = y + sub * 32;
    for (let l = 0; l < 32; l++) {
      const high = qh !== undefined && (bytes[o + qh + l] ?? 0) & bit ? 16 : 0;
      out[ys + l] = dl * ((((bytes[q + l] ?? 0) >> shift) & 0xf) + high) - ml;
    }
  }
}

/** block_q4_K { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] } (144 bytes). */
export function dequantizeQ4_K(bytes: Uint8Array, count: number, out: Float32Array): void {
  decodeSuperBlocks('Q4_K', 144, (b, o, dst, y, h) => decodeQ45Block(b, o, dst, y, h, 16, undefined), bytes, count, out);
}

/** block_q5_K { f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] } (176 bytes). */
export function dequantizeQ5_K(bytes: Uint8Array, count: number, out: Float32Array): void {
  decodeSuperBlocks('Q5_K', 176, (b, o, dst, y, h) => decodeQ45Block(b, o, dst, y, h, 48, 16), bytes, count, out);
}

function int8(b: number | undefined): number {
  return ((b ?? 0) << 24) >> 24;
}

/** One half (128 values) of a Q6_K block: 6-bit values from ql's nibbles and qh's bit pairs, minus 32. */
function decodeQ6Half(bytes: Uint8Array, o: number, n: number, d: number, out: Float32Array, y: number): void {
  const ql = o + n * 64, qh = o + 128 + n * 32, sc = o + 192 + n * 8;
  for (let l = 0; l < 32; l++) {
    const is = l >> 4;
    const a = bytes[ql + l] ?? 0, b = bytes[ql + l + 32] ?? 0, c = bytes[qh + l] ?? 0;
    out[y + l] = d * int8(bytes[sc + is]) * (((a & 0xf) | ((c & 3) << 4)) - 32);
    out[y + l + 32] = d * int8(bytes[sc + is + 2]) * (((b & 0xf) | (((c >> 2) & 3) << 4)) - 32);
    out[y + l + 64] = d * int8(bytes[sc + is + 4]) * (((a >> 4) | (((c >> 4) & 3) << 4)) - 32);
    out[y + l + 96] = d * int8(bytes[sc + is + 6]) * (((b >> 4) | (((c >> 6) & 3) << 4)) - 32);
  }
}

/** block_q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d } (210 bytes). */
export function dequantizeQ6_K(bytes: Uint8Array, count: number, out: Float32Array): void {
  decodeSuperBlocks(
    'Q6_K',
    210,
    (b, o, dst, y, h) => {
      const d = h[halfAt(b, o + 208)] ?? 0;
      decodeQ6Half(b, o, 0, d, dst, y);
      decodeQ6Half(b, o, 1, d, dst, y + 128);
    },
    bytes,
    count,
    out,
  );
}

/**
 * Dequantization of ggml's ternary types, as ggml-quants.c dequantize_row_tq1_0 / _tq2_0: every value is
 * d·t with t ∈ {−1, 0, 1} (exact in float32). TQ1_0 packs 5 trits per byte as a base-3 fixed-point fraction
 * (trit n of byte q is ⌊3·(q·3ⁿ mod 256) / 256⌋), TQ2_0 4 two-bit fields per byte.
 */
import { blockCount, f16Table } from './f16-table.js';
import { halfAt } from './legacy.js';

const QK_K = 256;
const POW3 = [1, 3, 9, 27, 81];

/** `n` trit planes of the `width` bytes at `q`: plane p of byte m is value p·width + m. */
function tritPlanes(bytes: Uint8Array, q: number, width: number, planes: number, d: number, out: Float32Array, y: number): number {
  for (let n = 0; n < planes; n++) {
    for (let m = 0; m < width; m++) {
      const v = ((bytes[q + m] ?? 0) * (POW3[n] ?? 1)) & 0xff;
      out[y++] = (((v * 3) >> 8) - 1) * d;
    }
  }
  return y;
}

/** block_tq1_0 { u8 qs[48]; u8 qh[4]; f16 d } (54 bytes): 32 + 16 bytes of 5 trits, then 4 bytes of 4 trits. */
export function dequantizeTQ1_0(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('TQ1_0', bytes, count, QK_K, 54);
  const h = f16Table();
  for (let i = 0; i < nb; i++) {
    const o = i * 54;
    const d = h[halfAt(bytes, o + 52)] ?? 0;
    let y = tritPlanes(bytes, o, 32, 5, d, out, i * QK_K);
    y = tritPlanes(bytes, o + 32, 16, 5, d, out, y);
    tritPlanes(bytes, o + 48, 4, 4, d, out, y);
  }
}

/** block_tq2_0 { u8 qs[64]; f16 d } (66 bytes): value 128·c + 32·l + m is bits 2l..2l+1 of qs[32c + m], minus 1. */
export function dequantizeTQ2_0(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('TQ2_0', bytes, count, QK_K, 66);
  const h = f16Table();
  for (let i = 0; i < nb; i++) {
    const o = i * 66;
    const d = h[halfAt(bytes, o + 64)] ?? 0;
    for (let c = 0; c < 2; c++) {
      for (let l = 0; l < 4; l++) {
        for (let m = 0; m < 32; m++) out[i * QK_K + 128 * c + 32 * l + m] = ((((bytes[o + 32 * c + m] ?? 0) >> (2 * l)) & 3) - 1) * d;
      }
    }
  }
}

/**
 * Dequantization of ggml's 2-bit IQ types, as ggml-quants.c dequantize_row_iq2_xxs / _iq2_xs / _iq2_s: each
 * group of 8 values is one entry of an 8-byte grid (levels 8, 25, 43) with a sign pattern, scaled per 32 (or
 * 16) values by d·(0.5 + s)·0.25. Every product is exact in float32 (≤ 22 significant bits), so the values
 * equal ggml's bit for bit.
 */
import { blockCount, f16Table } from './f16-table.js';
import { iqTable, signedGridRow, u32At } from './iq-grids.js';
import { halfAt } from './legacy.js';

const QK_K = 256;
const f = Math.fround;

/** d·(0.5 + s)·0.25 in float32, the sub-block scale of the IQ2 types. */
function iq2Scale(d: number, s: number): number {
  return f(f(d * (0.5 + s)) * 0.25);
}

/** block_iq2_xxs { f16 d; u16 qs[32] } (66 bytes): per 32 values 4 grid bytes, then 4 × 7 sign bits and a 4-bit scale. */
export function dequantizeIQ2_XXS(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('IQ2_XXS', bytes, count, QK_K, 66);
  const h = f16Table(), grid = iqTable('iq2xxs_grid'), ksigns = iqTable('ksigns_iq2xs');
  for (let i = 0; i < nb; i++) {
    const o = i * 66;
    const d = h[halfAt(bytes, o)] ?? 0;
    for (let ib = 0; ib < 8; ib++) {
      const q = o + 2 + 8 * ib;
      const aux = u32At(bytes, q + 4);
      const db = iq2Scale(d, aux >>> 28);
      for (let l = 0; l < 4; l++) {
        signedGridRow(grid, 8, bytes[q + l] ?? 0, ksigns[(aux >>> (7 * l)) & 127] ?? 0, 0, db, out, i * QK_K + 32 * ib + 8 * l);
      }
    }
  }
}

/** block_iq2_xs { f16 d; u16 qs[32]; u8 scales[8] } (74 bytes): qs = 9-bit grid index | 7-bit sign index << 9. */
export function dequantizeIQ2_XS(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('IQ2_XS', bytes, count, QK_K, 74);
  const h = f16Table(), grid = iqTable('iq2xs_grid'), ksigns = iqTable('ksigns_iq2xs');
  for (let i = 0; i < nb; i++) {
    const o = i * 74;
    const d = h[halfAt(bytes, o)] ?? 0;
    for (let ib = 0; ib < 8; ib++) {
      const sc = bytes[o + 66 + ib] ?? 0;
      const db = [iq2Scale(d, sc & 0xf), iq2Scale(d, sc >> 4)];
      for (let l = 0; l < 4; l++) {
        const q = halfAt(bytes, o + 2 + 2 * (4 * ib + l));
        signedGridRow(grid, 8, q & 511, ksigns[q >> 9] ?? 0, 0, db[l >> 1] ?? 0, out, i * QK_K + 32 * ib + 8 * l);
      }
    }
  }
}

/** block_iq2_s { f16 d; u8 qs[32]; u8 signs[32]; u8 qh[8]; u8 scales[8] } (82 bytes): 10-bit grid indices, explicit signs. */
export function dequantizeIQ2_S(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('IQ2_S', bytes, count, QK_K, 82);
  const h = f16Table(), grid = iqTable('iq2s_grid');
  for (let i = 0; i < nb; i++) {
    const o = i * 82;
    const d = h[halfAt(bytes, o)] ?? 0;
    for (let ib = 0; ib < 8; ib++) {
      const sc = bytes[o + 74 + ib] ?? 0, qh = bytes[o + 66 + ib] ?? 0;
      const db = [iq2Scale(d, sc & 0xf), iq2Scale(d, sc >> 4)];
      for (let l = 0; l < 4; l++) {
        const idx = (bytes[o + 2 + 4 * ib + l] ?? 0) | ((qh << (8 - 2 * l)) & 0x300);
        signedGridRow(grid, 8, idx, bytes[o + 34 + 4 * ib + l] ?? 0, 0, db[l >> 1] ?? 0, out, i * QK_K + 32 * ib + 8 * l);
      }
    }
  }
}

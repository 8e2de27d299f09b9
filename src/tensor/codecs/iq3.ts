/**
 * Dequantization of ggml's 3-bit IQ types, as ggml-quants.c dequantize_row_iq3_xxs / _iq3_s: each group of 4
 * values is one entry of a 4-byte grid, signs come 8 at a time, and the scale is d·(0.5 + s)·0.5 (IQ3_XXS)
 * or d·(1 + 2s) (IQ3_S) per 32 values. Every product is exact in float32, so the values equal ggml's.
 */
import { blockCount, f16Table } from './f16-table.js';
import { iqTable, signedGridRow, u32At } from './iq-grids.js';
import { halfAt } from './legacy.js';

const QK_K = 256;
const f = Math.fround;

/** block_iq3_xxs { f16 d; u8 qs[64]; u32 scales_and_signs[8] } (98 bytes). */
export function dequantizeIQ3_XXS(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('IQ3_XXS', bytes, count, QK_K, 98);
  const h = f16Table(), grid = iqTable('iq3xxs_grid'), ksigns = iqTable('ksigns_iq2xs');
  for (let i = 0; i < nb; i++) {
    const o = i * 98;
    const d = h[halfAt(bytes, o)] ?? 0;
    for (let ib = 0; ib < 8; ib++) {
      const aux = u32At(bytes, o + 66 + 4 * ib);
      const db = f(f(d * (0.5 + (aux >>> 28))) * 0.5);
      const q = o + 2 + 8 * ib;
      for (let l = 0; l < 4; l++) {
        const signs = ksigns[(aux >>> (7 * l)) & 127] ?? 0;
        const y = i * QK_K + 32 * ib + 8 * l;
        signedGridRow(grid, 4, bytes[q + 2 * l] ?? 0, signs, 0, db, out, y);
        signedGridRow(grid, 4, bytes[q + 2 * l + 1] ?? 0, signs, 4, db, out, y + 4);
      }
    }
  }
}

/** block_iq3_s { f16 d; u8 qs[64]; u8 qh[8]; u8 signs[32]; u8 scales[4] } (110 bytes): 9-bit grid indices. */
export function dequantizeIQ3_S(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('IQ3_S', bytes, count, QK_K, 110);
  const h = f16Table(), grid = iqTable('iq3s_grid');
  for (let i = 0; i < nb; i++) {
    const o = i * 110;
    const d = h[halfAt(bytes, o)] ?? 0;
    for (let ib = 0; ib < 8; ib++) {
      const sc = bytes[o + 106 + (ib >> 1)] ?? 0;
      const db = f(d * (1 + 2 * (ib % 2 ? sc >> 4 : sc & 0xf)));
      const qh = bytes[o + 66 + ib] ?? 0, q = o + 2 + 8 * ib;
      for (let l = 0; l < 4; l++) {
        const signs = bytes[o + 74 + 4 * ib + l] ?? 0;
        const y = i * QK_K + 32 * ib + 8 * l;
        signedGridRow(grid, 4, (bytes[q + 2 * l] ?? 0) | ((qh << (8 - 2 * l)) & 256), signs, 0, db, out, y);
        signedGridRow(grid, 4, (bytes[q + 2 * l + 1] ?? 0) | ((qh << (7 - 2 * l)) & 256), signs, 4, db, out, y + 4);
      }
    }
  }
}

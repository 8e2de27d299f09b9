/**
 * Dequantization of ggml's 1-bit IQ types, as ggml-quants.c dequantize_row_iq1_s / _iq1_m: groups of 8
 * values are entries of iq1s_grid (levels −1, 0, +1) shifted by ±IQ1S_DELTA (0.125) and scaled by d·(2s + 1).
 * d·(2s + 1)·(level ± 0.125) has ≤ 19 significant bits, so each value is exact in float32 and equals ggml's.
 */
import { blockCount, f16Table } from './f16-table.js';
import { iqTableSigned } from './iq-grids.js';
import { halfAt } from './legacy.js';

const QK_K = 256;
const DELTA = 0.125;

/** dl·(grid[idx][j] + delta) for the 8 values of one group. */
function shiftedRow(grid: Int8Array, idx: number, delta: number, dl: number, out: Float32Array, y: number): void {
  for (let j = 0; j < 8; j++) out[y + j] = dl * ((grid[8 * idx + j] ?? 0) + delta);
}

/** block_iq1_s { f16 d; u8 qs[32]; u16 qh[8] } (50 bytes): 11-bit grid indices, a 3-bit scale and a delta sign per 32. */
export function dequantizeIQ1_S(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('IQ1_S', bytes, count, QK_K, 50);
  const h = f16Table(), grid = iqTableSigned('iq1s_grid');
  for (let i = 0; i < nb; i++) {
    const o = i * 50;
    const d = h[halfAt(bytes, o)] ?? 0;
    for (let ib = 0; ib < 8; ib++) {
      const qh = halfAt(bytes, o + 34 + 2 * ib);
      const dl = Math.fround(d * (2 * ((qh >> 12) & 7) + 1));
      const delta = qh & 0x8000 ? -DELTA : DELTA;
      for (let l = 0; l < 4; l++) {
        shiftedRow(grid, (bytes[o + 2 + 4 * ib + l] ?? 0) | (((qh >> (3 * l)) & 7) << 8), delta, dl, out, i * QK_K + 32 * ib + 8 * l);
      }
    }
  }
}

/** IQ1_M's f16 super-block scale, kept in the top 4 bits of its four u16 scale words. */
function iq1mScale(bytes: Uint8Array, sc: number): number {
  const w = (k: number): number => halfAt(bytes, sc + 2 * k);
  return (w(0) >> 12) | ((w(1) >> 8) & 0x00f0) | ((w(2) >> 4) & 0x0f00) | (w(3) & 0xf000);
}

/** block_iq1_m { u8 qs[32]; u8 qh[16]; u8 scales[8] } (56 bytes): 3-bit scales per 16 values, a delta sign per 8. */
export function dequantizeIQ1_M(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('IQ1_M', bytes, count, QK_K, 56);
  const h = f16Table(), grid = iqTableSigned('iq1s_grid');
  for (let i = 0; i < nb; i++) {
    const o = i * 56;
    const d = h[iq1mScale(bytes, o + 48)] ?? 0;
    for (let ib = 0; ib < 8; ib++) {
      const sc = halfAt(bytes, o + 48 + 2 * (ib >> 1)) >> (6 * (ib % 2));
      const dl = [Math.fround(d * (2 * (sc & 7) + 1)), Math.fround(d * (2 * ((sc >> 3) & 7) + 1))];
      for (let l = 0; l < 4; l++) {
        const qh = (bytes[o + 32 + 2 * ib + (l >> 1)] ?? 0) >> (4 * (l % 2));
        const idx = (bytes[o + 4 * ib + l] ?? 0) | ((qh & 7) << 8);
        shiftedRow(grid, idx, qh & 0x08 ? -DELTA : DELTA, dl[l >> 1] ?? 0, out, i * QK_K + 32 * ib + 8 * l);
      }
    }
  }
}

/**
 * Dequantization of ggml's non-linear 4-bit types, as ggml-quants.c dequantize_row_iq4_nl / _iq4_xs: every
 * 4-bit index selects one of the 16 levels of kvalues_iq4nl, scaled by the block's f16 d (IQ4_NL) or by
 * d·(ls − 32) with a 6-bit ls per 32 values (IQ4_XS). The products are exact in float32 (an 11-bit f16
 * significand times a 6-bit integer times a 7-bit level is ≤ 24 bits), so they equal ggml's bit for bit.
 */
import { blockCount, f16Table } from './f16-table.js';
import { iqTableSigned } from './iq-grids.js';
import { halfAt } from './legacy.js';

/** 32 values from 16 bytes of nibbles at `q`: low nibbles are values 0..15, high nibbles 16..31. */
function nibbles32(bytes: Uint8Array, q: number, scale: number, out: Float32Array, y: number): void {
  const kv = iqTableSigned('kvalues_iq4nl');
  for (let j = 0; j < 16; j++) {
    const b = bytes[q + j] ?? 0;
    out[y + j] = scale * (kv[b & 0xf] ?? 0);
    out[y + j + 16] = scale * (kv[b >> 4] ?? 0);
  }
}

/** block_iq4_nl { f16 d; u8 qs[16] } (18 bytes, 32 values): y = d·kvalues[q]. */
export function dequantizeIQ4_NL(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('IQ4_NL', bytes, count, 32, 18);
  const h = f16Table();
  for (let i = 0; i < nb; i++) nibbles32(bytes, i * 18 + 2, h[halfAt(bytes, i * 18)] ?? 0, out, i * 32);
}

/** The 6-bit scale of sub-block ib (0..7) of the IQ4_XS block at `o`: low 4 bits in scales_l, high 2 in scales_h. */
export function iq4xsScale(bytes: Uint8Array, o: number, ib: number): number {
  const low = ((bytes[o + 4 + (ib >> 1)] ?? 0) >> (4 * (ib % 2))) & 0xf;
  return low | (((halfAt(bytes, o + 2) >> (2 * ib)) & 3) << 4);
}

/** block_iq4_xs { f16 d; u16 scales_h; u8 scales_l[4]; u8 qs[128] } (136 bytes, 256 values): y = d·(ls − 32)·kvalues[q]. */
export function dequantizeIQ4_XS(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('IQ4_XS', bytes, count, 256, 136);
  const h = f16Table();
  for (let i = 0; i < nb; i++) {
    const o = i * 136;
    const d = h[halfAt(bytes, o)] ?? 0;
    for (let ib = 0; ib < 8; ib++) nibbles32(bytes, o + 8 + 16 * ib, Math.fround(d * (iq4xsScale(bytes, o, ib) - 32)), out, i * 256 + 32 * ib);
  }
}

/** Dequantization of ggml's Q2_K and Q3_K super-blocks (rounding as explained in kquants.ts). */
import { decodeSuperBlocks } from './kquants.js';
import { halfAt } from './legacy.js';

/**
 * Both types hold sixteen groups of 16 values. Group `g` reads the 2-bit field at bit `shift` of
 * `qs[32·⌊g/8⌋ + 16·(g mod 2) + l]`, with shift = 2·(⌊g/2⌋ mod 4): ggml's n / shift / half loops flattened.
 */
function groupLayout(g: number): { q: number; shift: number } {
  return { q: (g >> 3) * 32 + (g & 1) * 16, shift: ((g >> 1) & 3) * 2 };
}

/** block_q2_K { u8 scales[16]; u8 qs[64]; f16 d; f16 dmin }: y = d·(sc & 15)·q − dmin·(sc >> 4). */
function decodeQ2Block(bytes: Uint8Array, o: number, out: Float32Array, y: number, h: Float32Array): void {
  const d = h[halfAt(bytes, o + 80)] ?? 0;
  const min = h[halfAt(bytes, o + 82)] ?? 0;
  for (let g = 0; g < 16; g++) {
    const sc = bytes[o + g] ?? 0;
    const dl = d * (sc & 0xf), ml = min * (sc >> 4);
    const { q, shift } = groupLayout(g);
    const base = o + 16 + q, yg = y + g * 16;
    for (let l = 0; l < 16; l++) out[yg + l] = dl * (((bytes[base + l] ?? 0) >> shift) & 3) - ml;
  }
}

/** block_q2_K (84 bytes). */
export function dequantizeQ2_K(bytes: Uint8Array, count: number, out: Float32Array): void {
  decodeSuperBlocks('Q2_K', 84, decodeQ2Block, bytes, count, out);
}

/** Q3_K's sixteen 6-bit scales (stored biased by 32) unpacked from 12 bytes, as ggml's kmask shuffle does. */
export function q3Scales(bytes: Uint8Array, s: number): Int8Array {
  const sc = new Int8Array(16);
  for (let j = 0; j < 16; j++) {
    const low = j < 8 ? (bytes[s + j] ?? 0) & 0xf : (bytes[s + j - 8] ?? 0) >> 4;
    const high = ((bytes[s + 8 + (j % 4)] ?? 0) >> (2 * Math.floor(j / 4))) & 3;
    sc[j] = (low | (high << 4)) - 32;
  }
  return sc;
}

/**
 * block_q3_K { u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d }: y = d·sc·(q − 4·[hmask bit clear]);
 * group g tests bit ⌊g/2⌋ of hmask[l], l being the position within its 32-byte qs row.
 */
function decodeQ3Block(bytes: Uint8Array, o: number, out: Float32Array, y: number, h: Float32Array): void {
  const dAll = h[halfAt(bytes, o + 108)] ?? 0;
  const scales = q3Scales(bytes, o + 96);
  for (let g = 0; g < 16; g++) {
    const dl = dAll * (scales[g] ?? 0);
    const { q, shift } = groupLayout(g);
    const m = 1 << (g >> 1), row = q & 31, yg = y + g * 16;
    for (let l = 0; l < 16; l++) {
      const low = ((bytes[o + 32 + q + l] ?? 0) >> shift) & 3;
      out[yg + l] = dl * (low - ((bytes[o + row + l] ?? 0) & m ? 0 : 4));
    }
  }
}

/** block_q3_K (110 bytes). */
export function dequantizeQ3_K(bytes: Uint8Array, count: number, out: Float32Array): void {
  decodeSuperBlocks('Q3_K', 110, decodeQ3Block, bytes, count, out);
}

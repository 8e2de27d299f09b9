/**
 * Dequantization of ggml's 256-element K-quant super-blocks, as ggml-quants.c `dequantize_row_q*_K` does.
 * ggml computes `d·sc` and `min·m` in float (exact: f16 × 6-bit), then `d1·q − m1` (the product is exact,
 * so one rounding). Here the same values are exact in double and rounded once when stored into the
 * Float32Array; a difference of two float32 values rounded via double is correctly rounded (53 ≥ 2·24 + 2).
 * Q6_K's `d·sc·q` is exact in double (≤ 25 bits), so its one rounding on store equals ggml's too.
 */
import { blockCount, f16Table } from './f16-table.js';
import { halfAt } from './legacy.js';

const QK_K = 256;

/** ggml's get_scale_min_k4: 6-bit scale and min number `j` (0..7) from the 12 packed bytes at `s`. */
export function scaleMinK4(bytes: Uint8Array, s: number, j: number): [number, number] {
  if (j < 4) return [(bytes[s + j] ?? 0) & 63, (bytes[s + j + 4] ?? 0) & 63];
  const a = bytes[s + j + 4] ?? 0;
  return [(a & 0xf) | (((bytes[s + j - 4] ?? 0) >> 6) << 4), (a >> 4) | (((bytes[s + j] ?? 0) >> 6) << 4)];
}

/** block_q2_K { u8 scales[16]; u8 qs[64]; f16 d; f16 dmin } (84 bytes). */
export function dequantizeQ2_K(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('Q2_K', bytes, count, QK_K, 84);
  const h = f16Table();
  for (let i = 0; i < nb; i++) {
    const o = i * 84;
    const d = h[halfAt(bytes, o + 80)] ?? 0;
    const min = h[halfAt(bytes, o + 82)] ?? 0;
    let y = i * QK_K;
    let is = 0;
    for (let n = 0; n < 2; n++) {
      const q = o + 16 + n * 32;
      for (let shift = 0; shift < 8; shift += 2) {
        for (let half = 0; half < 2; half++) {
          const sc = bytes[o + is++] ?? 0;
          const dl = d * (sc & 0xf);
          const ml = min * (sc >> 4);
          for (let l = 0; l < 16; l++) out[y++] = dl * (((bytes[q + half * 16 + l] ?? 0) >> shift) & 3) - ml;
        }
      }
    }
  }
}

/** Q3_K's sixteen 6-bit scales (stored biased by 32) unpacked from 12 bytes, as ggml's kmask shuffle does. */
function q3Scales(bytes: Uint8Array, s: number): Int8Array {
  const sc = new Int8Array(16);
  for (let j = 0; j < 16; j++) {
    const low = j < 8 ? (bytes[s + j] ?? 0) & 0xf : (bytes[s + j - 8] ?? 0) >> 4;
    const high = ((bytes[s + 8 + (j % 4)] ?? 0) >> (2 * Math.floor(j / 4))) & 3;
    sc[j] = (low | (high << 4)) - 32;
  }
  return sc;
}

/** block_q3_K { u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d } (110 bytes). */
export function dequantizeQ3_K(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('Q3_K', bytes, count, QK_K, 110);
  const h = f16Table();
  for (let i = 0; i < nb; i++) {
    const o = i * 110;
    const dAll = h[halfAt(bytes, o + 108)] ?? 0;
    const scales = q3Scales(bytes, o + 96);
    let y = i * QK_K;
    let is = 0;
    let m = 1;
    for (let n = 0; n < 2; n++) {
      const q = o + 32 + n * 32;
      for (let shift = 0; shift < 8; shift += 2) {
        for (let half = 0; half < 2; half++) {
          const dl = dAll * (scales[is++] ?? 0);
          for (let l = half * 16; l < half * 16 + 16; l++) {
            const low = ((bytes[q + l] ?? 0) >> shift) & 3;
            out[y++] = dl * (low - ((bytes[o + l] ?? 0) & m ? 0 : 4));
          }
        }
        m <<= 1;
      }
    }
  }
}

/** block_q4_K { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] } (144 bytes). */
export function dequantizeQ4_K(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('Q4_K', bytes, count, QK_K, 144);
  const h = f16Table();
  for (let i = 0; i < nb; i++) {
    const o = i * 144;
    const d = h[halfAt(bytes, o)] ?? 0;
    const min = h[halfAt(bytes, o + 2)] ?? 0;
    let y = i * QK_K;
    for (let j = 0; j < 4; j++) {
      const [sc1, m1] = scaleMinK4(bytes, o + 4, 2 * j);
      const [sc2, m2] = scaleMinK4(bytes, o + 4, 2 * j + 1);
      const d1 = d * sc1, n1 = min * m1, d2 = d * sc2, n2 = min * m2;
      const q = o + 16 + j * 32;
      for (let l = 0; l < 32; l++) out[y++] = d1 * ((bytes[q + l] ?? 0) & 0xf) - n1;
      for (let l = 0; l < 32; l++) out[y++] = d2 * ((bytes[q + l] ?? 0) >> 4) - n2;
    }
  }
}

/** block_q5_K { f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] } (176 bytes). */
export function dequantizeQ5_K(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('Q5_K', bytes, count, QK_K, 176);
  const h = f16Table();
  for (let i = 0; i < nb; i++) {
    const o = i * 176;
    const d = h[halfAt(bytes, o)] ?? 0;
    const min = h[halfAt(bytes, o + 2)] ?? 0;
    let y = i * QK_K;
    for (let j = 0; j < 4; j++) {
      const [sc1, m1] = scaleMinK4(bytes, o + 4, 2 * j);
      const [sc2, m2] = scaleMinK4(bytes, o + 4, 2 * j + 1);
      const d1 = d * sc1, n1 = min * m1, d2 = d * sc2, n2 = min * m2;
      const u1 = 1 << (2 * j), u2 = 2 << (2 * j);
      const ql = o + 48 + j * 32;
      for (let l = 0; l < 32; l++) out[y++] = d1 * (((bytes[ql + l] ?? 0) & 0xf) + ((bytes[o + 16 + l] ?? 0) & u1 ? 16 : 0)) - n1;
      for (let l = 0; l < 32; l++) out[y++] = d2 * (((bytes[ql + l] ?? 0) >> 4) + ((bytes[o + 16 + l] ?? 0) & u2 ? 16 : 0)) - n2;
    }
  }
}

/** block_q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d } (210 bytes). */
export function dequantizeQ6_K(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('Q6_K', bytes, count, QK_K, 210);
  const h = f16Table();
  for (let i = 0; i < nb; i++) {
    const o = i * 210;
    const d = h[halfAt(bytes, o + 208)] ?? 0;
    for (let n = 0; n < 2; n++) {
      const ql = o + n * 64, qh = o + 128 + n * 32, sc = o + 192 + n * 8, y = i * QK_K + n * 128;
      for (let l = 0; l < 32; l++) {
        const is = l >> 4;
        const a = bytes[ql + l] ?? 0, b = bytes[ql + l + 32] ?? 0, c = bytes[qh + l] ?? 0;
        out[y + l] = d * int8(bytes[sc + is]) * (((a & 0xf) | ((c & 3) << 4)) - 32);
        out[y + l + 32] = d * int8(bytes[sc + is + 2]) * (((b & 0xf) | (((c >> 2) & 3) << 4)) - 32);
        out[y + l + 64] = d * int8(bytes[sc + is + 4]) * (((a >> 4) | (((c >> 4) & 3) << 4)) - 32);
        out[y + l + 96] = d * int8(bytes[sc + is + 6]) * (((b >> 4) | (((c >> 6) & 3) << 4)) - 32);
      }
    }
  }
}

function int8(b: number | undefined): number {
  return ((b ?? 0) << 24) >> 24;
}

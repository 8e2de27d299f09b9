/**
 * Dequantization of ggml's 32-element block types, as ggml-quants.c `dequantize_row_*` does.
 * Every product below is exact in float32 (a ≤ 5-bit integer times an f16 scale), so the single rounding
 * done when a double is stored into the Float32Array equals ggml's float arithmetic bit for bit; a sum of
 * two float32 values computed in double and rounded to float32 is also correctly rounded (53 ≥ 2·24 + 2).
 */
import { blockCount, f16Table } from './f16-table.js';

const QK = 32;

export function halfAt(bytes: Uint8Array, o: number): number {
  return ((bytes[o] ?? 0) | ((bytes[o + 1] ?? 0) << 8)) >>> 0;
}

/** block_q8_0 { f16 d; i8 qs[32] } (34 bytes): y = d·q. */
export function dequantizeQ8_0(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('Q8_0', bytes, count, QK, 34);
  const h = f16Table();
  for (let i = 0; i < nb; i++) {
    const o = i * 34;
    const d = h[halfAt(bytes, o)] ?? 0;
    const y = i * QK;
    for (let j = 0; j < QK; j++) out[y + j] = (((bytes[o + 2 + j] ?? 0) << 24) >> 24) * d;
  }
}

/** block_q4_0 { f16 d; u8 qs[16] } (18 bytes): low nibbles are elements 0..15, high nibbles 16..31; y = d·(q − 8). */
export function dequantizeQ4_0(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('Q4_0', bytes, count, QK, 18);
  const h = f16Table();
  for (let i = 0; i < nb; i++) {
    const o = i * 18;
    const d = h[halfAt(bytes, o)] ?? 0;
    const y = i * QK;
    for (let j = 0; j < 16; j++) {
      const q = bytes[o + 2 + j] ?? 0;
      out[y + j] = ((q & 0xf) - 8) * d;
      out[y + j + 16] = ((q >> 4) - 8) * d;
    }
  }
}

/** block_q4_1 { f16 d; f16 m; u8 qs[16] } (20 bytes): y = d·q + m. */
export function dequantizeQ4_1(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('Q4_1', bytes, count, QK, 20);
  const h = f16Table();
  for (let i = 0; i < nb; i++) {
    const o = i * 20;
    const d = h[halfAt(bytes, o)] ?? 0;
    const m = h[halfAt(bytes, o + 2)] ?? 0;
    const y = i * QK;
    for (let j = 0; j < 16; j++) {
      const q = bytes[o + 4 + j] ?? 0;
      out[y + j] = (q & 0xf) * d + m;
      out[y + j + 16] = (q >> 4) * d + m;
    }
  }
}

function u32At(bytes: Uint8Array, o: number): number {
  return ((bytes[o] ?? 0) | ((bytes[o + 1] ?? 0) << 8) | ((bytes[o + 2] ?? 0) << 16) | ((bytes[o + 3] ?? 0) << 24)) >>> 0;
}

/** 5-bit quants: nibble of qs[j] plus bit j (elements 0..15) or bit j+16 (elements 16..31) of qh. */
function q5Low(q: number, qh: number, j: number): number {
  return (q & 0xf) | (((qh >>> j) << 4) & 0x10);
}

function q5High(q: number, qh: number, j: number): number {
  return (q >> 4) | ((qh >>> (j + 12)) & 0x10);
}

/** block_q5_0 { f16 d; u8 qh[4]; u8 qs[16] } (22 bytes): y = d·(q − 16). */
export function dequantizeQ5_0(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('Q5_0', bytes, count, QK, 22);
  const h = f16Table();
  for (let i = 0; i < nb; i++) {
    const o = i * 22;
    const d = h[halfAt(bytes, o)] ?? 0;
    const qh = u32At(bytes, o + 2);
    const y = i * QK;
    for (let j = 0; j < 16; j++) {
      const q = bytes[o + 6 + j] ?? 0;
      out[y + j] = (q5Low(q, qh, j) - 16) * d;
      out[y + j + 16] = (q5High(q, qh, j) - 16) * d;
    }
  }
}

/** block_q5_1 { f16 d; f16 m; u8 qh[4]; u8 qs[16] } (24 bytes): y = d·q + m. */
export function dequantizeQ5_1(bytes: Uint8Array, count: number, out: Float32Array): void {
  const nb = blockCount('Q5_1', bytes, count, QK, 24);
  const h = f16Table();
  for (let i = 0; i < nb; i++) {
    const o = i * 24;
    const d = h[halfAt(bytes, o)] ?? 0;
    const m = h[halfAt(bytes, o + 2)] ?? 0;
    const qh = u32At(bytes, o + 4);
    const y = i * QK;
    for (let j = 0; j < 16; j++) {
      const q = bytes[o + 8 + j] ?? 0;
      out[y + j] = q5Low(q, qh, j) * d + m;
      out[y + j + 16] = q5High(q, qh, j) * d + m;
    }
  }
}

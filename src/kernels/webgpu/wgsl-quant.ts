import { NF4_CODEBOOK } from '../../tensor/quant/nf4.js';

/**
 * WGSL element decoders of the weight formats, read from the raw ggml block bytes bound as `array<u32>`
 * (little-endian, so byte o is bits 8·(o mod 4).. of word ⌊o/4⌋). Each mirrors one row decoder of
 * src/kernels/cpu/blocks.ts for a single element c of row r; every product is one float32 multiply, as the
 * CPU's Math.fround. `WDECODE[dtype]` defines `fn wload(r: u32, c: u32) -> f32` over binding `wq`.
 */

const BYTES = /* wgsl */ `
fn byte_at(o: u32) -> u32 { return (wq[o >> 2u] >> ((o & 3u) * 8u)) & 0xffu; }
fn half_at(o: u32) -> f32 { return unpack2x16float(byte_at(o) | (byte_at(o + 1u) << 8u)).x; }
fn i8_at(o: u32) -> i32 { return (bitcast<i32>(byte_at(o)) << 24u) >> 24u; }
`;

const F32 = /* wgsl */ `
fn wload(r: u32, c: u32) -> f32 { return bitcast<f32>(wq[r * P_COLS + c]); }
`;

const F16 = /* wgsl */ `${BYTES}
fn wload(r: u32, c: u32) -> f32 { return half_at((r * P_COLS + c) * 2u); }
`;

const Q8_0 = /* wgsl */ `${BYTES}
fn wload(r: u32, c: u32) -> f32 {
  let o = (r * (P_COLS / 32u) + c / 32u) * 34u;
  return half_at(o) * f32(i8_at(o + 2u + c % 32u));
}
`;

const Q4_0 = /* wgsl */ `${BYTES}
fn wload(r: u32, c: u32) -> f32 {
  let o = (r * (P_COLS / 32u) + c / 32u) * 18u;
  let j = c % 32u;
  let q = (byte_at(o + 2u + j % 16u) >> (4u * (j / 16u))) & 15u;
  return f32(i32(q) - 8) * half_at(o);
}
`;

const Q4_K = /* wgsl */ `${BYTES}
fn scale_min_k4(s: u32, j: u32, sm: u32) -> u32 {
  if (j < 4u) { return byte_at(s + j + 4u * sm) & 63u; }
  let hi = byte_at(s + j + 4u);
  let lo = select(hi >> 4u, hi & 15u, sm == 0u);
  return lo | ((byte_at(s + j - 4u * (1u - sm)) >> 6u) << 4u);
}
fn wload(r: u32, c: u32) -> f32 {
  let o = (r * (P_COLS / 256u) + c / 256u) * 144u;
  let w = c % 256u;
  let chunk = w / 64u;
  let hi = (w % 64u) / 32u;
  let is = 2u * chunk + hi;
  let qb = byte_at(o + 16u + 32u * chunk + w % 32u);
  let nib = (qb >> (4u * hi)) & 15u;
  let d1 = half_at(o) * f32(scale_min_k4(o + 4u, is, 0u));
  let m1 = half_at(o + 2u) * f32(scale_min_k4(o + 4u, is, 1u));
  let p = d1 * f32(nib);
  return p - m1;
}
`;

const Q6_K = /* wgsl */ `${BYTES}
fn wload(r: u32, c: u32) -> f32 {
  let o = (r * (P_COLS / 256u) + c / 256u) * 210u;
  let w = c % 256u;
  let n = w / 128u;
  let quarter = (w % 128u) / 32u;
  let l = w % 32u;
  let lo = (byte_at(o + 64u * n + l + 32u * (quarter & 1u)) >> (4u * (quarter >> 1u))) & 15u;
  let hi = (byte_at(o + 128u + 32u * n + l) >> (2u * quarter)) & 3u;
  let q = i32(lo | (hi << 4u)) - 32;
  let sc = half_at(o + 208u) * f32(i8_at(o + 192u + 8u * n + l / 16u + 2u * quarter));
  return sc * f32(q);
}
`;

/** A WGSL f32 literal of a float32 value (the shortest decimal that parses back to the same float). */
function f32Literal(v: number): string {
  const s = String(v);
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/**
 * NF4 (src/tensor/quant/nf4.ts): 64-value blocks of { f16 absmax; 32 bytes }, byte j holding element 2j in its
 * high nibble and 2j + 1 in its low one; x̂ = codebook[q]·absmax, one float32 multiply as dequantizeNf4. A
 * block starts at an even byte, so its f16 lies within one word.
 */
const NF4 = /* wgsl */ `
const NF4_CODE = array<f32, 16>(${Array.from(NF4_CODEBOOK, f32Literal).join(', ')});
fn wload(r: u32, c: u32) -> f32 {
  let o = (r * (P_COLS / 64u) + c / 64u) * 34u;
  let a = unpack2x16float(wq[o >> 2u] >> ((o & 2u) * 8u)).x;
  let j = c % 64u;
  let b = o + 2u + j / 2u;
  let q = (((wq[b >> 2u] >> ((b & 3u) * 8u)) & 0xffu) >> (4u * (1u - (j & 1u)))) & 15u;
  return NF4_CODE[q] * a;
}
`;

/** The weight dtypes the WGSL kernels read in their stored form; every other dtype is converted to F32 on upload. */
export const WDECODE: Readonly<Record<string, string>> = { F32, F16, Q8_0, Q4_0, Q4_K, Q6_K, NF4 };

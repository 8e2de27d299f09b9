import { type Asm, OP, SIMD } from './asm.js';
import type { IntKernelSpec } from './int-spec.js';

/** Integer-dot K-quant formats (256-value super-blocks, Q8_K activations). */

/**
 * ggml's kmask unpacking of the 12 scale bytes at wp + 4 (three 32-bit words w0, w1, w2): the 8 6-bit scales
 * are then the bytes of locals u0, u1 and the 8 mins the bytes of u2, u3.
 */
function unpackScales(a: Asm): void {
  const w = (i: number): Asm => a.get('wp').mem(OP.i32_load, 4 + 4 * i, 0);
  const K1 = 0x3f3f3f3f;
  const K2 = 0x0f0f0f0f;
  const K3 = 0x03030303;
  w(2).i32(4).op(OP.i32_shr_u).i32(K2).op(OP.i32_and);
  w(1).i32(6).op(OP.i32_shr_u).i32(K3).op(OP.i32_and).i32(4).op(OP.i32_shl).op(OP.i32_or).set('u3');
  w(1).i32(K1).op(OP.i32_and).set('u2');
  w(2).i32(K2).op(OP.i32_and);
  w(0).i32(6).op(OP.i32_shr_u).i32(K3).op(OP.i32_and).i32(4).op(OP.i32_shl).op(OP.i32_or).set('u1');
  w(0).i32(K1).op(OP.i32_and).set('u0');
  // mins as int16x8: bytes of u2, u3 zero-extended
  a.get('u2').simd(SIMD.i32x4_splat).get('u3').simd(SIMD.i32x4_replace_lane, 1).simd(SIMD.i16x8_extend_low_i8x16_u).set('mv16');
}

/** Pushes scale j (byte j & 3 of u0 or u1) as an i32. */
function scaleByte(a: Asm, j: number): void {
  a.get(j < 4 ? 'u0' : 'u1');
  if (j & 3) a.i32(8 * (j & 3)).op(OP.i32_shr_u);
  a.i32(0xff).op(OP.i32_and);
}

/**
 * Q4_K: d, dmin (f16), 12 bytes of 6-bit scales and mins, 128 bytes of nibbles: value 64i + l is the low
 * nibble of byte 32i + l, value 64i + 32 + l its high nibble (l < 32); sub-block j (32 values) has scale sc_j
 * and min m_j: w = d·sc_j·q − dmin·m_j.
 */
const Q4_K: IntKernelSpec = {
  name: 'qdot_q4_k', block: 256, bytes: 144, dOffset: 0, k: true, tokens: 1, mins: true,
  setup(a, h) {
    h.splat16('c15', 15);
    a.local('scv', 'v128').local('mv16', 'v128').local('mins4', 'v128').local('dmin', 'f32');
    for (let j = 0; j < 4; j++) a.local(`u${j}`, 'i32');
  },
  body(a, chunk, h) {
    unpackScales(a);
    h.half(2);
    a.set('dmin');
    for (let j = 0; j < 8; j++) {
      scaleByte(a, j);
      a.simd(SIMD.i16x8_splat).set('scv');
      for (let k = 0; k < 4; k++) {
        a.get('wp').vloadOp(SIMD.v128_load8x8_u, 16 + 32 * (j >> 1) + 8 * k);
        if (j & 1) a.i32(4).simd(SIMD.i16x8_shr_u);
        else a.get('c15').simd(SIMD.v128_and);
        a.get('scv').simd(SIMD.i16x8_mul).set('wv');
        chunk(32 * j + 8 * k);
      }
    }
  },
  tokenMins(a, tt) {
    // Σ_j m_j · S_j: the token's 8 int16 sums at xp + sOff + 4·so (so = 4·sb), one dot with the mins
    a.get('mv16').get(`xp${tt}`).get('sOff').op(OP.i32_add).get('so').i32(2).op(OP.i32_shl).op(OP.i32_add).vload(0);
    a.simd(SIMD.i32x4_dot_i16x8_s).set('mins4');
    for (let l = 0; l < 4; l++) {
      a.get('mins4').simd(SIMD.i32x4_extract_lane, l);
      if (l > 0) a.op(OP.i32_add);
    }
    a.op(OP.f32_convert_i32_s).get('dmin').get('xd').op(OP.f32_mul).op(OP.f32_mul);
    a.get(`accm${tt}`).op(OP.f32_add).set(`accm${tt}`);
  },
};

/**
 * Q6_K: 128 bytes ql, 64 bytes qh, 16 int8 scales, d (f16). In each half n (128 values), value
 * 32g + l = (nibble (g >> 1) of ql[32(g & 1) + l] | bits 2g..2g+1 of qh[l] << 4) − 32, scale
 * sc[8n + 2g + l/16].
 */
const Q6_K: IntKernelSpec = {
  name: 'qdot_q6_k', block: 256, bytes: 210, dOffset: 208, k: true, tokens: 1, mins: false,
  setup(a, h) {
    h.splat16('c15', 15);
    h.splat16('c48', 48);
    h.splat16('c32', 32);
    for (const v of ['A0', 'B0', 'H0', 'A1', 'B1', 'H1', 'scv']) a.local(v, 'v128');
  },
  body(a, chunk) {
    // chunks k = 2·hh, 2·hh + 1 (8 values each) share the scale of group g: loaded once per (n, hh, g)
    for (let n = 0; n < 2; n++) {
      for (let hh = 0; hh < 2; hh++) {
        for (let kk = 0; kk < 2; kk++) {
          const k = 2 * hh + kk;
          a.get('wp').vloadOp(SIMD.v128_load8x8_u, 64 * n + 8 * k).set(`A${kk}`);
          a.get('wp').vloadOp(SIMD.v128_load8x8_u, 64 * n + 32 + 8 * k).set(`B${kk}`);
          a.get('wp').vloadOp(SIMD.v128_load8x8_u, 128 + 32 * n + 8 * k).set(`H${kk}`);
        }
        for (let g = 0; g < 4; g++) {
          a.get('wp').mem(OP.i32_load8_s, 192 + 8 * n + 2 * g + hh, 0).simd(SIMD.i16x8_splat).set('scv');
          for (let kk = 0; kk < 2; kk++) {
            q6Values(a, g, kk);
            a.get('scv').simd(SIMD.i16x8_mul).set('wv');
            chunk(128 * n + 32 * g + 8 * (2 * hh + kk));
          }
        }
      }
    }
  },
};

/** Pushes the 8 values (q − 32, int16) of group g from the ql bytes in A/B and the qh bytes in H (set kk). */
function q6Values(a: Asm, g: number, kk: number): void {
  a.get(`${g & 1 ? 'B' : 'A'}${kk}`);
  if (g >> 1) a.i32(4).simd(SIMD.i16x8_shr_u);
  else a.get('c15').simd(SIMD.v128_and);
  // bits 2g, 2g+1 of qh moved to bits 4, 5
  a.get(`H${kk}`);
  if (g < 2) a.i32(4 - 2 * g).simd(SIMD.i16x8_shl);
  if (g === 3) a.i32(2).simd(SIMD.i16x8_shr_u);
  a.get('c48').simd(SIMD.v128_and).simd(SIMD.v128_or).get('c32').simd(SIMD.i16x8_sub);
}

export const INT_K_SPECS: readonly IntKernelSpec[] = [Q4_K, Q6_K];

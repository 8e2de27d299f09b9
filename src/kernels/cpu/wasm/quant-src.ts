import { type Asm, type KernelSource, OP, SIMD } from './asm.js';
import { decodeF16 } from './f16-src.js';

/**
 * Row decoders for ggml block formats, SIMD. Each decodes `nb` blocks from `src` into float32 at `dst`
 * with the same float32 operations as ggml's dequantize_row_* (no fused multiply-add), so the values equal
 * the TypeScript decoders' bit for bit. `tab` points at the 65,536-entry f16 → f32 table.
 */

const PARAMS = [['src', 'i32'], ['dst', 'i32'], ['nb', 'i32'], ['tab', 'i32']] as const;

/** Pushes the f32 value of the f16 at src + offset. */
function half(a: Asm, offset: number): void {
  a.get('tab').get('src').mem(OP.i32_load16_u, offset, 0).i32(2).op(OP.i32_shl).op(OP.i32_add).mem(OP.f32_load, 0, 2);
}

/**
 * Converts the 16 bytes in local `v` (signed or unsigned) to float32 and stores 16 floats at dst + offset:
 * y = convert(q) · scale (− bias, when given) — scale/bias are f32x4 locals.
 */
function store16(a: Asm, v: string, signed: boolean, scale: string, offset: number, bias?: string, preSub?: string): void {
  const ext16 = signed ? [SIMD.i16x8_extend_low_i8x16_s, SIMD.i16x8_extend_high_i8x16_s] : [SIMD.i16x8_extend_low_i8x16_u, SIMD.i16x8_extend_high_i8x16_u];
  const ext32 = signed ? [SIMD.i32x4_extend_low_i16x8_s, SIMD.i32x4_extend_high_i16x8_s] : [SIMD.i32x4_extend_low_i16x8_u, SIMD.i32x4_extend_high_i16x8_u];
  ext16.forEach((e16, p) => {
    ext32.forEach((e32, s) => {
      a.get('dst');
      a.get(v).simd(e16).simd(e32).simd(SIMD.f32x4_convert_i32x4_s);
      if (preSub !== undefined) a.get(preSub).simd(SIMD.f32x4_sub);
      a.get(scale).simd(SIMD.f32x4_mul);
      if (bias !== undefined) a.get(bias).simd(SIMD.f32x4_sub);
      a.vstore(offset + 16 * (2 * p + s));
    });
  });
}

function splatF32(a: Asm, local: string): void {
  a.simd(SIMD.f32x4_splat).set(local);
}

function byteMask(a: Asm, v: string, mask: number): Asm {
  return a.get(v).i32(mask).simd(SIMD.i8x16_splat).simd(SIMD.v128_and);
}

const decodeQ8_0: KernelSource = {
  name: 'decode_q8_0',
  params: PARAMS,
  exported: true,
  emit(a) {
    a.local('b', 'i32').local('d', 'v128').local('v', 'v128');
    a.for('b', 0, 'nb', 1, () => {
      half(a, 0);
      splatF32(a, 'd');
      for (let k = 0; k < 2; k++) {
        a.get('src').vload(2 + 16 * k).set('v');
        store16(a, 'v', true, 'd', 64 * k);
      }
      a.get('src').i32(34).op(OP.i32_add).set('src');
      a.get('dst').i32(128).op(OP.i32_add).set('dst');
    });
  },
};

const decodeQ4_0: KernelSource = {
  name: 'decode_q4_0',
  params: PARAMS,
  exported: true,
  emit(a) {
    a.local('b', 'i32').local('d', 'v128').local('v', 'v128').local('lo', 'v128').local('hi', 'v128').local('eight', 'v128');
    a.f32(8).simd(SIMD.f32x4_splat).set('eight');
    a.for('b', 0, 'nb', 1, () => {
      half(a, 0);
      splatF32(a, 'd');
      a.get('src').vload(2).set('v');
      byteMask(a, 'v', 0x0f).set('lo');
      a.get('v').i32(4).simd(SIMD.i8x16_shr_u).set('hi');
      // y = (q − 8) · d; q − 8 is exact in float32, as ggml's integer subtraction
      store16(a, 'lo', false, 'd', 0, undefined, 'eight');
      store16(a, 'hi', false, 'd', 64, undefined, 'eight');
      a.get('src').i32(18).op(OP.i32_add).set('src');
      a.get('dst').i32(128).op(OP.i32_add).set('dst');
    });
  },
};

/** ggml get_scale_min_k4(j): pushes the 6-bit scale (which = 0) or min (which = 1) of sub-block j as i32. */
function scaleMinK4(a: Asm, j: number, which: 0 | 1): void {
  const s = 4;
  const ld = (off: number): Asm => a.get('src').mem(OP.i32_load8_u, s + off, 0);
  if (j < 4) {
    ld(j + 4 * which).i32(63).op(OP.i32_and);
    return;
  }
  if (which === 0) ld(j + 4).i32(0x0f).op(OP.i32_and);
  else ld(j + 4).i32(4).op(OP.i32_shr_u);
  ld(j - 4 * (1 - which)).i32(6).op(OP.i32_shr_u).i32(4).op(OP.i32_shl).op(OP.i32_or);
}

const decodeQ4_K: KernelSource = {
  name: 'decode_q4_k',
  params: PARAMS,
  exported: true,
  emit(a) {
    a.local('b', 'i32').local('d', 'f32').local('dmin', 'f32').local('v', 'v128').local('n', 'v128');
    a.local('d1', 'v128').local('m1', 'v128').local('d2', 'v128').local('m2', 'v128');
    a.for('b', 0, 'nb', 1, () => {
      half(a, 0);
      a.set('d');
      half(a, 2);
      a.set('dmin');
      for (let j = 0; j < 4; j++) {
        const sub: [string, 'd' | 'dmin', number, 0 | 1][] = [['d1', 'd', 2 * j, 0], ['m1', 'dmin', 2 * j, 1], ['d2', 'd', 2 * j + 1, 0], ['m2', 'dmin', 2 * j + 1, 1]];
        for (const [local, base, idx, which] of sub) {
          a.get(base);
          scaleMinK4(a, idx, which);
          a.op(OP.f32_convert_i32_s).op(OP.f32_mul);
          splatF32(a, local);
        }
        for (let h = 0; h < 2; h++) {
          a.get('src').vload(16 + 32 * j + 16 * h).set('v');
          byteMask(a, 'v', 0x0f).set('n');
          store16(a, 'n', false, 'd1', 4 * (64 * j + 16 * h), 'm1');
          a.get('v').i32(4).simd(SIMD.i8x16_shr_u).set('n');
          store16(a, 'n', false, 'd2', 4 * (64 * j + 32 + 16 * h), 'm2');
        }
      }
      a.get('src').i32(144).op(OP.i32_add).set('src');
      a.get('dst').i32(1024).op(OP.i32_add).set('dst');
    });
  },
};

const decodeQ6_K: KernelSource = {
  name: 'decode_q6_k',
  params: PARAMS,
  exported: true,
  emit(a) {
    a.local('b', 'i32').local('d', 'f32').local('A', 'v128').local('B', 'v128').local('H', 'v128').local('q', 'v128').local('s', 'v128');
    a.for('b', 0, 'nb', 1, () => {
      half(a, 208);
      a.set('d');
      for (let n = 0; n < 2; n++) {
        for (let h = 0; h < 2; h++) {
          a.get('src').vload(64 * n + 16 * h).set('A');
          a.get('src').vload(64 * n + 32 + 16 * h).set('B');
          a.get('src').vload(128 + 32 * n + 16 * h).set('H');
          // q_k = (low or high nibble of A/B) | (2 bits of H) << 4, then − 32 as int8
          const parts: [string, 'lo' | 'hi', number][] = [['A', 'lo', 0], ['B', 'lo', 2], ['A', 'hi', 4], ['B', 'hi', 6]];
          parts.forEach(([src, nib, shift], k) => {
            if (nib === 'lo') byteMask(a, src, 0x0f);
            else a.get(src).i32(4).simd(SIMD.i8x16_shr_u);
            a.get('H');
            if (shift > 0) a.i32(shift).simd(SIMD.i8x16_shr_u);
            a.i32(3).simd(SIMD.i8x16_splat).simd(SIMD.v128_and).i32(4).simd(SIMD.i8x16_shl);
            a.simd(SIMD.v128_or).i32(32).simd(SIMD.i8x16_splat).simd(SIMD.i8x16_sub).set('q');
            // scale: d · sc[is + 2k] with is = h (l < 16 → 0, else 1)
            a.get('d').get('src').mem(OP.i32_load8_s, 192 + 8 * n + h + 2 * k, 0).op(OP.f32_convert_i32_s).op(OP.f32_mul);
            splatF32(a, 's');
            store16(a, 'q', true, 's', 4 * (128 * n + 16 * h + 32 * k));
          });
        }
      }
      a.get('src').i32(210).op(OP.i32_add).set('src');
      a.get('dst').i32(1024).op(OP.i32_add).set('dst');
    });
  },
};

export const QUANT_SOURCES: readonly KernelSource[] = [decodeQ8_0, decodeQ4_0, decodeQ4_K, decodeQ6_K, decodeF16];

/** Block geometry of each decoder, by ggml dtype name. */
export const QUANT_LAYOUT = {
  Q8_0: { decoder: 'decode_q8_0', blockSize: 32, blockBytes: 34 },
  Q4_0: { decoder: 'decode_q4_0', blockSize: 32, blockBytes: 18 },
  Q4_K: { decoder: 'decode_q4_k', blockSize: 256, blockBytes: 144 },
  Q6_K: { decoder: 'decode_q6_k', blockSize: 256, blockBytes: 210 },
  F16: { decoder: 'decode_f16', blockSize: 1, blockBytes: 2 },
} as const;

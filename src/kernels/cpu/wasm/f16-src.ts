import { type KernelSource, OP, SIMD } from './asm.js';

/**
 * decode_f16(src, dst, nb, tab): nb IEEE halves at src → float32 at dst, 4 at a time (nb a multiple of 4), by
 * bit arithmetic equal to the f16 → f32 table for every finite and infinite half (NaNs stay NaN): the half
 * sign-extended to 32 bits and shifted left by 13 holds the sign in bit 31 and exponent and mantissa in bits
 * 13..27; masked to those, it reads as the half's value scaled by 2^-112 (subnormals included, exactly), so
 * f = that · 2^112. Exponent 31 would come out finite (≥ 65536), so where |f| ≥ 65536 the exponent bits are
 * set to 255 (infinity, or NaN with its mantissa). `tab` is unused (the decoders' common signature).
 */
export const decodeF16: KernelSource = {
  name: 'decode_f16',
  params: [['src', 'i32'], ['dst', 'i32'], ['nb', 'i32'], ['tab', 'i32']],
  exported: true,
  emit(a) {
    a.local('i', 'i32').local('f', 'v128');
    const splat = (name: string, v: number): void => void a.local(name, 'v128').i32(v).simd(SIMD.i32x4_splat).set(name);
    splat('cBits', 0x8fffe000 | 0);
    splat('cExp', 0x7f800000);
    const splatF = (name: string, v: number): void => void a.local(name, 'v128').f32(v).simd(SIMD.f32x4_splat).set(name);
    splatF('scale', 2 ** 112);
    splatF('cBig', 65536);
    /** 4·u halves from src + 8k … to dst + 16k … */
    const convert = (u: number): void => {
      for (let k = 0; k < u; k++) {
        a.get('dst');
        a.get('src').vloadOp(SIMD.v128_load16x4_s, 8 * k).i32(13).simd(SIMD.i32x4_shl).get('cBits').simd(SIMD.v128_and);
        a.get('scale').simd(SIMD.f32x4_mul).tee('f');
        a.get('f').simd(SIMD.f32x4_abs).get('cBig').simd(SIMD.f32x4_ge).get('cExp').simd(SIMD.v128_and).simd(SIMD.v128_or);
        a.vstore(16 * k);
      }
      a.get('src').i32(8 * u).op(OP.i32_add).set('src');
      a.get('dst').i32(16 * u).op(OP.i32_add).set('dst');
    };
    // 32 halves an iteration, then 4 at a time
    a.local('n32', 'i32').get('nb').get('nb').i32(31).op(OP.i32_and).op(OP.i32_sub).set('n32');
    a.for('i', 0, 'n32', 32, () => convert(8));
    a.for('i', 'n32', 'nb', 4, () => convert(1));
  },
};

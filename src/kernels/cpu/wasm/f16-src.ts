import { type KernelSource, OP, SIMD } from './asm.js';

/**
 * decode_f16(src, dst, nb, tab): nb IEEE halves at src → float32 at dst, 4 at a time (nb a multiple of 4), by
 * bit arithmetic equal to the f16 → f32 table for every finite and infinite half (NaNs stay NaN):
 * m = (h & 0x7fff) << 13 read as float32 is h's magnitude scaled by 2^-112 (subnormals included, exactly),
 * so f = m · 2^112; exponent 31 (m ≥ 0x0f800000) becomes 255 by OR-ing 0x7f800000; then the sign bit.
 * `tab` is unused (the decoders' common signature).
 */
export const decodeF16: KernelSource = {
  name: 'decode_f16',
  params: [['src', 'i32'], ['dst', 'i32'], ['nb', 'i32'], ['tab', 'i32']],
  exported: true,
  emit(a) {
    a.local('i', 'i32').local('h', 'v128').local('m', 'v128');
    const splat = (name: string, v: number): void => void a.local(name, 'v128').i32(v).simd(SIMD.i32x4_splat).set(name);
    splat('c7fff', 0x7fff);
    splat('c8000', 0x8000);
    splat('cInf', 0x0f800000);
    splat('cExp', 0x7f800000);
    a.local('scale', 'v128').f32(2 ** 112).simd(SIMD.f32x4_splat).set('scale');
    a.for('i', 0, 'nb', 4, () => {
      a.get('src').vloadOp(SIMD.v128_load16x4_u, 0).set('h');
      a.get('h').get('c7fff').simd(SIMD.v128_and).i32(13).simd(SIMD.i32x4_shl).set('m');
      a.get('dst');
      a.get('m').get('scale').simd(SIMD.f32x4_mul);
      a.get('m').get('cInf').simd(SIMD.i32x4_ge_s).get('cExp').simd(SIMD.v128_and).simd(SIMD.v128_or);
      a.get('h').get('c8000').simd(SIMD.v128_and).i32(16).simd(SIMD.i32x4_shl).simd(SIMD.v128_or);
      a.vstore(0);
      a.get('src').i32(8).op(OP.i32_add).set('src');
      a.get('dst').i32(16).op(OP.i32_add).set('dst');
    });
  },
};

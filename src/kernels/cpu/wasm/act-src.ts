import { type Asm, type KernelSource, OP, SIMD } from './asm.js';

/**
 * Q8_K activation quantization (int-act.ts's quantQ8_K, the values of ggml's quantize_row_q8_K_ref) in SIMD, bit
 * for bit: per 256-value block, amax = max |x| (f32x4.pmax skips NaN lanes as the scalar `>` does), max = the
 * first x of that magnitude, iscale = f32(−127 / max), d = f32(1 / iscale), q = min(127, nearest(f32(iscale·x)))
 * (f32x4.nearest rounds half to even, as the scalar form's 1.5·2²³ trick does for |v| < 2²²; NaN becomes 0 in both),
 * then the int16 sums of each 16 and each 32 q's. Row t is read at x + 4·t·cols and written at dst + t·stride in
 * int-act.ts's layout: q (cols int8), d (cols/256 float32), sums of 32 (cols/32 int16), sums of 16 (cols/16 int16).
 */

const C = {
  f32_abs: 0x8b,
  f32_div: 0x95,
  f32_eq: 0x5b,
  f32_max: 0x97,
  i32_ctz: 0x68,
  i32_store16: 0x3b,
  i32_load16_s: 0x2e,
  f32x4_eq: 0x41,
  f32x4_min: 0xe8,
  f32x4_pmax: 0xeb,
  f32x4_nearest: 0x6a,
  i32x4_trunc_sat_f32x4_s: 0xf8,
  i32x4_bitmask: 0xa4,
  i16x8_narrow_i32x4_s: 0x85,
  i8x16_narrow_i16x8_s: 0x65,
  i16x8_extadd_pairwise_i8x16_s: 0x7c,
} as const;

/** Pushes the f32 max of the four lanes of local `v`. */
function laneMax(a: Asm, v: string): void {
  a.get(v).simd(SIMD.f32x4_extract_lane, 0).get(v).simd(SIMD.f32x4_extract_lane, 1).op(C.f32_max);
  a.get(v).simd(SIMD.f32x4_extract_lane, 2).get(v).simd(SIMD.f32x4_extract_lane, 3).op(C.f32_max).op(C.f32_max);
}

/** amax of the block at xb, then `max`, the first x with |x| = amax (a bounded search: all-NaN blocks end at once). */
function blockMax(a: Asm): void {
  a.simd(0x0c, ...Array<number>(16).fill(0)).set('acc');
  a.for('j', 0, 1024, 16, () => {
    a.get('acc').get('xb').get('j').op(OP.i32_add).vload(0).simd(SIMD.f32x4_abs).simd(C.f32x4_pmax).set('acc');
  });
  laneMax(a, 'acc');
  a.set('amax');
  a.get('amax').simd(SIMD.f32x4_splat).set('vam');
  a.i32(0).set('j').i32(0).set('m');
  a.block(() =>
    a.loop(() => {
      a.get('j').i32(1024).op(OP.i32_ge_s).brIf(1);
      a.get('xb').get('j').op(OP.i32_add).vload(0).simd(SIMD.f32x4_abs).get('vam').simd(C.f32x4_eq).simd(C.i32x4_bitmask).tee('m').brIf(1);
      a.get('j').i32(16).op(OP.i32_add).set('j').br(0);
    }),
  );
  // j + 4·ctz(m) is the byte offset of the first lane that matched (m = 0: no lane, max stays 0)
  a.f32(0).set('max');
  a.get('m').ifThen(() => {
    a.get('xb').get('j').op(OP.i32_add).get('m').op(C.i32_ctz).i32(2).op(OP.i32_shl).op(OP.i32_add).mem(OP.f32_load, 0, 2).set('max');
  });
}

/** q of 16 values at xb + 4c (c = 0, 16, ..., 255) to qb + c, their sum pushed as an i32. */
function chunk16(a: Asm): void {
  const four = (o: number): void => {
    a.get('vis').get('xb').get('c').i32(2).op(OP.i32_shl).op(OP.i32_add).vload(o).simd(SIMD.f32x4_mul).simd(C.f32x4_nearest);
    a.get('v127').simd(C.f32x4_min).simd(C.i32x4_trunc_sat_f32x4_s);
  };
  a.get('qb').get('c').op(OP.i32_add);
  four(0);
  four(16);
  a.simd(C.i16x8_narrow_i32x4_s);
  four(32);
  four(48);
  a.simd(C.i16x8_narrow_i32x4_s).simd(C.i8x16_narrow_i16x8_s).tee('qv').vstore(0);
  a.get('qv').simd(C.i16x8_extadd_pairwise_i8x16_s).simd(SIMD.i32x4_extadd_pairwise_i16x8_s).set('qv');
  for (let l = 0; l < 4; l++) a.get('qv').simd(SIMD.i32x4_extract_lane, l);
  a.op(OP.i32_add, OP.i32_add, OP.i32_add);
}

const quantQ8K: KernelSource = {
  name: 'quant_q8_k',
  params: [['x', 'i32'], ['dst', 'i32'], ['n', 'i32'], ['cols', 'i32'], ['stride', 'i32']],
  exported: true,
  emit(a) {
    for (const v of ['t', 'b', 'j', 'c', 'm', 'nb', 'xb', 'qb', 'dp', 'sp', 'hp', 's16']) a.local(v, 'i32');
    for (const v of ['amax', 'max', 'iscale', 'd']) a.local(v, 'f32');
    for (const v of ['acc', 'vam', 'vis', 'v127', 'qv']) a.local(v, 'v128');
    a.f32(127).simd(SIMD.f32x4_splat).set('v127');
    a.get('cols').i32(8).op(OP.i32_shr_u).set('nb');
    a.for('t', 0, 'n', 1, () => {
      a.for('b', 0, 'nb', 1, () => {
        // xb: the block's floats; qb: its q; dp: its d; sp/hp: its 8 sums of 32 and 16 sums of 16
        a.get('x').get('t').get('cols').op(OP.i32_mul).get('b').i32(8).op(OP.i32_shl).op(OP.i32_add).i32(2).op(OP.i32_shl).op(OP.i32_add).set('xb');
        a.get('dst').get('t').get('stride').op(OP.i32_mul).op(OP.i32_add).set('qb');
        a.get('qb').get('cols').op(OP.i32_add).get('b').i32(2).op(OP.i32_shl).op(OP.i32_add).set('dp');
        a.get('qb').get('cols').op(OP.i32_add).get('nb').i32(2).op(OP.i32_shl).op(OP.i32_add).get('b').i32(4).op(OP.i32_shl).op(OP.i32_add).set('sp');
        a.get('qb').get('cols').op(OP.i32_add).get('nb').i32(2).op(OP.i32_shl).op(OP.i32_add).get('cols').i32(4).op(OP.i32_shr_u).op(OP.i32_add).get('b').i32(5).op(OP.i32_shl).op(OP.i32_add).set('hp');
        a.get('qb').get('b').i32(8).op(OP.i32_shl).op(OP.i32_add).set('qb');
        blockMax(a);
        a.f32(0).set('iscale').f32(0).set('d');
        a.get('amax').f32(0).op(C.f32_eq).op(OP.i32_eqz).ifThen(() => {
          a.f32(-127).get('max').op(C.f32_div).set('iscale');
          a.f32(1).get('iscale').op(C.f32_div).set('d');
        });
        a.get('dp').get('d').mem(OP.f32_store, 0, 2);
        a.get('iscale').simd(SIMD.f32x4_splat).set('vis');
        a.for('c', 0, 256, 16, () => {
          chunk16(a);
          a.set('s16');
          a.get('hp').get('c').i32(3).op(OP.i32_shr_u).op(OP.i32_add).get('s16').mem(C.i32_store16, 0, 1);
        });
        // each sum of 32 = its two sums of 16 (|sum| ≤ 32·127 fits int16)
        a.for('c', 0, 8, 1, () => {
          a.get('sp').get('c').i32(1).op(OP.i32_shl).op(OP.i32_add);
          a.get('hp').get('c').i32(2).op(OP.i32_shl).op(OP.i32_add).mem(C.i32_load16_s, 0, 1);
          a.get('hp').get('c').i32(2).op(OP.i32_shl).op(OP.i32_add).mem(C.i32_load16_s, 2, 1);
          a.op(OP.i32_add).mem(C.i32_store16, 0, 1);
        });
      });
    });
  },
};

export const ACT_SOURCES: readonly KernelSource[] = [quantQ8K];

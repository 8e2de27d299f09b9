import { type Asm, OP, SIMD } from './asm.js';

/** What a weight format contributes to the integer-dot kernel (int-src.ts): its block and how to unpack it. */

/** Emitters the generic kernel lends to the formats. */
export interface EmitHelpers {
  /** Pushes the f32 value of the f16 at wp + offset. */
  half(offset: number): void;
  /** Declares local `name` as an int16x8 splat of `v`. */
  splat16(name: string, v: number): void;
}

export interface IntKernelSpec {
  readonly name: string;
  /** Values and bytes per weight super-block. */
  readonly block: number;
  readonly bytes: number;
  /** Byte offset of the f16 super-block scale d inside a weight block. */
  readonly dOffset: number;
  /** Activation layout: Q8_K rows carry int16 sums of each 32 and each 16 q's after the scales. */
  readonly k: boolean;
  /** Q4_1/Q5_1: w = d·q + m, the f16 m at byte 2; its term m·s (s from the activation row) is accumulated apart, in `accm`. */
  readonly mins: boolean;
  /** Tokens per micro-kernel. */
  readonly tokens: number;
  /** Type-specific locals and constants (once per call). */
  setup(a: Asm, h: EmitHelpers): void;
  /**
   * One super-block at weight pointer `wp`: leaves each 8-value int16 weight vector (scaled) in local `wv`,
   * then calls `chunk(e)` with the index e of its first value in the super-block.
   */
  body(a: Asm, chunk: (e: number) => void, h: EmitHelpers): void;
}


/** The helpers over one function's assembler (wp, tab: the kernel's weight-block pointer and f16 table). */
export const INT_EMIT = {
  helpers: (a: Asm): EmitHelpers => {
    return {
      half: (offset) => void a.get('tab').get('wp').mem(OP.i32_load16_u, offset, 0).i32(2).op(OP.i32_shl).op(OP.i32_add).mem(OP.f32_load, 0, 2),
      splat16: (name, v) => void a.local(name, 'v128').i32(v).simd(SIMD.i16x8_splat).set(name),
    };
  },
  /**
   * Declares the geometry locals: nsb, wRow, dOff (int8 q bytes of a row), sOff (start of the sums of 32),
   * s16Off (of the sums of 16), xs (row bytes).
   */
  geometry: (a: Asm, spec: Pick<IntKernelSpec, 'block' | 'bytes' | 'k'>): void => {
    a.local('nsb', 'i32').local('wRow', 'i32').local('dOff', 'i32').local('sOff', 'i32').local('s16Off', 'i32').local('xs', 'i32');
    a.get('cols').i32(Math.log2(spec.block)).op(OP.i32_shr_u).set('nsb');
    a.get('nsb').i32(spec.bytes).op(OP.i32_mul).set('wRow');
    a.get('cols').set('dOff');
    a.get('dOff').get('nsb').i32(2).op(OP.i32_shl).op(OP.i32_add).set('sOff');
    a.get('sOff').set('s16Off');
    if (spec.k) a.get('s16Off').get('cols').i32(4).op(OP.i32_shr_u).op(OP.i32_add).set('s16Off');
    a.get('s16Off').set('xs');
    // Q8_K: the sums of 16; Q8_0: one float32 s per block
    a.get('xs').get('cols').i32(3).op(OP.i32_shr_u).op(OP.i32_add).set('xs');
  },
  params: [['w', 'i32'], ['x', 'i32'], ['out', 'i32'], ['rows', 'i32'], ['cols', 'i32'], ['n', 'i32'], ['ldo', 'i32'], ['scratch', 'i32'], ['tab', 'i32']] as const,
  zero: Array<number>(16).fill(0),
};

/**
 * The vocabulary the WebAssembly kernels are written in: a small stack-machine assembler (implemented in
 * module.ts), the opcodes it needs, and the shape of one kernel's source.
 */

export type ValType = 'i32' | 'f32' | 'f64' | 'v128';

export interface Asm {
  /** Declares a local (params are declared by the kernel's signature). */
  local(name: string, type: ValType): Asm;
  get(name: string): Asm;
  set(name: string): Asm;
  tee(name: string): Asm;
  i32(v: number): Asm;
  f32(v: number): Asm;
  /** Raw core opcodes. */
  op(...bytes: number[]): Asm;
  /** A SIMD opcode (0xfd prefix) with its immediates. */
  simd(op: number, ...imm: number[]): Asm;
  /** A core load/store with its memarg (align given as log2). */
  mem(op: number, offset?: number, alignLog2?: number): Asm;
  vload(offset?: number): Asm;
  /** A SIMD load with a memarg other than v128.load (e.g. v128.load8x8_u), align 0. */
  vloadOp(op: number, offset?: number): Asm;
  vstore(offset?: number): Asm;
  block(body: () => void): Asm;
  loop(body: () => void): Asm;
  ifThen(body: () => void): Asm;
  br(depth: number): Asm;
  brIf(depth: number): Asm;
  call(fn: string): Asm;
  /** `for (name = from; name < to; name += step) body` with signed comparison; from/to are constants or locals. */
  for(name: string, from: number | string, to: number | string, step: number, body: () => void): Asm;
}

export interface KernelSource {
  readonly name: string;
  readonly params: readonly (readonly [string, ValType])[];
  readonly exported: boolean;
  emit(a: Asm): void;
}

/** Core opcodes used by the kernels. */
export const OP = {
  i32_load: 0x28,
  f32_load: 0x2a,
  i32_load8_s: 0x2c,
  i32_load8_u: 0x2d,
  i32_load16_u: 0x2f,
  f32_store: 0x38,
  i32_eqz: 0x45,
  i32_ge_s: 0x4e,
  i32_lt_s: 0x48,
  i32_add: 0x6a,
  i32_sub: 0x6b,
  i32_mul: 0x6c,
  i32_and: 0x71,
  i32_or: 0x72,
  i32_shl: 0x74,
  i32_shr_u: 0x76,
  i32_shr_s: 0x75,
  f32_add: 0x92,
  f32_sub: 0x93,
  f32_mul: 0x94,
  f32_convert_i32_s: 0xb2,
} as const;

/** SIMD opcodes (after the 0xfd prefix). */
export const SIMD = {
  v128_load8x8_s: 0x01,
  v128_load8x8_u: 0x02,
  v128_load16x4_s: 0x03,
  i8x16_shuffle: 0x0d,
  i8x16_swizzle: 0x0e,
  i8x16_splat: 0x0f,
  i16x8_splat: 0x10,
  f32x4_splat: 0x13,
  f32x4_extract_lane: 0x1f,
  v128_and: 0x4e,
  v128_or: 0x50,
  i8x16_shl: 0x6b,
  i8x16_shr_u: 0x6d,
  i8x16_sub: 0x71,
  i32x4_extadd_pairwise_i16x8_s: 0x7e,
  i16x8_extend_low_i8x16_s: 0x87,
  i16x8_extend_high_i8x16_s: 0x88,
  i16x8_extend_low_i8x16_u: 0x89,
  i16x8_extend_high_i8x16_u: 0x8a,
  i16x8_shl: 0x8b,
  i16x8_shr_u: 0x8d,
  i16x8_sub: 0x91,
  i16x8_add: 0x8e,
  i16x8_mul: 0x95,
  i16x8_extmul_low_i8x16_s: 0x9c,
  i16x8_extmul_high_i8x16_s: 0x9d,
  i32x4_extend_low_i16x8_s: 0xa7,
  i32x4_extend_high_i16x8_s: 0xa8,
  i32x4_extend_low_i16x8_u: 0xa9,
  i32x4_extend_high_i16x8_u: 0xaa,
  i32x4_splat: 0x11,
  i32x4_extract_lane: 0x1b,
  i16x8_ne: 0x2e,
  i32x4_ge_s: 0x3f,
  i32x4_replace_lane: 0x1c,
  i32x4_shl: 0xab,
  i32x4_add: 0xae,
  i32x4_sub: 0xb1,
  i32x4_mul: 0xb5,
  i32x4_dot_i16x8_s: 0xba,
  f32x4_ge: 0x46,
  f32x4_abs: 0xe0,
  f32x4_add: 0xe4,
  f32x4_sub: 0xe5,
  f32x4_mul: 0xe6,
  f32x4_convert_i32x4_s: 0xfa,
  /** Relaxed SIMD (Node 20: behind --experimental-wasm-relaxed-simd): pairwise i8 × i7 products summed to int16. */
  i16x8_relaxed_dot_i8x16_i7x16_s: 0x112,
} as const;

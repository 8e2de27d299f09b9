import { type Asm, OP, SIMD } from './asm.js';
import { IQ4NL_LEVELS } from './int-tables.js';
import type { EmitHelpers, IntKernelSpec } from './int-spec.js';

/** Integer-dot formats with 32-value blocks and Q8_0 activations. */

/** Q8_0: d (f16), 32 int8. */
const Q8_0: IntKernelSpec = {
  name: 'qdot_q8_0', block: 32, bytes: 34, dOffset: 0, k: false, tokens: 1, mins: false,
  setup: () => undefined,
  body(a, chunk) {
    for (let k = 0; k < 4; k++) {
      a.get('wp').vloadOp(SIMD.v128_load8x8_s, 2 + 8 * k).set('wv');
      chunk(8 * k);
    }
  },
};

/** Q4_0: d (f16), 16 bytes: value j = low nibble of byte j − 8, value j + 16 = its high nibble − 8. */
const Q4_0: IntKernelSpec = {
  name: 'qdot_q4_0', block: 32, bytes: 18, dOffset: 0, k: false, tokens: 1, mins: false,
  setup(a, h) {
    h.splat16('c15', 15);
    h.splat16('c8', 8);
    a.local('v', 'v128');
  },
  body(a, chunk) {
    for (let k = 0; k < 2; k++) {
      a.get('wp').vloadOp(SIMD.v128_load8x8_u, 2 + 8 * k).set('v');
      a.get('v').get('c15').simd(SIMD.v128_and).get('c8').simd(SIMD.i16x8_sub).set('wv');
      chunk(8 * k);
      a.get('v').i32(4).simd(SIMD.i16x8_shr_u).get('c8').simd(SIMD.i16x8_sub).set('wv');
      chunk(16 + 8 * k);
    }
  },
};

/**
 * Q5_0: d (f16), qh (32 bits), 16 bytes: value j = (low nibble of byte j | bit j of qh << 4) − 16, value j + 16 =
 * (its high nibble | bit j + 16 of qh << 4) − 16. A lane's bit: the qh byte splat, AND the lane's bit, ≠ 0.
 */
const Q5_0: IntKernelSpec = {
  name: 'qdot_q5_0', block: 32, bytes: 22, dOffset: 0, k: false, tokens: 1, mins: false,
  setup: q5Setup,
  body: (a, chunk) => q5Body(a, chunk, 2, 16),
};

/** IQ4_NL: d (f16), 16 bytes: value j = kvalues[low nibble of byte j], value j + 16 = kvalues[its high nibble]. */
const IQ4_NL: IntKernelSpec = {
  name: 'qdot_iq4_nl', block: 32, bytes: 18, dOffset: 0, k: false, tokens: 1, mins: false,
  setup(a) {
    a.local('c15b', 'v128').i32(15).simd(SIMD.i8x16_splat).set('c15b');
    a.local('levels', 'v128').simd(0x0c, ...IQ4NL_LEVELS.map((v) => v & 0xff)).set('levels');
    a.local('v', 'v128').local('lv', 'v128');
  },
  body(a, chunk) {
    a.get('wp').vload(2).set('v');
    for (let hi = 0; hi < 2; hi++) {
      a.get('levels').get('v');
      if (hi) a.i32(4).simd(SIMD.i16x8_shr_u);
      a.get('c15b').simd(SIMD.v128_and).simd(SIMD.i8x16_swizzle).set('lv');
      for (let k = 0; k < 2; k++) {
        a.get('lv').simd(k ? SIMD.i16x8_extend_high_i8x16_s : SIMD.i16x8_extend_low_i8x16_s).set('wv');
        chunk(16 * hi + 8 * k);
      }
    }
  },
};

/** Q4_1: d, m (f16), 16 bytes: value j = low nibble of byte j, value j + 16 its high nibble; w = d·q + m. */
const Q4_1: IntKernelSpec = {
  name: 'qdot_q4_1', block: 32, bytes: 20, dOffset: 0, k: false, tokens: 1, mins: true,
  setup(a, h) {
    h.splat16('c15', 15);
    a.local('v', 'v128');
  },
  body(a, chunk) {
    for (let k = 0; k < 2; k++) {
      a.get('wp').vloadOp(SIMD.v128_load8x8_u, 4 + 8 * k).set('v');
      a.get('v').get('c15').simd(SIMD.v128_and).set('wv');
      chunk(8 * k);
      a.get('v').i32(4).simd(SIMD.i16x8_shr_u).set('wv');
      chunk(16 + 8 * k);
    }
  },
};

/** The 5-bit values of Q5_0 (qh at byte `qh`, qs after it) into `wv`, minus `offset`, chunk by chunk. */
function q5Body(a: Asm, chunk: (e: number) => void, qh: number, offset: number): void {
  for (let k = 0; k < 2; k++) {
    a.get('wp').vloadOp(SIMD.v128_load8x8_u, qh + 4 + 8 * k).set('v');
    for (let hi = 0; hi < 2; hi++) {
      a.get('v');
      if (hi) a.i32(4).simd(SIMD.i16x8_shr_u);
      a.get('c15').simd(SIMD.v128_and);
      // bit 8k + l (+ 16 for the high nibbles) of qh: byte qh + k + 2·hi of the block
      a.get('wp').mem(OP.i32_load8_u, qh + k + 2 * hi, 0).simd(SIMD.i16x8_splat).get('bitMask').simd(SIMD.v128_and);
      a.simd(0x0c, ...Array<number>(16).fill(0)).simd(SIMD.i16x8_ne).get('c16').simd(SIMD.v128_and).simd(SIMD.v128_or);
      if (offset) a.get('c16').simd(SIMD.i16x8_sub);
      a.set('wv');
      chunk(16 * hi + 8 * k);
    }
  }
}

function q5Setup(a: Asm, h: EmitHelpers): void {
  h.splat16('c15', 15);
  h.splat16('c16', 16);
  a.local('v', 'v128').local('bitMask', 'v128').simd(0x0c, ...[1, 2, 4, 8, 16, 32, 64, 128].flatMap((b) => [b, 0])).set('bitMask');
}

/** Q5_1: d, m (f16), qh (32 bits), 16 bytes: Q5_0's values without the − 16; w = d·q + m. */
const Q5_1: IntKernelSpec = {
  name: 'qdot_q5_1', block: 32, bytes: 24, dOffset: 0, k: false, tokens: 1, mins: true,
  setup: q5Setup,
  body: (a, chunk) => q5Body(a, chunk, 4, 0),
};

export const INT_BASIC_SPECS: readonly IntKernelSpec[] = [Q8_0, Q4_0, Q5_0, IQ4_NL, Q4_1, Q5_1];

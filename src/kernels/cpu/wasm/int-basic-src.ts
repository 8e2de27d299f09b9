import { SIMD } from './asm.js';
import type { IntKernelSpec } from './int-spec.js';

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

export const INT_BASIC_SPECS: readonly IntKernelSpec[] = [Q8_0, Q4_0];

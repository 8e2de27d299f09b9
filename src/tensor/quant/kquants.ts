/**
 * ggml's K-quant quantizers Q4_K, Q5_K, Q6_K (256-value super-blocks), each bound to its contract. The
 * byte-exact emulations of ggml's `quantize_row_q*_K_ref` (make_qkx2_quants / make_qx_quants searches)
 * live in src/tensor/codecs; the contracts here check what the searches guarantee whatever scales they pick:
 * once the scales are fixed and packed, every value is stored as the level of its sub-block's grid nearest
 * to it, so it is within step/2 of its value when it lies inside the grid's range. That holds as well for
 * the importance-weighted searches (`quantize_row_q*_K_impl`, used when an imatrix is given), which end by
 * re-deriving the levels from the packed scales in the same way.
 */
import { defineContract } from '../../contract/index.js';
import { dequantize, quantize } from '../codecs/index.js';
import { scaleMinK4 } from '../codecs/kquants.js';
import { F16_MAX, type QuantInput, finiteWithin, halfAt, imatrixRows, onValues, wholeBlocks } from './checks.js';

const QK_K = 256;

/** The grid of one sub-block: levels step·q − offset for q in [qmin, qmax]. */
export interface SubGrid {
  step: number;
  offset: number;
  qmin: number;
  qmax: number;
}

/** Distance from x to the nearest level of a grid (the levels are evenly spaced). */
function nearestLevelDistance(x: number, g: SubGrid): number {
  if (g.step === 0) return Math.abs(x + g.offset);
  const q = Math.min(g.qmax, Math.max(g.qmin, Math.round((x + g.offset) / g.step)));
  return Math.abs(x - (g.step * q - g.offset));
}

/**
 * Whether every decoded value is the level nearest to its input, up to float32 slack (the quantizer rounds
 * (x + offset)/step in float32, so a near-tie may go to the other neighbour): 1e-6·(|x| + |offset| + |step|).
 */
export function nearestLevelWithin(x: Float32Array, y: Float32Array, groupSize: number, grid: (group: number) => SubGrid): boolean {
  for (let g = 0; g * groupSize < x.length; g++) {
    const sg = grid(g);
    for (let i = g * groupSize; i < (g + 1) * groupSize; i++) {
      const v = x[i] ?? 0;
      const slack = 1e-6 * (Math.abs(v) + Math.abs(sg.offset) + Math.abs(sg.step));
      if (!(Math.abs(v - (y[i] ?? 0)) <= nearestLevelDistance(v, sg) + slack)) return false;
    }
  }
  return true;
}

/** The sub-block grid of a Q4_K (blockBytes 144, qmax 15) or Q5_K (176, 31) super-block's 32-value group. */
function gridK(bytes: Uint8Array, blockBytes: number, qmax: number): (group: number) => SubGrid {
  return (group) => {
    const o = Math.floor(group / 8) * blockBytes;
    const [sc, m] = scaleMinK4(bytes, o + 4, group % 8);
    return { step: Math.fround(halfAt(bytes, o) * sc), offset: Math.fround(halfAt(bytes, o + 2) * m), qmin: 0, qmax };
  };
}

/** The grid of a Q6_K 16-value group: d·scale·q for q in [−32, 31]. */
function gridQ6(bytes: Uint8Array): (group: number) => SubGrid {
  return (group) => {
    const o = Math.floor(group / 16) * 210;
    const sc = ((bytes[o + 192 + (group % 16)] ?? 0) << 24) >> 24;
    return { step: Math.fround(halfAt(bytes, o + 208) * sc), offset: 0, qmin: -32, qmax: 31 };
  };
}

function q4_kWithin(x: Float32Array, bytes: Uint8Array): boolean {
  return nearestLevelWithin(x, dequantize('Q4_K', bytes, x.length), 32, gridK(bytes, 144, 15));
}

function q5_kWithin(x: Float32Array, bytes: Uint8Array): boolean {
  return nearestLevelWithin(x, dequantize('Q5_K', bytes, x.length), 32, gridK(bytes, 176, 31));
}

function q6_kWithin(x: Float32Array, bytes: Uint8Array): boolean {
  return nearestLevelWithin(x, dequantize('Q6_K', bytes, x.length), 16, gridQ6(bytes));
}

/** Whole super-blocks, finite values that an f16 scale holds, importance weights (when given) of whole super-block rows. */
const K_PRE = [onValues(wholeBlocks(QK_K)), onValues(finiteWithin(F16_MAX)), imatrixRows(QK_K)] as const;

const q4_kContract = defineContract<QuantInput, Uint8Array>({
  id: 'quant-q4_k-v1',
  equation: 'q4_k_superblock',
  spec: 'per 32-value group: x̂ = d·sc·q − dmin·m with q the level nearest to x in [0, 15] (make_qkx2_quants scales)',
  pre: K_PRE,
  post: [['every value at its nearest level', ({ x }, bytes) => q4_kWithin(x, bytes)]],
});

const q5_kContract = defineContract<QuantInput, Uint8Array>({
  id: 'quant-q5_k-v1',
  equation: 'q5_k_superblock',
  spec: 'per 32-value group: x̂ = d·sc·q − dmin·m with q the level nearest to x in [0, 31] (make_qkx2_quants scales)',
  pre: K_PRE,
  post: [['every value at its nearest level', ({ x }, bytes) => q5_kWithin(x, bytes)]],
});

const q6_kContract = defineContract<QuantInput, Uint8Array>({
  id: 'quant-q6_k-v1',
  equation: 'q6_k_superblock',
  spec: 'per 16-value group: x̂ = d·scale·q with q the level nearest to x in [−32, 31] (make_qx_quants scales)',
  pre: K_PRE,
  post: [['every value at its nearest level', ({ x }, bytes) => q6_kWithin(x, bytes)]],
});

/** Q4_K super-blocks, byte for byte as ggml's quantize_q4_K (quantize_row_q4_K_impl with `imatrix`). */
export function quantizeQ4_K(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  return q4_kContract.run({ x, ...(imatrix ? { imatrix } : {}) }, () => quantize('Q4_K', x, imatrix));
}

/** Q5_K super-blocks, byte for byte as ggml's quantize_q5_K (quantize_row_q5_K_impl with `imatrix`). */
export function quantizeQ5_K(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  return q5_kContract.run({ x, ...(imatrix ? { imatrix } : {}) }, () => quantize('Q5_K', x, imatrix));
}

/** Q6_K super-blocks, byte for byte as ggml's quantize_q6_K (quantize_row_q6_K_impl with `imatrix`). */
export function quantizeQ6_K(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  return q6_kContract.run({ x, ...(imatrix ? { imatrix } : {}) }, () => quantize('Q6_K', x, imatrix));
}

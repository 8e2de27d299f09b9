/**
 * ggml's Q2_K and Q3_K quantizers (256-value super-blocks of sixteen 16-value groups), each bound to its
 * contract. The byte-exact emulations of quantize_row_q{2,3}_K_ref and, with an importance matrix,
 * quantize_row_q{2,3}_K_impl live in src/tensor/codecs/quantize-kquants-q23.ts. Whatever scales the searches
 * pick, both end by re-deriving every level from the packed scales, so each value is stored as the level of
 * its group's grid nearest to it: d·(sc & 15)·q − dmin·(sc >> 4), q ∈ [0, 3] for Q2_K; d·sc·q, q ∈ [−4, 3]
 * for Q3_K.
 */
import { defineContract } from '../../contract/index.js';
import { dequantize, quantize } from '../codecs/index.js';
import { q3Scales } from '../codecs/kquants-q23.js';
import { F16_MAX, finiteWithin, halfAt, wholeBlocks } from './checks.js';
import { type SubGrid, nearestLevelWithin } from './kquants.js';

const QK_K = 256;

export interface KQuantInput {
  x: Float32Array;
  /** llama.cpp importance matrix entry of the tensor: one non-negative weight per column. */
  imatrix?: Float32Array;
}

function lift(check: readonly [string, (x: Float32Array) => boolean]): readonly [string, (i: KQuantInput) => boolean] {
  return [check[0], (i) => check[1](i.x)];
}

/** The importance matrix, when given, has whole super-blocks per row, divides x into rows, and is finite ≥ 0. */
function imatrixFits({ x, imatrix }: KQuantInput): boolean {
  if (!imatrix) return true;
  if (imatrix.length === 0 || imatrix.length % QK_K !== 0 || x.length % imatrix.length !== 0) return false;
  return imatrix.every((w) => Number.isFinite(w) && w >= 0);
}

const PRE = [
  lift(wholeBlocks(QK_K)),
  lift(finiteWithin(F16_MAX)),
  ['importance matrix: whole super-blocks per row, dividing the values, finite and ≥ 0', imatrixFits],
] as const;

/** The grid of a Q2_K 16-value group g: step d·(sc & 15), offset dmin·(sc >> 4), q ∈ [0, 3]. */
function gridQ2(bytes: Uint8Array): (group: number) => SubGrid {
  return (group) => {
    const o = Math.floor(group / 16) * 84;
    const sc = bytes[o + (group % 16)] ?? 0;
    return { step: Math.fround(halfAt(bytes, o + 80) * (sc & 0xf)), offset: Math.fround(halfAt(bytes, o + 82) * (sc >> 4)), qmin: 0, qmax: 3 };
  };
}

/** The grid of a Q3_K 16-value group g: step d·sc (sc the 6-bit scale less 32), q ∈ [−4, 3]. */
function gridQ3(bytes: Uint8Array): (group: number) => SubGrid {
  return (group) => {
    const o = Math.floor(group / 16) * 110;
    const sc = q3Scales(bytes, o + 96)[group % 16] ?? 0;
    return { step: Math.fround(halfAt(bytes, o + 108) * sc), offset: 0, qmin: -4, qmax: 3 };
  };
}

const q2_kContract = defineContract<KQuantInput, Uint8Array>({
  id: 'quant-q2_k-v1',
  equation: 'q2_k_superblock',
  spec: 'per 16-value group: x̂ = d·(sc & 15)·q − dmin·(sc >> 4) with q the level nearest to x in [0, 3]',
  pre: PRE,
  post: [['every value at its nearest level', ({ x }, bytes) => nearestLevelWithin(x, dequantize('Q2_K', bytes, x.length), 16, gridQ2(bytes))]],
});

const q3_kContract = defineContract<KQuantInput, Uint8Array>({
  id: 'quant-q3_k-v1',
  equation: 'q3_k_superblock',
  spec: 'per 16-value group: x̂ = d·sc·q with q the level nearest to x in [−4, 3] (sc a 6-bit scale less 32)',
  pre: PRE,
  post: [['every value at its nearest level', ({ x }, bytes) => nearestLevelWithin(x, dequantize('Q3_K', bytes, x.length), 16, gridQ3(bytes))]],
});

/** Q2_K super-blocks, byte for byte as ggml's quantize_q2_K (with `imatrix`: llama-quantize --imatrix). */
export function quantizeQ2_K(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  return q2_kContract.run({ x, ...(imatrix ? { imatrix } : {}) }, () => quantize('Q2_K', x, imatrix));
}

/** Q3_K super-blocks, byte for byte as ggml's quantize_q3_K (with `imatrix`: llama-quantize --imatrix). */
export function quantizeQ3_K(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  return q3_kContract.run({ x, ...(imatrix ? { imatrix } : {}) }, () => quantize('Q3_K', x, imatrix));
}

/**
 * ggml's Q5_0 / Q5_1 reference quantizers (codecs/quantize-legacy.ts, byte for byte as quantize_row_q5_0_ref
 * / _q5_1_ref) bound to their error-bound contracts. They are llama.cpp's fallbacks for Q4_K / Q5_K tensors
 * whose rows are not a multiple of 256.
 */
import { defineContract } from '../../contract/index.js';
import { dequantize, quantize } from '../codecs/index.js';
import { F16_MAX, type QuantInput, absMax, finiteWithin, halfAt, imatrixRows, onValues, wholeBlocks, withinBlockBound } from './checks.js';
import { affineWithin } from './legacy.js';
import { weightedWithin } from './weighted.js';

const QK = 32;

/** Q5_0: d = max/−16; |x − x̂| ≤ |d|/2 where x/d ≤ 15.5, ≤ |d| at the clamp; plus 16·|f16(d) − d| and slack. */
function q5_0Within(x: Float32Array, bytes: Uint8Array): boolean {
  const y = dequantize('Q5_0', bytes, x.length);
  return withinBlockBound(x, y, QK, (b) => {
    const d = absMax(x, b * QK, QK) / 16;
    return d * (1 + 4e-6) + 16 * Math.abs(Math.abs(halfAt(bytes, b * 22)) - d);
  });
}

const q5_0Contract = defineContract<QuantInput, Uint8Array>({
  id: 'quant-q5_0-v1',
  equation: 'q5_0_block',
  spec: 'd = max/−16, q = min(31, ⌊x/d + 16.5⌋), x̂ = (q − 16)·f16(d); |x − x̂| ≤ |d|/2 where x/d ≤ 15.5; with importance weights Σw(x − x̂)² ≤ Σw·d²',
  pre: [onValues(wholeBlocks(QK)), onValues(finiteWithin(F16_MAX * 16)), imatrixRows(QK)],
  post: [['per-element error bound (weighted bound with an imatrix)', ({ x, imatrix }, bytes) => (imatrix ? weightedWithin('Q5_0', x, imatrix, bytes) : q5_0Within(x, bytes))]],
});

const q5_1Contract = defineContract<QuantInput, Uint8Array>({
  id: 'quant-q5_1-v1',
  equation: 'q5_1_block',
  spec: 'd = (max − min)/31, q = ⌊(x − min)/d + 0.5⌋, x̂ = q·f16(d) + f16(min); |x − x̂| ≤ d/2 + f16 rounding terms; with importance weights Σw(x − x̂)² ≤ Σw·(d/2)²',
  pre: [onValues(wholeBlocks(QK)), onValues(finiteWithin(F16_MAX)), imatrixRows(QK)],
  post: [['per-element error bound (weighted bound with an imatrix)', ({ x, imatrix }, bytes) => (imatrix ? weightedWithin('Q5_1', x, imatrix, bytes) : affineWithin('Q5_1', x, bytes))]],
});

/** Q5_0 blocks, byte for byte as ggml's quantize_q5_0 (quantize_row_q5_0_impl with `imatrix`). */
export function quantizeQ5_0(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  return q5_0Contract.run({ x, ...(imatrix ? { imatrix } : {}) }, () => quantize('Q5_0', x, imatrix));
}

/** Q5_1 blocks, byte for byte as ggml's quantize_q5_1 (quantize_row_q5_1_impl with `imatrix`). */
export function quantizeQ5_1(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  return q5_1Contract.run({ x, ...(imatrix ? { imatrix } : {}) }, () => quantize('Q5_1', x, imatrix));
}

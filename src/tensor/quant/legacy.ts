/**
 * ggml's 32-value block quantizers Q8_0, Q4_0, Q4_1, each bound to its contract. The byte-exact emulations of
 * ggml's `quantize_row_*_ref` live in src/tensor/codecs (shared with the GGUF tests); this file adds the
 * contracts: whole blocks, a scale that fits f16, and the per-element error bound on the decoded result.
 */
import { defineContract } from '../../contract/index.js';
import { dequantize, quantize } from '../codecs/index.js';
import { F16_MAX, type QuantInput, absMax, finiteWithin, halfAt, imatrixRows, onValues, wholeBlocks, withinBlockBound } from './checks.js';
import { weightedWithin } from './weighted.js';

const QK = 32;

/** Q8_0: d = amax/127; |x − x̂| ≤ d/2 + 127·|f16(d) − d|, plus float32 slack 2e-5·d (contracts/quant-q8_0-v1.yaml). */
function q8_0Within(x: Float32Array, bytes: Uint8Array): boolean {
  const y = dequantize('Q8_0', bytes, x.length);
  return withinBlockBound(x, y, QK, (b) => {
    const d = absMax(x, b * QK, QK) / 127;
    return d * (0.5 + 2e-5) + 127 * Math.abs(halfAt(bytes, b * 34) - d);
  });
}

/** The signed value of largest magnitude in a block (ggml's `max`). */
function signedMax(x: Float32Array, from: number): number {
  let amax = 0, max = 0;
  for (let j = from; j < from + QK; j++) {
    const v = x[j] ?? 0;
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  return max;
}

/**
 * Q4_0: d = max/−8. Elements with x/d ≤ 7.5 are within |d|/2 of x̂; the clamp at 15 can cost up to |d| for
 * the values on the side of the extreme, so the block bound is |d| + 8·|f16(d) − d| + 4e-6·|d|.
 */
function q4_0Within(x: Float32Array, bytes: Uint8Array): boolean {
  const y = dequantize('Q4_0', bytes, x.length);
  return withinBlockBound(x, y, QK, (b) => {
    const d = Math.abs(signedMax(x, b * QK) / 8);
    return d * (1 + 4e-6) + 8 * Math.abs(Math.abs(halfAt(bytes, b * 18)) - d);
  });
}

function minMax(x: Float32Array, from: number): [number, number] {
  let min = Infinity, max = -Infinity;
  for (let j = from; j < from + QK; j++) {
    const v = x[j] ?? 0;
    min = Math.min(min, v);
    max = Math.max(max, v);
  }
  return [min, max];
}

/**
 * Q4_1 (and Q5_1 with levels = 31): d = (max − min)/levels, x̂ = q·f16(d) + f16(min), q the rounded level:
 * |x − x̂| ≤ d/2 + |f16(min) − min| + levels·|f16(d) − d|, plus float32 slack 1e-5·d.
 */
export function affineWithin(dtype: 'Q4_1' | 'Q5_1', x: Float32Array, bytes: Uint8Array): boolean {
  const levels = dtype === 'Q4_1' ? 15 : 31, stride = dtype === 'Q4_1' ? 20 : 24;
  const y = dequantize(dtype, bytes, x.length);
  return withinBlockBound(x, y, QK, (b) => {
    const [min, max] = minMax(x, b * QK);
    const d = (max - min) / levels;
    return d * (0.5 + 1e-5) + Math.abs(halfAt(bytes, b * stride + 2) - min) + levels * Math.abs(halfAt(bytes, b * stride) - d);
  });
}

const q8_0Contract = defineContract<Float32Array, Uint8Array>({
  id: 'quant-q8_0-v1',
  equation: 'q8_0_block',
  spec: 'd = amax/127, q = roundf(x/d), x̂ = q·f16(d); |x − x̂| ≤ d/2 + 127|f16(d) − d|',
  pre: [wholeBlocks(QK), finiteWithin(F16_MAX * 127)],
  post: [['per-element error bound', q8_0Within]],
});

const q4_0Contract = defineContract<QuantInput, Uint8Array>({
  id: 'quant-q4_0-v1',
  equation: 'q4_0_block',
  spec: 'd = max/−8, q = min(15, ⌊x/d + 8.5⌋), x̂ = (q − 8)·f16(d); |x − x̂| ≤ |d|/2 where x/d ≤ 7.5, ≤ |d| at the clamp; with importance weights Σw(x − x̂)² ≤ Σw·d²',
  pre: [onValues(wholeBlocks(QK)), onValues(finiteWithin(F16_MAX * 8)), imatrixRows(QK)],
  post: [['per-element error bound (weighted bound with an imatrix)', ({ x, imatrix }, bytes) => (imatrix ? weightedWithin('Q4_0', x, imatrix, bytes) : q4_0Within(x, bytes))]],
});

const q4_1Contract = defineContract<QuantInput, Uint8Array>({
  id: 'quant-q4_1-v1',
  equation: 'q4_1_block',
  spec: 'd = (max − min)/15, q = ⌊(x − min)/d + 0.5⌋, x̂ = q·f16(d) + f16(min); |x − x̂| ≤ d/2 + f16 rounding terms; with importance weights Σw(x − x̂)² ≤ Σw·(d/2)²',
  pre: [onValues(wholeBlocks(QK)), onValues(finiteWithin(F16_MAX)), imatrixRows(QK)],
  post: [['per-element error bound (weighted bound with an imatrix)', ({ x, imatrix }, bytes) => (imatrix ? weightedWithin('Q4_1', x, imatrix, bytes) : affineWithin('Q4_1', x, bytes))]],
});

/** Q8_0 blocks, byte for byte as ggml's quantize_row_q8_0_ref. */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  return q8_0Contract.run(x, () => quantize('Q8_0', x));
}

/** Q4_0 blocks, byte for byte as ggml's quantize_q4_0: the _ref quantizer, or quantize_row_q4_0_impl with `imatrix`. */
export function quantizeQ4_0(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  return q4_0Contract.run({ x, ...(imatrix ? { imatrix } : {}) }, () => quantize('Q4_0', x, imatrix));
}

/** Q4_1 blocks, byte for byte as ggml's quantize_q4_1 (quantize_row_q4_1_impl with `imatrix`). */
export function quantizeQ4_1(x: Float32Array, imatrix?: Float32Array): Uint8Array {
  return q4_1Contract.run({ x, ...(imatrix ? { imatrix } : {}) }, () => quantize('Q4_1', x, imatrix));
}

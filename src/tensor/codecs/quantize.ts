import type { DType } from '../dtype.js';
import { quantizeIQ4_NL, quantizeIQ4_XS } from './quantize-iq4.js';
import { quantizeQ4_K, quantizeQ5_K, quantizeQ6_K } from './quantize-kquants.js';
import { quantizeQ2_K, quantizeQ3_K } from './quantize-kquants-q23.js';
import { quantizeQ4_0, quantizeQ4_1, quantizeQ5_0, quantizeQ5_1, quantizeQ8_0 } from './quantize-legacy.js';

/**
 * Encodes float32 values (a whole number of blocks). `imatrix`, when given, is llama.cpp's importance matrix
 * entry for this tensor: one weight per column (its length is the row length and divides `x.length`), so
 * value i has importance imatrix[i mod imatrix.length]. A quantizer that has no importance-weighted variant
 * in ggml ignores it, as ggml does.
 */
export type Quantizer = (x: Float32Array, imatrix?: Float32Array) => Uint8Array;

const QUANTIZERS: Partial<Record<DType, Quantizer>> = {
  Q8_0: quantizeQ8_0,
  Q4_0: quantizeQ4_0,
  Q4_1: quantizeQ4_1,
  Q5_0: quantizeQ5_0,
  Q5_1: quantizeQ5_1,
  Q2_K: quantizeQ2_K,
  Q3_K: quantizeQ3_K,
  Q4_K: quantizeQ4_K,
  Q5_K: quantizeQ5_K,
  Q6_K: quantizeQ6_K,
  IQ4_NL: quantizeIQ4_NL,
  IQ4_XS: quantizeIQ4_XS,
};

/** Whether `quantize` can encode `dtype`. */
export function canQuantize(dtype: DType): boolean {
  return QUANTIZERS[dtype] !== undefined;
}

/**
 * Encodes float32 values (a whole number of blocks) in a ggml block type, byte for byte as ggml's quantizers:
 * without `imatrix` what llama-quantize writes with no importance matrix, with it what llama-quantize
 * --imatrix writes. Throws for an unsupported dtype or an imatrix whose length does not divide the values.
 */
export function quantize(dtype: DType, values: Float32Array, imatrix?: Float32Array): Uint8Array {
  const q = QUANTIZERS[dtype];
  if (!q) throw new Error(`no quantizer for dtype ${dtype}`);
  if (imatrix && (imatrix.length === 0 || values.length % imatrix.length !== 0)) {
    throw new RangeError(`imatrix of ${imatrix.length} values does not divide ${values.length} values into rows`);
  }
  return q(values, imatrix);
}

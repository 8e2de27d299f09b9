import type { DType } from '../dtype.js';
import { quantizeQ4_K, quantizeQ5_K, quantizeQ6_K } from './quantize-kquants.js';
import { quantizeQ4_0, quantizeQ4_1, quantizeQ8_0 } from './quantize-legacy.js';

const QUANTIZERS: Partial<Record<DType, (x: Float32Array) => Uint8Array>> = {
  Q8_0: quantizeQ8_0,
  Q4_0: quantizeQ4_0,
  Q4_1: quantizeQ4_1,
  Q4_K: quantizeQ4_K,
  Q5_K: quantizeQ5_K,
  Q6_K: quantizeQ6_K,
};

/** Whether `quantize` can encode `dtype`. */
export function canQuantize(dtype: DType): boolean {
  return QUANTIZERS[dtype] !== undefined;
}

/**
 * Encodes float32 values (a whole number of blocks) in a ggml block type, byte for byte as ggml's reference
 * quantizers (what llama-quantize writes with no importance matrix). Throws for an unsupported dtype.
 */
export function quantize(dtype: DType, values: Float32Array): Uint8Array {
  const q = QUANTIZERS[dtype];
  if (!q) throw new Error(`no quantizer for dtype ${dtype}`);
  return q(values);
}

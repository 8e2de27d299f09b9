import { dequantize } from '../../tensor/codecs/index.js';
import { elementCount } from '../../tensor/dtype.js';

/**
 * Gemma's RMSNorm computes x̂ · (1 + w). transformers stores w; llama.cpp's converter (GemmaModel,
 * Gemma2Model, Gemma3Model `modify_tensors`) stores 1 + w in GGUF. The bundle holds transformers' w, so a
 * GGUF reader subtracts 1 and a GGUF writer adds it back, as float32 values (the result is F32 whatever the
 * stored dtype: norm gains are small vectors). g − 1 is exact for stored g ≥ ½ (Sterbenz), so GGUF →
 * bundle → GGUF reproduces those bytes; a gain below ½ has more precision than float32 w = g − 1 can hold
 * and comes back within 2⁻²⁴ (as it would from transformers' own float32 w).
 */
export function shiftNormBytes(dtype: Parameters<typeof dequantize>[0], shape: readonly number[], bytes: Uint8Array, delta: 1 | -1): Uint8Array {
  const v = dequantize(dtype, bytes, elementCount(shape));
  for (let i = 0; i < v.length; i++) v[i] = (v[i] as number) + delta;
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

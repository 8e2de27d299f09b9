import { type DType, elementCount } from '../dtype.js';
import { bf16ToF32, f16ToF32 } from '../half.js';

/**
 * Decodes `count` elements of `dtype` from `bytes` into float32. Quantized block types decode exactly as
 * ggml's `dequantize_row_*` (bit for bit). Throws for a dtype with no decoder.
 */
export function dequantize(dtype: DType, bytes: Uint8Array, count: number, out: Float32Array = new Float32Array(count)): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32':
      if (bytes.byteOffset % 4 === 0) out.set(new Float32Array(bytes.buffer, bytes.byteOffset, count));
      else for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = f16ToF32(view.getUint16(i * 2, true));
      return out;
    case 'BF16':
      for (let i = 0; i < count; i++) out[i] = bf16ToF32(view.getUint16(i * 2, true));
      return out;
    default:
      throw new Error(`no decoder for dtype ${dtype}`);
  }
}

/** Convenience: a whole tensor's bytes to float32. */
export function toFloat32(dtype: DType, shape: readonly number[], bytes: Uint8Array): Float32Array {
  return dequantize(dtype, bytes, elementCount(shape));
}

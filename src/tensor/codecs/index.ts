import { type DType, elementCount } from '../dtype.js';
import { bf16ToF32 } from '../half.js';
import { blockCount, f16Table } from './f16-table.js';
import { dequantizeQ4_K, dequantizeQ5_K, dequantizeQ6_K } from './kquants.js';
import { dequantizeQ2_K, dequantizeQ3_K } from './kquants-q23.js';
import { dequantizeIQ1_M, dequantizeIQ1_S } from './iq1.js';
import { dequantizeIQ2_S, dequantizeIQ2_XS, dequantizeIQ2_XXS } from './iq2.js';
import { dequantizeIQ3_S, dequantizeIQ3_XXS } from './iq3.js';
import { dequantizeIQ4_NL, dequantizeIQ4_XS } from './iq4.js';
import { dequantizeTQ1_0, dequantizeTQ2_0 } from './ternary.js';
import { dequantizeQ4_0, dequantizeQ4_1, dequantizeQ5_0, dequantizeQ5_1, dequantizeQ8_0 } from './legacy.js';
import { dequantizeAprQ4, dequantizeAprQ8 } from '../quant/apr.js';
import { dequantizeNf4 } from '../quant/nf4.js';

export { canQuantize, quantize } from './quantize.js';

type BlockDecoder = (bytes: Uint8Array, count: number, out: Float32Array) => void;

const BLOCK_DECODERS: Partial<Record<DType, BlockDecoder>> = {
  Q4_0: dequantizeQ4_0,
  Q4_1: dequantizeQ4_1,
  Q5_0: dequantizeQ5_0,
  Q5_1: dequantizeQ5_1,
  Q8_0: dequantizeQ8_0,
  Q2_K: dequantizeQ2_K,
  Q3_K: dequantizeQ3_K,
  Q4_K: dequantizeQ4_K,
  Q5_K: dequantizeQ5_K,
  Q6_K: dequantizeQ6_K,
  IQ2_XXS: dequantizeIQ2_XXS,
  IQ2_XS: dequantizeIQ2_XS,
  IQ2_S: dequantizeIQ2_S,
  IQ3_XXS: dequantizeIQ3_XXS,
  IQ3_S: dequantizeIQ3_S,
  IQ1_S: dequantizeIQ1_S,
  IQ1_M: dequantizeIQ1_M,
  IQ4_NL: dequantizeIQ4_NL,
  IQ4_XS: dequantizeIQ4_XS,
  TQ1_0: dequantizeTQ1_0,
  TQ2_0: dequantizeTQ2_0,
  NF4: dequantizeNf4,
  APR_Q4: dequantizeAprQ4,
  APR_Q8: dequantizeAprQ8,
};

/** Whether `dequantize` can decode `dtype`. */
export function canDequantize(dtype: DType): boolean {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16' || BLOCK_DECODERS[dtype] !== undefined;
}

/**
 * Decodes `count` elements of `dtype` from `bytes` into float32. Quantized block types decode exactly as
 * ggml's `dequantize_row_*` (bit for bit). Throws for a dtype with no decoder.
 */
export function dequantize(dtype: DType, bytes: Uint8Array, count: number, out: Float32Array = new Float32Array(count)): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32':
      // checked here: the aligned path's view of the whole buffer would read past the end of `bytes`
      blockCount('F32', bytes, count, 1, 4);
      if (bytes.byteOffset % 4 === 0) out.set(new Float32Array(bytes.buffer, bytes.byteOffset, count));
      else for (let i = 0; i < count; i++) out[i] = view.getFloat32(i * 4, true);
      return out;
    case 'F16': {
      blockCount('F16', bytes, count, 1, 2);
      const table = f16Table();
      for (let i = 0; i < count; i++) out[i] = table[view.getUint16(i * 2, true)] ?? 0;
      return out;
    }
    case 'BF16':
      blockCount('BF16', bytes, count, 1, 2);
      for (let i = 0; i < count; i++) out[i] = bf16ToF32(view.getUint16(i * 2, true));
      return out;
    default: {
      const decode = BLOCK_DECODERS[dtype];
      if (!decode) throw new Error(`no decoder for dtype ${dtype}`);
      decode(bytes, count, out);
      return out;
    }
  }
}

/** Convenience: a whole tensor's bytes to float32. */
export function toFloat32(dtype: DType, shape: readonly number[], bytes: Uint8Array): Float32Array {
  return dequantize(dtype, bytes, elementCount(shape));
}

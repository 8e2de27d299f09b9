/**
 * Float32 values → any dtype the project can write, and back. Every encoder is bound to a contract
 * (contracts/quant-*.yaml); ggml types are byte-identical to llama-quantize, without an importance matrix and
 * with one (`imatrix`: one weight per column of a row; the types ggml quantizes without weights ignore it).
 */
import { canDequantize, dequantize } from '../codecs/index.js';
import type { DType } from '../dtype.js';
import { dequantizeAprQ4, dequantizeAprQ8, quantizeAprQ4, quantizeAprQ8 } from './apr.js';
import { encodeBf16, encodeF16 } from './float.js';
import { quantizeIQ4_NL, quantizeIQ4_XS } from './iq4.js';
import { quantizeQ4_K, quantizeQ5_K, quantizeQ6_K } from './kquants.js';
import { quantizeQ2_K, quantizeQ3_K } from './kquants-q23.js';
import { quantizeQ4_0, quantizeQ4_1, quantizeQ8_0 } from './legacy.js';
import { quantizeQ5_0, quantizeQ5_1 } from './legacy5.js';
import { dequantizeNf4, quantizeNf4 } from './nf4.js';

type Encoder = (x: Float32Array, imatrix?: Float32Array) => Uint8Array;
type Decoder = (bytes: Uint8Array, count: number, out?: Float32Array) => Float32Array;

function encodeF32(x: Float32Array): Uint8Array {
  const out = new Uint8Array(x.length * 4);
  new Float32Array(out.buffer).set(x);
  return out;
}

const ENCODERS: Partial<Record<DType, Encoder>> = {
  F32: encodeF32,
  F16: encodeF16,
  BF16: encodeBf16,
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
  NF4: quantizeNf4,
  APR_Q8: quantizeAprQ8,
  APR_Q4: quantizeAprQ4,
};

/** Decoders for the dtypes that src/tensor/codecs does not decode (ours and aprender's). */
const EXTRA_DECODERS: Partial<Record<DType, Decoder>> = { NF4: dequantizeNf4, APR_Q8: dequantizeAprQ8, APR_Q4: dequantizeAprQ4 };

export function canEncode(dtype: DType): boolean {
  return ENCODERS[dtype] !== undefined;
}

export function canDecode(dtype: DType): boolean {
  return EXTRA_DECODERS[dtype] !== undefined || canDequantize(dtype);
}

/**
 * Float32 values (a whole number of blocks of `dtype`) to `dtype` bytes, importance-weighted by `imatrix`
 * (llama-quantize --imatrix) where ggml's quantizer for `dtype` uses one. Throws for a dtype with no encoder.
 */
export function encode(dtype: DType, values: Float32Array, imatrix?: Float32Array): Uint8Array {
  const e = ENCODERS[dtype];
  if (!e) throw new Error(`no encoder for dtype ${dtype}`);
  return imatrix ? e(values, imatrix) : e(values);
}

/**
 * `count` values of `dtype` to float32: src/tensor/codecs' `dequantize` plus NF4, APR_Q8 and APR_Q4. F32 bytes
 * are viewed in place (copied once when unaligned) unless `out` is given.
 */
export function decode(dtype: DType, bytes: Uint8Array, count: number, out?: Float32Array): Float32Array {
  if (dtype === 'F32' && !out && bytes.byteLength >= count * 4) {
    const b = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice(0, count * 4);
    return new Float32Array(b.buffer, b.byteOffset, count);
  }
  const d = EXTRA_DECODERS[dtype];
  const into = out ?? new Float32Array(count);
  return d ? d(bytes, count, into) : dequantize(dtype, bytes, count, into);
}

export { NF4_CODEBOOK } from './nf4.js';

import { dequantize } from '../../tensor/codecs/index.js';
import { type DType, elementCount } from '../../tensor/dtype.js';
import { f32ToBf16, f32ToF16 } from '../../tensor/half.js';
import type { TensorRef } from '../../tensor/store.js';

export type FloatDType = 'F32' | 'F16' | 'BF16';

/** `--dtype f32|f16|bf16` to a DType. */
export function floatDType(name: string | undefined): FloatDType | undefined {
  if (name === undefined) return undefined;
  const d = ({ f32: 'F32', f16: 'F16', bf16: 'BF16' } as const)[name.toLowerCase() as 'f32' | 'f16' | 'bf16'];
  if (!d) throw new Error(`dtype must be f32, f16 or bf16, got '${name}'`);
  return d;
}

/** The dtype a computed tensor is written in: the requested one, else the source's if it is a float type, else F32. */
export function outputDType(source: DType, requested: FloatDType | undefined): FloatDType {
  if (requested) return requested;
  return source === 'F16' || source === 'BF16' ? source : 'F32';
}

/** A tensor as float32, dequantized per tensor; an aligned F32 tensor is viewed, not copied (never mutate it). */
export function readFloats(t: TensorRef): Float32Array {
  const bytes = t.read();
  const n = elementCount(t.shape);
  if (t.dtype === 'F32' && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, n);
  return dequantize(t.dtype, bytes, n);
}

/** Encodes float32 values as F32 (a view), F16 or BF16 (round to nearest even). */
function encodeFloats(values: Float32Array, dtype: FloatDType): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint16Array(values.length);
  const conv = dtype === 'F16' ? f32ToF16 : f32ToBf16;
  for (let i = 0; i < values.length; i++) out[i] = conv(values[i] as number);
  return new Uint8Array(out.buffer);
}

/** A lazy tensor whose bytes are computed on read (so a writer streams one computed tensor at a time). */
export function computedRef(name: string, dtype: FloatDType, shape: readonly number[], compute: () => Float32Array): TensorRef {
  const bytesPer = dtype === 'F32' ? 4 : 2;
  return { name, dtype, shape: [...shape], byteLength: elementCount(shape) * bytesPer, read: () => encodeFloats(compute(), dtype) };
}

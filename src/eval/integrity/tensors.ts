import { decoderTensorShapes, layerTensorShapes } from '../../tensor/arch.js';
import type { ArchConfig } from '../../tensor/bundle.js';
import { canDequantize, dequantize } from '../../tensor/codecs/index.js';
import { DTYPES, type DType, elementCount, tensorHeaderBytes } from '../../tensor/dtype.js';
import type { TensorRef, TensorStore } from '../../tensor/store.js';

/** The tensors the decoder of `c`'s architecture reads, with their canonical shapes (src/tensor/arch.ts). */
export function expectedTensors(c: ArchConfig): Map<string, number[]> {
  return decoderTensorShapes(c);
}

/** Per-layer attention tensors (relative to `self_attn.`) and their shapes under the GQA config. */
export function attentionShapes(c: ArchConfig): [string, number[]][] {
  return layerTensorShapes(c)
    .filter(([n]) => n.startsWith('self_attn.'))
    .map(([n, s]) => [n.slice('self_attn.'.length), s]);
}

const fmtShape = (s: readonly number[]): string => `[${s.join(', ')}]`;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Checks one expected tensor's presence and shape; returns the ref when both hold. */
export function checkShape(store: TensorStore, name: string, shape: readonly number[], fail: (m: string) => void, why = ''): TensorRef | undefined {
  const t = store.get(name);
  if (!t) {
    fail(`${name}: missing tensor`);
    return undefined;
  }
  if (!sameShape(t.shape, shape)) {
    fail(`${name}: shape ${fmtShape(t.shape)}, expected ${fmtShape(shape)}${why}`);
    return undefined;
  }
  return t;
}

/** Elements per chunk when a tensor is decoded piecewise (memory stays at the tensor's bytes + one chunk). */
const CHUNK_ELEMENTS = 1 << 20;

/**
 * Decodes `ref` to float32 in chunks of whole blocks and calls `visit(values, firstIndex)` for each chunk.
 * Throws for a dtype with no decoder.
 */
export function forEachChunk(ref: TensorRef, visit: (values: Float32Array, first: number) => void, bytes: Uint8Array = ref.read()): void {
  if (!canDequantize(ref.dtype)) throw new Error(`${ref.name}: no decoder for ${ref.dtype}`);
  const { blockSize, blockBytes } = DTYPES[ref.dtype];
  const total = elementCount(ref.shape);
  // A per-tensor header (APR_Q8's scale) cannot be split into block-aligned chunks: decode it whole.
  if (tensorHeaderBytes(ref.dtype) > 0) {
    visit(dequantize(ref.dtype, bytes, total), 0);
    return;
  }
  const step = Math.max(blockSize, Math.floor(CHUNK_ELEMENTS / blockSize) * blockSize);
  const buf = new Float32Array(Math.min(step, total));
  for (let first = 0; first < total; first += step) {
    const n = Math.min(step, total - first);
    const begin = (first / blockSize) * blockBytes;
    const part = bytes.subarray(begin, begin + (n / blockSize) * blockBytes);
    visit(dequantize(ref.dtype, part, n, n === buf.length ? buf : buf.subarray(0, n)), first);
  }
}

/** The whole tensor as float32 (for the small tensors: norms, one embedding). */
export function readFloats(ref: TensorRef): Float32Array {
  const out = new Float32Array(elementCount(ref.shape));
  forEachChunk(ref, (v, first) => out.set(v, first));
  return out;
}

/** Byte offsets of the f16 scale fields inside one block of each ggml block type. */
const SCALE_FIELDS: Partial<Record<DType, readonly (readonly [number, string])[]>> = {
  Q4_0: [[0, 'd']],
  Q4_1: [[0, 'd'], [2, 'm']],
  Q5_0: [[0, 'd']],
  Q5_1: [[0, 'd'], [2, 'm']],
  Q8_0: [[0, 'd']],
  Q2_K: [[80, 'd'], [82, 'dmin']],
  Q3_K: [[108, 'd']],
  Q4_K: [[0, 'd'], [2, 'dmin']],
  Q5_K: [[0, 'd'], [2, 'dmin']],
  Q6_K: [[208, 'd']],
  IQ2_XXS: [[0, 'd']],
  IQ2_XS: [[0, 'd']],
  IQ2_S: [[0, 'd']],
  IQ3_XXS: [[0, 'd']],
  IQ3_S: [[0, 'd']],
  IQ1_S: [[0, 'd']],
  IQ4_NL: [[0, 'd']],
  IQ4_XS: [[0, 'd']],
  TQ1_0: [[52, 'd']],
  TQ2_0: [[64, 'd']],
};

export function hasScaleFields(dtype: DType): boolean {
  return SCALE_FIELDS[dtype] !== undefined;
}

export interface ScaleFault {
  block: number;
  field: string;
  value: 'NaN' | 'Inf';
}

/** Quantized blocks whose f16 scale is NaN or ±Inf, read from the block bytes directly (exponent bits all ones). */
export function badBlockScales(dtype: DType, bytes: Uint8Array, limit = 8): { faults: ScaleFault[]; count: number } {
  const fields = SCALE_FIELDS[dtype];
  const faults: ScaleFault[] = [];
  let count = 0;
  if (!fields) return { faults, count };
  const { blockBytes } = DTYPES[dtype];
  const blocks = Math.floor(bytes.byteLength / blockBytes);
  for (let b = 0; b < blocks; b++) {
    for (const [at, field] of fields) {
      const o = b * blockBytes + at;
      const h = (bytes[o] as number) | ((bytes[o + 1] as number) << 8);
      if ((h & 0x7c00) !== 0x7c00) continue;
      count++;
      if (faults.length < limit) faults.push({ block: b, field, value: (h & 0x3ff) === 0 ? 'Inf' : 'NaN' });
    }
  }
  return { faults, count };
}

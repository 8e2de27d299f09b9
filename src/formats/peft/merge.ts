import type { ModelBundle } from '../../tensor/bundle.js';
import { toFloat32 } from '../../tensor/codecs/index.js';
import { type DType, elementCount } from '../../tensor/dtype.js';
import { f32ToBf16, f32ToF16 } from '../../tensor/half.js';
import type { TensorRef, TensorStore } from '../../tensor/store.js';
import { FormatError } from '../errors.js';
import { pathLabel } from '../provenance.js';
import type { PeftAdapter } from './adapter.js';
import type { LoraModule } from './modules.js';

function floats(t: TensorRef): Float32Array {
  return toFloat32(t.dtype, t.shape, t.read());
}

/** Merged weights keep a float base dtype; a quantized base comes out as F32 (re-quantizing is an op's job). */
function outDtype(d: DType): DType {
  return d === 'F16' || d === 'BF16' ? d : 'F32';
}

function encode(values: Float32Array, dtype: DType): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint16Array(values.length);
  const conv = dtype === 'F16' ? f32ToF16 : f32ToBf16;
  // Stryker disable next-line EqualityOperator: the extra index values.length is past the end of the typed array, so the write is ignored.
  for (let i = 0; i < values.length; i++) out[i] = conv(values[i] ?? 0);
  return new Uint8Array(out.buffer);
}

/**
 * W + scale·(B·A) for W [out, in] (or its transpose, `transposed`, for fan_in_fan_out and embeddings).
 * Each dot product accumulates in float64 and is rounded once to float32.
 */
function addLowRank(w: Float32Array, a: Float32Array, b: Float32Array, dims: { out: number; inn: number; r: number }, scale: number, transposed: boolean): Float32Array {
  const { out, inn, r } = dims;
  const res = new Float32Array(w.length);
  const acc = new Float64Array(inn);
  for (let o = 0; o < out; o++) {
    acc.fill(0);
    for (let k = 0; k < r; k++) {
      const c = b[o * r + k] ?? 0;
      const row = k * inn;
      // Stryker disable next-line EqualityOperator: the extra index inn is past the end of the Float64Array acc, so the write is ignored.
      for (let i = 0; i < inn; i++) acc[i] = (acc[i] ?? 0) + c * (a[row + i] ?? 0);
    }
    // Stryker disable next-line EqualityOperator: the extra index lands on the next row's first element (rewritten by the next pass) or past the end (ignored).
    for (let i = 0; i < inn; i++) {
      const at = transposed ? i * out + o : o * inn + i;
      res[at] = (w[at] ?? 0) + scale * (acc[i] ?? 0);
    }
  }
  return res;
}

/** DoRA: each output row of W + ΔW rescaled to the learned magnitude (PEFT's `dora_factor`). */
function applyDora(v: Float32Array, m: Float32Array, out: number, inn: number): void {
  // Stryker disable next-line EqualityOperator: an extra row o = out only writes past the end of v, which is ignored.
  for (let o = 0; o < out; o++) {
    let ss = 0;
    for (let i = 0; i < inn; i++) ss += (v[o * inn + i] ?? 0) ** 2;
    const f = (m[o] ?? 0) / Math.sqrt(ss);
    for (let i = 0; i < inn; i++) v[o * inn + i] = (v[o * inn + i] ?? 0) * f;
  }
}

function lazy(name: string, dtype: DType, shape: readonly number[], compute: () => Float32Array): TensorRef {
  const bytesPer = dtype === 'F32' ? 4 : 2;
  return { name, dtype, shape, byteLength: elementCount(shape) * bytesPer, read: () => encode(compute(), dtype) };
}

function baseRef(base: TensorStore, adapterPath: string, name: string, module: string): TensorRef {
  const t = base.get(name);
  if (!t) throw new FormatError(adapterPath, module, `the base model has no tensor ${name}`);
  return t;
}

function mergedWeight(base: TensorStore, path: string, m: LoraModule, fanInFanOut: boolean): TensorRef {
  const w = baseRef(base, path, `${m.module}.weight`, m.module);
  const out = m.b.shape[0] ?? 0;
  const inn = m.a.shape[1] ?? 0;
  const transposed = m.kind === 'embedding' || fanInFanOut;
  const expected = transposed ? [inn, out] : [out, inn];
  if (w.shape.length !== 2 || w.shape[0] !== expected[0] || w.shape[1] !== expected[1]) {
    throw new FormatError(path, m.module, `LoRA factors give ${JSON.stringify(expected)} but the base ${w.name} is ${JSON.stringify(w.shape)}`);
  }
  if (m.magnitude && transposed) throw new FormatError(path, m.module, 'DoRA is merged only for linear layers without fan_in_fan_out');
  const magnitude = m.magnitude;
  return lazy(w.name, outDtype(w.dtype), w.shape, () => {
    const v = addLowRank(floats(w), floats(m.a), floats(m.b), { out, inn, r: m.r }, m.scale, transposed);
    if (magnitude) applyDora(v, floats(magnitude), out, inn);
    return v;
  });
}

function mergedBias(base: TensorStore, path: string, m: LoraModule, biasB: TensorRef): TensorRef {
  const bias = baseRef(base, path, `${m.module}.bias`, m.module);
  if (bias.shape.length !== 1 || bias.shape[0] !== biasB.shape[0]) throw new FormatError(path, biasB.name, `shape ${JSON.stringify(biasB.shape)} does not match the base ${bias.name}`);
  return lazy(bias.name, outDtype(bias.dtype), bias.shape, () => {
    const b0 = floats(bias);
    const db = floats(biasB);
    return b0.map((x, i) => x + m.scale * (db[i] ?? 0));
  });
}

function replacement(base: TensorStore, path: string, name: string, t: TensorRef): TensorRef {
  const b = baseRef(base, path, name, t.name);
  if (b.shape.length !== t.shape.length || b.shape.some((d, i) => d !== t.shape[i])) {
    throw new FormatError(path, `${t.name}.shape`, `${JSON.stringify(t.shape)} does not match the base ${name} ${JSON.stringify(b.shape)}`);
  }
  return { ...t, name, read: () => t.read() };
}

/**
 * The base model with the adapter merged, lazily: reading a targeted weight W returns W + s·B·A
 * (s = alpha/r, or alpha/√r with rsLoRA; DoRA rescales rows to the magnitude vector), computed in float32
 * with float64 dot products; bias/modules_to_save tensors saved in the adapter replace the base ones.
 * Closing the result's store closes the base store and the adapter.
 */
export function mergeLora(base: ModelBundle, adapter: PeftAdapter): ModelBundle {
  const merged = new Map<string, TensorRef>();
  const { modules, replacements } = adapter.layout;
  for (const [name, t] of replacements) merged.set(name, replacement(base.tensors, adapter.path, name, t));
  for (const m of modules) {
    const w = mergedWeight(base.tensors, adapter.path, m, adapter.config.fan_in_fan_out);
    merged.set(w.name, w);
    if (m.biasB) merged.set(`${m.module}.bias`, mergedBias(base.tensors, adapter.path, m, m.biasB));
  }
  const tensors: TensorStore = {
    names: () => base.tensors.names(),
    get: (n) => merged.get(n) ?? base.tensors.get(n),
    close: () => {
      base.tensors.close();
      adapter.tensors.close();
    },
  };
  // the adapter's folder name, not its path: the output names no path of the machine that wrote it
  return { ...base, tensors, metadata: { ...base.metadata, merged_peft_adapter: pathLabel(adapter.path) } };
}

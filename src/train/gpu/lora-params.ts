import type { GpuBuf, GpuWeight, WebGpuBackend } from '../../kernels/webgpu/backend.js';
import { bufferIds } from '../../kernels/webgpu/encoder.js';
import type { AdapterModule } from '../model/lora.js';
import { LINEAR_MODULES, type LinearModule } from '../model/params.js';

/**
 * Every LoRA factor of the run in one flat device buffer (and its gradient, first and second moments in
 * three more of the same layout), so AdamW and the gradient norm are one dispatch each. Each factor starts
 * at a multiple of 64 floats, the 256-byte offset WebGPU requires to bind a range of a buffer.
 */

const ALIGN_FLOATS = 64;

export interface LoraSlot {
  readonly module: LinearModule;
  readonly layer: number;
  readonly r: number;
  readonly scale: number;
  /** A [r, in] and B [out, r] as weights over the parameter buffer; their gradients as views of the gradient buffer. */
  readonly a: GpuWeight;
  readonly b: GpuWeight;
  readonly aGrad: GpuBuf;
  readonly bGrad: GpuBuf;
}

export interface LoraSet {
  readonly params: GpuBuf;
  readonly grads: GpuBuf;
  readonly m: GpuBuf;
  readonly v: GpuBuf;
  /** Floats in each of the four buffers (with the alignment gaps, which stay 0). */
  readonly length: number;
  /** slot of (layer, module), if adapted. */
  slot(layer: number, m: LinearModule): LoraSlot | undefined;
}

function aligned(n: number): number {
  return Math.ceil(n / ALIGN_FLOATS) * ALIGN_FLOATS;
}

function moduleOf(path: string): { layer: number; module: LinearModule } {
  const m = /^model\.layers\.(\d+)\.(?:self_attn|mlp)\.(\w+)$/.exec(path);
  const module = LINEAR_MODULES.find((x) => x === m?.[2]);
  if (!m || module === undefined) throw new Error(`lora: unexpected module path '${path}'`);
  return { layer: Number(m[1]), module };
}

function view(buf: GpuBuf, offset: number, length: number): GpuBuf {
  return { buffer: buf.buffer, length, id: bufferIds.next(), view: { offset: offset * 4, size: length * 4 } };
}

function weightView(buf: GpuBuf, offset: number, rows: number, cols: number): GpuWeight {
  return { buffer: buf.buffer, dtype: 'F32', rows, cols, id: bufferIds.next(), view: { offset: offset * 4, size: rows * cols * 4 } };
}

/**
 * Where each tensor sits in the flat image: tensor i at offsets[i], a multiple of 64 floats; the tensors are
 * the modules' A and B in parameter order (A₀, B₀, A₁, …), so the AdamW moments share the layout.
 */
export interface FlatLayout {
  readonly offsets: readonly number[];
  readonly length: number;
}

export function flatLayout(tensors: readonly Float32Array[]): FlatLayout {
  const offsets: number[] = [];
  let at = 0;
  for (const t of tensors) {
    offsets.push(at);
    at += aligned(t.length);
  }
  return { offsets, length: Math.max(at, ALIGN_FLOATS) };
}

/** The flat image of `tensors` (zeros in the alignment gaps). */
export function toFlat(layout: FlatLayout, tensors: readonly Float32Array[]): Float32Array {
  const data = new Float32Array(layout.length);
  tensors.forEach((t, i) => data.set(t, layout.offsets[i] ?? 0));
  return data;
}

/** Copies a flat image back into `tensors`. */
export function fromFlat(layout: FlatLayout, flat: Float32Array, tensors: readonly Float32Array[]): void {
  tensors.forEach((t, i) => {
    const o = layout.offsets[i] ?? 0;
    t.set(flat.subarray(o, o + t.length));
  });
}

/** Uploads the factors of `modules` (their current values), zero gradients and moments. */
export function uploadLora(be: WebGpuBackend, modules: readonly AdapterModule[], scale: number): LoraSet {
  const tensors = modules.flatMap((m) => [m.a.data, m.b.data]);
  const layout = flatLayout(tensors);
  const data = toFlat(layout, tensors);
  const params = be.upload(data);
  const grads = be.alloc(data.length);
  const slots = new Map<string, LoraSlot>();
  modules.forEach((mod, i) => {
    const o = { a: layout.offsets[2 * i] ?? 0, b: layout.offsets[2 * i + 1] ?? 0 };
    const [r, inn] = mod.a.shape as [number, number];
    const out = mod.b.shape[0] as number;
    const { layer, module } = moduleOf(mod.module);
    slots.set(`${layer}:${module}`, {
      module, layer, r, scale,
      a: weightView(params, o.a, r, inn), b: weightView(params, o.b, out, r),
      aGrad: view(grads, o.a, r * inn), bGrad: view(grads, o.b, out * r),
    });
  });
  return {
    params, grads, m: be.alloc(data.length), v: be.alloc(data.length), length: data.length,
    slot: (layer, m) => slots.get(`${layer}:${m}`),
  };
}

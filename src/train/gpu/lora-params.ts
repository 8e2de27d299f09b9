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
  /** Float offset of each module's A and B in the host order of `modules`. */
  readonly offsets: readonly { readonly a: number; readonly b: number }[];
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

/** The flat host image of `modules` (A then B of each, aligned) and the offsets. */
export function flattenModules(modules: readonly AdapterModule[]): { data: Float32Array; offsets: { a: number; b: number }[] } {
  const offsets: { a: number; b: number }[] = [];
  let at = 0;
  for (const m of modules) {
    const a = at;
    at += aligned(m.a.data.length);
    offsets.push({ a, b: at });
    at += aligned(m.b.data.length);
  }
  const data = new Float32Array(Math.max(at, ALIGN_FLOATS));
  modules.forEach((m, i) => {
    const o = offsets[i] as { a: number; b: number };
    data.set(m.a.data, o.a);
    data.set(m.b.data, o.b);
  });
  return { data, offsets };
}

/** Uploads the factors of `modules` (their current values), zero gradients and moments. */
export function uploadLora(be: WebGpuBackend, modules: readonly AdapterModule[], scale: number): LoraSet {
  const { data, offsets } = flattenModules(modules);
  const params = be.upload(data);
  const grads = be.alloc(data.length);
  const slots = new Map<string, LoraSlot>();
  modules.forEach((mod, i) => {
    const o = offsets[i] as { a: number; b: number };
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
    params, grads, m: be.alloc(data.length), v: be.alloc(data.length), length: data.length, offsets,
    slot: (layer, m) => slots.get(`${layer}:${m}`),
  };
}

/** Copies a flat image (as flattenModules lays it out) back into the modules' host arrays. */
export function unflattenInto(modules: readonly AdapterModule[], offsets: readonly { a: number; b: number }[], flat: Float32Array, pick: (m: AdapterModule) => [Float32Array, Float32Array]): void {
  modules.forEach((m, i) => {
    const o = offsets[i] as { a: number; b: number };
    const [a, b] = pick(m);
    a.set(flat.subarray(o.a, o.a + a.length));
    b.set(flat.subarray(o.b, o.b + b.length));
  });
}

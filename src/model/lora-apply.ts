/**
 * LoRA adapters applied unmerged, as llama.cpp's `--lora A.gguf[:scale]` applies them (build_lora_mm):
 * y = W·x + Σ_i s_i·(α_i/r_i)·B_i·(A_i·x), the base weights untouched (they may stay quantized).
 *
 * `withUnmergedLoras` hands the factors to the weight loader through the bundle's tensor store: for every
 * adapted module m it adds `m.lora_A.weight` = [A_1; A_2; …] ([Σr_i, in]) and `m.lora_B.weight` =
 * [c_1·B_1, c_2·B_2, …] ([out, Σr_i], c_i = s_i·α_i/r_i), so that B·(A·x) = Σ_i c_i·B_i·(A_i·x) is one pair
 * of products whatever the number of adapters. The loader (weights.ts) picks them up with `loadLoraPair` and
 * the layer code (layers.ts) adds the update with `addLoraDelta`.
 */
import { FormatError } from '../formats/errors.js';
import type { PeftAdapter } from '../formats/peft/adapter.js';
import type { LoraModule } from '../formats/peft/modules.js';
import type { Backend } from '../kernels/types.js';
import type { ModelBundle } from '../tensor/bundle.js';
import { toFloat32 } from '../tensor/codecs/index.js';
import type { TensorRef, TensorStore } from '../tensor/store.js';

/** An adapter and the user's scale for it (llama.cpp's `--lora-scaled FILE SCALE`; 1 for `--lora FILE`). */
export interface UnmergedAdapter {
  adapter: PeftAdapter;
  scale: number;
}

/** The stacked factors of one module, prepared by the backend. */
export interface LoraPair<W> {
  readonly a: W;
  readonly b: W;
  readonly rank: number;
}

const A_SUFFIX = '.lora_A.weight';
const B_SUFFIX = '.lora_B.weight';

interface Part {
  m: LoraModule;
  c: number;
}

function checkModule(base: ModelBundle, path: string, m: LoraModule): void {
  const why = (what: string): never => {
    throw new FormatError(path, m.module, `${what} cannot be applied unmerged; merge the adapter instead (apr finetune <base> --adapter <adapter> --merge)`);
  };
  if (m.kind !== 'linear') why('an embedding LoRA');
  if (m.magnitude) why('DoRA');
  if (m.biasB) why('a lora_B bias');
  if (m.module === 'lm_head') why('a LoRA on lm_head');
  const w = base.tensors.get(`${m.module}.weight`);
  const out = m.b.shape[0] ?? 0;
  const inn = m.a.shape[1] ?? 0;
  if (!w) throw new FormatError(path, m.module, `the base model has no tensor ${m.module}.weight`);
  if (w.shape.length !== 2 || w.shape[0] !== out || w.shape[1] !== inn) {
    throw new FormatError(path, m.module, `LoRA factors give [${out}, ${inn}] but the base ${w.name} is [${w.shape.join(', ')}]`);
  }
}

function floats(t: TensorRef): Float32Array {
  return toFloat32(t.dtype, t.shape, t.read());
}

function stacked(module: string, parts: readonly Part[]): TensorRef[] {
  const rank = parts.reduce((n, p) => n + p.m.r, 0);
  const inn = parts[0]?.m.a.shape[1] ?? 0;
  const out = parts[0]?.m.b.shape[0] ?? 0;
  let cache: { a: Float32Array; b: Float32Array } | undefined;
  const build = (): { a: Float32Array; b: Float32Array } => {
    if (cache) return cache;
    const a = new Float32Array(rank * inn);
    const b = new Float32Array(out * rank);
    let k0 = 0;
    for (const { m, c } of parts) {
      a.set(floats(m.a), k0 * inn);
      const bi = floats(m.b);
      for (let o = 0; o < out; o++) for (let k = 0; k < m.r; k++) b[o * rank + k0 + k] = c * (bi[o * m.r + k] ?? 0);
      k0 += m.r;
    }
    cache = { a, b };
    return cache;
  };
  const bytes = (v: Float32Array): Uint8Array => new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  return [
    { name: `${module}${A_SUFFIX}`, dtype: 'F32', shape: [rank, inn], byteLength: rank * inn * 4, read: () => bytes(build().a) },
    { name: `${module}${B_SUFFIX}`, dtype: 'F32', shape: [out, rank], byteLength: out * rank * 4, read: () => bytes(build().b) },
  ];
}

function collect(base: ModelBundle, adapters: readonly UnmergedAdapter[]): Map<string, Part[]> {
  const byModule = new Map<string, Part[]>();
  for (const { adapter, scale } of adapters) {
    if (!Number.isFinite(scale)) throw new FormatError(adapter.path, 'scale', `must be a finite number, got ${scale}`);
    const [replaced] = adapter.layout.replacements.keys();
    if (replaced !== undefined) throw new FormatError(adapter.path, replaced, 'a full replacement tensor cannot be applied unmerged; merge the adapter instead');
    for (const m of adapter.layout.modules) {
      checkModule(base, adapter.path, m);
      const parts = byModule.get(m.module) ?? [];
      parts.push({ m, c: scale * m.scale });
      byModule.set(m.module, parts);
    }
  }
  return byModule;
}

/**
 * The base bundle with the adapters' stacked factors added to its tensor store (see the file comment).
 * Scales are PEFT's per-module alpha/r (α/√r with rsLoRA) times the user scale. Closing the result's store
 * closes the base and every adapter.
 */
export function withUnmergedLoras(base: ModelBundle, adapters: readonly UnmergedAdapter[]): ModelBundle {
  const extra = new Map<string, TensorRef>();
  for (const [module, parts] of collect(base, adapters)) {
    for (const t of stacked(module, parts)) {
      if (base.tensors.get(t.name)) throw new FormatError(base.source.path, t.name, 'the base model already has a tensor of this name');
      extra.set(t.name, t);
    }
  }
  const names = [...base.tensors.names(), ...extra.keys()];
  const tensors: TensorStore = {
    names: () => names,
    get: (n) => extra.get(n) ?? base.tensors.get(n),
    close: () => {
      base.tensors.close();
      for (const { adapter } of adapters) adapter.tensors.close();
    },
  };
  return { ...base, tensors };
}

/** The stacked factors of the linear `prefix` ([rows, cols]) from the store, prepared by the backend; undefined if none. */
export function loadLoraPair<B, W>(be: Backend<B, W>, tensors: TensorStore, prefix: string, rows: number, cols: number): LoraPair<W> | undefined {
  const a = tensors.get(`${prefix}${A_SUFFIX}`);
  const b = tensors.get(`${prefix}${B_SUFFIX}`);
  if (a === undefined && b === undefined) return undefined;
  if (a === undefined || b === undefined) throw new FormatError(prefix, a === undefined ? A_SUFFIX.slice(1) : B_SUFFIX.slice(1), 'missing (LoRA factors come in pairs)');
  const rank = a.shape[0] ?? 0;
  if (a.shape.length !== 2 || a.shape[1] !== cols || b.shape.length !== 2 || b.shape[0] !== rows || b.shape[1] !== rank) {
    throw new FormatError(prefix, 'lora', `factors [${a.shape.join(', ')}] and [${b.shape.join(', ')}] do not fit a [${rows}, ${cols}] weight`);
  }
  return {
    a: be.prepareWeight({ dtype: 'F32', rows: rank, cols, data: floats(a) }),
    b: be.prepareWeight({ dtype: 'F32', rows, cols: rank, data: floats(b) }),
    rank,
  };
}

/** out[t] += B·(A·x[t]) for the n rows of x ([n, cols]) into out ([n, rows]). */
export function addLoraDelta<B, W>(be: Backend<B, W>, lora: LoraPair<W>, x: B, n: number, rows: number, out: B): void {
  const ax = be.alloc(n * lora.rank);
  const delta = be.alloc(n * rows);
  be.matmul(lora.a, x, n, ax);
  be.matmul(lora.b, ax, n, delta);
  be.add(out, delta, n * rows, out);
  be.release?.(ax);
  be.release?.(delta);
}

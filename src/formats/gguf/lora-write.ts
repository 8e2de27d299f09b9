/**
 * PEFT LoRA adapter → llama.cpp LoRA GGUF, as convert_lora_to_gguf.py (default `--outtype f32`) writes it:
 * tensors in the order of the adapter's sorted PEFT names (norm replacements first, then for each module
 * `<gguf tensor>.lora_a`, `.lora_b`), every factor as F32, llama's Q/K RoPE permutation applied to lora_b's
 * rows, token_embd's lora_a transposed; keys general.architecture, general.type = adapter,
 * adapter.type = lora, the general.* naming keys of gguf-py's Metadata, adapter.lora.alpha,
 * general.quantization_version. What GGUF cannot express (DoRA, rsLoRA, per-module alpha, lora_B bias,
 * fan_in_fan_out, modules_to_save) is refused rather than written wrongly.
 */
import { basename, resolve } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { toFloat32 } from '../../tensor/codecs/index.js';
import { elementCount } from '../../tensor/dtype.js';
import type { TensorRef } from '../../tensor/store.js';
import { FormatError } from '../errors.js';
import type { PeftAdapter } from '../peft/adapter.js';
import { PEFT_PREFIX, type LoraModule } from '../peft/modules.js';
import type { LoraBaseConfig } from './lora.js';
import { adapterGeneralKv, readModelCard } from './lora-meta.js';
import { ggufNameFromHf, permuteRopeRows, ropePermutationHeads } from './names.js';
import type { GgufValue } from './types.js';
import { type GgufTensorInput, writeGguf } from './write.js';

export interface WriteGgufLoraOptions {
  /** Architecture and head counts of the base model (convert_lora_to_gguf.py's `--base`). */
  base: LoraBaseConfig;
  /** The name the general.* keys derive from (default: the adapter folder's name). */
  folderName?: string;
  /** Model-card front matter (default: the adapter folder's README.md, if any). */
  card?: Record<string, unknown>;
}

function refuse(adapter: PeftAdapter): void {
  const c = adapter.config;
  const why = (field: string, what: string): never => {
    throw new FormatError(adapter.path, field, `${what}; a llama.cpp LoRA GGUF cannot express it`);
  };
  if (c.use_dora) why('use_dora', 'DoRA rescales rows by a magnitude vector');
  if (c.use_rslora) why('use_rslora', 'rsLoRA scales by alpha/√r, llama.cpp by alpha/r');
  if (c.fan_in_fan_out) why('fan_in_fan_out', 'the factors are stored transposed');
  for (const [k, v] of Object.entries(c.alpha_pattern ?? {})) if (v !== c.lora_alpha) why(`alpha_pattern.${k}`, `alpha ${v} differs from lora_alpha ${c.lora_alpha} (GGUF has one alpha)`);
  for (const m of adapter.layout.modules) if (m.biasB) why(m.biasB.name, 'a lora_B bias');
  for (const name of adapter.layout.replacements.keys()) {
    if (!name.includes('_layernorm') && !name.includes('.norm')) why(`${PEFT_PREFIX}${name}`, 'a full tensor (modules_to_save) is not a LoRA factor');
  }
}

function ggufName(path: string, hfName: string): string {
  const g = ggufNameFromHf(hfName);
  if (g === undefined) throw new FormatError(path, hfName, 'has no llama.cpp tensor name');
  return g;
}

function f32Bytes(t: TensorRef): Uint8Array {
  const v = toFloat32(t.dtype, t.shape, t.read());
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** Row-major float32 [rows, cols] → [cols, rows]. */
function transposeF32(bytes: Uint8Array, rows: number, cols: number): Uint8Array {
  const src = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const out = new Float32Array(src.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[j * rows + i] = src[i * cols + j] ?? 0;
  return new Uint8Array(out.buffer);
}

function moduleTensors(path: string, m: LoraModule, base: LoraBaseConfig): GgufTensorInput[] {
  const target = ggufName(path, `${m.module}.weight`);
  const [r, inn] = m.a.shape as [number, number];
  const out = m.b.shape[0] ?? 0;
  if (m.kind === 'embedding') {
    // convert_lora_to_gguf.py: token_embd's lora_a is A transposed ([n_vocab, r]), lora_b as is
    return [
      { name: `${target}.lora_a`, ggmlType: 'F32', dims: [r, inn], read: () => transposeF32(f32Bytes(m.a), r, inn) },
      { name: `${target}.lora_b`, ggmlType: 'F32', dims: [r, out], read: () => f32Bytes(m.b) },
    ];
  }
  const heads = base.architecture === 'llama' ? ropePermutationHeads(`${m.module}.weight`, base.num_heads, base.num_kv_heads) : undefined;
  const readB = heads === undefined ? () => f32Bytes(m.b) : () => permuteRopeRows(f32Bytes(m.b), out, heads, 'hf-to-gguf');
  return [
    { name: `${target}.lora_a`, ggmlType: 'F32', dims: [inn, r], read: () => f32Bytes(m.a) },
    { name: `${target}.lora_b`, ggmlType: 'F32', dims: [r, out], read: readB },
  ];
}

/** The adapter's tensors in convert_lora_to_gguf.py's order and form. */
function ggufLoraTensors(adapter: PeftAdapter, base: LoraBaseConfig): GgufTensorInput[] {
  refuse(adapter);
  const names = [...adapter.tensors.names()].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  const moduleOf = new Map<string, LoraModule>();
  for (const m of adapter.layout.modules) {
    for (const t of [m.a, m.b]) moduleOf.set(t.name, m);
  }
  const norms: GgufTensorInput[] = [];
  const pairs: GgufTensorInput[] = [];
  const seen = new Set<LoraModule>();
  for (const name of names) {
    const m = moduleOf.get(name);
    if (m !== undefined) {
      if (!seen.has(m)) pairs.push(...moduleTensors(adapter.path, m, base));
      seen.add(m);
      continue;
    }
    const t = adapter.tensors.get(name);
    if (t === undefined || !name.startsWith(PEFT_PREFIX)) continue;
    norms.push({ name: ggufName(adapter.path, name.slice(PEFT_PREFIX.length)), ggmlType: 'F32', dims: [...t.shape].reverse(), read: () => f32Bytes(t) });
  }
  return [...norms, ...pairs];
}

/** gguf-py's parameter count of an adapter: −(Σ out·in over the pairs + norm sizes). */
function adapterParams(tensors: readonly GgufTensorInput[]): number {
  let total = 0;
  let lastA: GgufTensorInput | undefined;
  for (const t of tensors) {
    if (t.name.endsWith('.lora_a')) {
      lastA = t;
      continue;
    }
    const size = t.name.endsWith('.lora_b') ? elementCount(t.dims.slice(1)) * (lastA?.dims[0] ?? 0) : elementCount(t.dims);
    total += size;
  }
  return lastA === undefined ? total : -total;
}

function folderOf(path: string): string | undefined {
  return existsSync(path) && statSync(path).isDirectory() ? path : undefined;
}

/** Every KV pair, in convert_lora_to_gguf.py's order. */
function ggufLoraKv(adapter: PeftAdapter, tensors: readonly GgufTensorInput[], opts: WriteGgufLoraOptions): Map<string, GgufValue> {
  const dir = folderOf(adapter.path);
  const card = opts.card ?? (dir === undefined ? {} : readModelCard(dir));
  const folder = opts.folderName ?? basename(resolve(adapter.path));
  const kv = new Map<string, GgufValue>([
    ['general.architecture', { type: 'string', value: opts.base.architecture }],
    ['general.type', { type: 'string', value: 'adapter' }],
    ['adapter.type', { type: 'string', value: 'lora' }],
  ]);
  for (const [k, v] of adapterGeneralKv(folder, card, adapterParams(tensors))) kv.set(k, v);
  kv.set('adapter.lora.alpha', { type: 'f32', value: Math.fround(adapter.config.lora_alpha) });
  kv.set('general.quantization_version', { type: 'u32', value: 2 });
  return kv;
}

/** Writes `adapter` as a llama.cpp LoRA GGUF (atomically, tensor by tensor). */
export function writeGgufLora(path: string, adapter: PeftAdapter, opts: WriteGgufLoraOptions): void {
  const tensors = ggufLoraTensors(adapter, opts.base);
  writeGguf(path, ggufLoraKv(adapter, tensors, opts), tensors);
}

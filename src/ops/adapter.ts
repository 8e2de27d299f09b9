/**
 * LoRA adapters as files: `apr inspect` of an adapter, conversion between a PEFT folder and a llama.cpp LoRA
 * GGUF (`apr export` / `apr import`), and a base model with adapters applied unmerged (`apr run --lora`).
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { defineContract } from '../contract/index.js';
import { FormatError } from '../formats/errors.js';
import { ggufValueToJson } from '../formats/gguf/json-values.js';
import { type GgufLora, type LoraBaseConfig, ggufLoraAsPeft, openGgufLora } from '../formats/gguf/lora.js';
import { modelCardFromKv } from '../formats/gguf/lora-meta.js';
import { writeGgufLora } from '../formats/gguf/lora-write.js';
import { openModel } from '../formats/open.js';
import { type PeftAdapter, readPeftAdapter, writePeftAdapter } from '../formats/peft/adapter.js';
import { type AdapterFormat, adapterFormat, openLoraAdapter } from '../formats/peft/open.js';
import { type UnmergedAdapter, withUnmergedLoras } from '../model/lora-apply.js';
import type { ModelBundle } from '../tensor/bundle.js';
import { toFloat32 } from '../tensor/codecs/index.js';
import { elementCount } from '../tensor/dtype.js';
import type { TensorRef } from '../tensor/store.js';
import type { TensorSummary } from './inspect.js';

export interface AdapterModuleSummary {
  module: string;
  r: number;
  alpha: number;
  /** alpha/r (PEFT: alpha/√r with rsLoRA; GGUF with alpha 0: 1). */
  scale: number;
}

export interface AdapterInspectResult {
  path: string;
  format: AdapterFormat;
  kind: 'lora-adapter';
  /** general.architecture of a GGUF adapter; null for PEFT (the folder does not say). */
  architecture: string | null;
  /** Rank, alpha and scale of the first module; `ranks` lists every rank present. */
  rank: number;
  alpha: number;
  scale: number;
  ranks: number[];
  targets: string[];
  modules: number;
  parameters: number;
  tensor_count: number;
  dtypes: Record<string, number>;
  file_bytes: number;
  /** GGUF: every KV pair; PEFT: adapter_config.json. */
  metadata: Record<string, unknown>;
  module_list?: AdapterModuleSummary[];
  tensors?: TensorSummary[];
}

export interface ConvertAdapterOptions {
  input: string;
  output: string;
  /** peft | gguf; default: gguf for an output ending in .gguf, else peft. */
  format?: string;
  /** The base model (any format): architecture and head counts for llama's Q/K factors. */
  base?: string;
}

export interface ConvertAdapterResult {
  input: string;
  output: string;
  format: AdapterFormat;
  from: AdapterFormat;
  modules: number;
  tensors: number;
  parameters: number;
  bytes: number;
}

/** An adapter for `applyAdapters`: a PEFT folder or a LoRA GGUF, and llama.cpp's user scale. */
export interface AdapterSpec {
  path: string;
  scale: number;
}

function pathBytes(path: string): number {
  const st = statSync(path);
  return st.isDirectory() ? readdirSync(path).reduce((sum, n) => sum + statSync(join(path, n)).size, 0) : st.size;
}

function summarize(tensors: readonly TensorSummary[], withTensors: boolean): Pick<AdapterInspectResult, 'parameters' | 'tensor_count' | 'dtypes' | 'tensors'> {
  const dtypes: Record<string, number> = {};
  for (const t of tensors) dtypes[t.dtype] = (dtypes[t.dtype] ?? 0) + 1;
  return { parameters: tensors.reduce((a, t) => a + t.parameters, 0), tensor_count: tensors.length, dtypes, ...(withTensors ? { tensors: [...tensors] } : {}) };
}

function moduleFacts(modules: AdapterModuleSummary[]): Pick<AdapterInspectResult, 'rank' | 'alpha' | 'scale' | 'ranks' | 'targets' | 'modules'> {
  const first = modules[0];
  return {
    rank: first?.r ?? 0, alpha: first?.alpha ?? 0, scale: first?.scale ?? 0,
    ranks: [...new Set(modules.map((m) => m.r))].sort((a, b) => a - b),
    targets: [...new Set(modules.map((m) => m.module.split('.').at(-1) ?? m.module))].sort(),
    modules: modules.length,
  };
}

function inspectGguf(path: string, withTensors: boolean): AdapterInspectResult {
  const lora: GgufLora = openGgufLora(path);
  try {
    const modules = lora.pairs.map((p) => ({ module: p.module, r: p.r, alpha: lora.alpha === 0 ? p.r : lora.alpha, scale: lora.alpha === 0 ? 1 : lora.alpha / p.r }));
    const tensors = lora.file.tensors.map((t) => {
      const shape = [...t.dims].reverse();
      return { name: t.name, dtype: t.ggmlType, shape, parameters: elementCount(shape), bytes: t.byteLength };
    });
    const metadata = Object.fromEntries([...lora.file.kv].map(([k, v]) => [k, ggufValueToJson(v)]));
    return {
      path, format: 'gguf', kind: 'lora-adapter', architecture: lora.architecture, ...moduleFacts(modules),
      ...summarize(tensors, withTensors), file_bytes: pathBytes(path), metadata, ...(withTensors ? { module_list: modules } : {}),
    };
  } finally {
    lora.file.close();
  }
}

function inspectPeft(path: string, withTensors: boolean): AdapterInspectResult {
  const adapter = readPeftAdapter(path);
  try {
    const modules = adapter.layout.modules.map((m) => ({ module: m.module, r: m.r, alpha: m.alpha, scale: m.scale }));
    const tensors = adapter.tensors.names().map((name) => {
      const t = adapter.tensors.get(name);
      const shape = [...(t?.shape ?? [])];
      return { name, dtype: t?.dtype ?? '?', shape, parameters: elementCount(shape), bytes: t?.byteLength ?? 0 };
    });
    return {
      path, format: 'peft', kind: 'lora-adapter', architecture: null, ...moduleFacts(modules),
      ...summarize(tensors, withTensors), file_bytes: pathBytes(path), metadata: { ...adapter.config }, ...(withTensors ? { module_list: modules } : {}),
    };
  } finally {
    adapter.tensors.close();
  }
}

export const inspectAdapterContract = defineContract<{ path: string }, AdapterInspectResult>({
  id: 'op-adapter-v1',
  equation: 'inspect_adapter',
  spec: 'scale_m = α/r_m for every module m (GGUF: α = adapter.lora.alpha, r = lora_b ne[0]); parameters = Σ_t ∏ shape(t)',
  pre: [['an adapter', ({ path }) => adapterFormat(path) !== undefined]],
  post: [
    ['every rank listed', (_i, r) => r.ranks.includes(r.rank) || r.modules === 0],
    ['dtype histogram sums to tensor_count', (_i, r) => Object.values(r.dtypes).reduce((a, b) => a + b, 0) === r.tensor_count],
  ],
});

/** `apr inspect` of a LoRA adapter (PEFT folder or llama.cpp GGUF): rank, alpha, targets, tensors. */
export function inspectAdapter(path: string, withTensors = false): AdapterInspectResult {
  return inspectAdapterContract.run({ path }, () => (adapterFormat(path) === 'gguf' ? inspectGguf(path, withTensors) : inspectPeft(path, withTensors)));
}

function baseConfig(base: string | undefined): LoraBaseConfig | undefined {
  if (base === undefined) return undefined;
  const b = openModel(base);
  b.tensors.close();
  return b.config;
}

/** Factors in a dtype safetensors holds (F32/F16/BF16) as they are; any other (Q8_0 GGUF factors) as F32. */
function safetensorsRefs(adapter: PeftAdapter): TensorRef[] {
  return adapter.tensors.names().flatMap((n) => {
    const t = adapter.tensors.get(n);
    if (t === undefined) return [];
    if (t.dtype === 'F32' || t.dtype === 'F16' || t.dtype === 'BF16') return [t];
    return [{ ...t, dtype: 'F32' as const, byteLength: elementCount(t.shape) * 4, read: () => new Uint8Array(toFloat32(t.dtype, t.shape, t.read()).buffer) }];
  });
}

function ggufToPeft(o: ConvertAdapterOptions, base: LoraBaseConfig | undefined): PeftAdapter {
  const lora = openGgufLora(o.input);
  try {
    const adapter = ggufLoraAsPeft(lora, base);
    const baseName = o.base !== undefined && statSync(o.base).isDirectory() ? basename(resolve(o.base)) : null;
    const config = { ...adapter.config, base_model_name_or_path: adapter.config.base_model_name_or_path ?? baseName };
    writePeftAdapter(o.output, config, safetensorsRefs(adapter), { readme: modelCardFromKv(lora.file.kv) });
    return adapter;
  } catch (err) {
    lora.file.close();
    throw err;
  }
}

function peftToGguf(o: ConvertAdapterOptions, base: LoraBaseConfig | undefined): PeftAdapter {
  if (base === undefined) throw new FormatError(o.input, '--base', "a GGUF adapter needs the base model (its architecture, and the head counts of llama's Q/K rows)");
  const adapter = readPeftAdapter(o.input);
  try {
    writeGgufLora(o.output, adapter, { base });
    return adapter;
  } catch (err) {
    adapter.tensors.close();
    throw err;
  }
}

function outputFormat(o: ConvertAdapterOptions): AdapterFormat {
  const f = o.format ?? (o.output.endsWith('.gguf') ? 'gguf' : 'peft');
  if (f !== 'gguf' && f !== 'peft') throw new FormatError(o.output, '--format', `an adapter converts to peft or gguf, not '${f}'`);
  return f;
}

export const convertAdapterContract = defineContract<ConvertAdapterOptions, ConvertAdapterResult>({
  id: 'op-adapter-v1',
  equation: 'convert_adapter',
  spec: 'GGUF lora_a = PEFT lora_A, GGUF lora_b = P_rope(PEFT lora_B) (llama q/k; identity otherwise), adapter.lora.alpha = lora_alpha; GGUF → PEFT → GGUF is the identity on tensors',
  pre: [
    ['input is an adapter', (o) => adapterFormat(o.input) !== undefined],
    ['output is not the input', (o) => resolve(o.input) !== resolve(o.output)],
  ],
  post: [['output is an adapter of the asked format', (_o, r) => adapterFormat(r.output) === r.format]],
});

/** `apr export|import <adapter> -o <out> [--base <model>]`: PEFT folder ↔ llama.cpp LoRA GGUF. */
export function convertAdapter(o: ConvertAdapterOptions): ConvertAdapterResult {
  return convertAdapterContract.run(o, () => {
    const from = adapterFormat(o.input) ?? 'peft';
    const format = outputFormat(o);
    if (format === from) throw new FormatError(o.output, '--format', `the input is already a ${from} adapter`);
    if (o.base !== undefined && !existsSync(o.base)) throw new FormatError(o.base, '--base', 'no such file or directory');
    const base = baseConfig(o.base);
    const adapter = from === 'gguf' ? ggufToPeft(o, base) : peftToGguf(o, base);
    try {
      const names = adapter.tensors.names();
      const parameters = names.reduce((n, t) => n + elementCount(adapter.tensors.get(t)?.shape ?? []), 0);
      return { input: o.input, output: o.output, format, from, modules: adapter.layout.modules.length, tensors: names.length, parameters, bytes: pathBytes(o.output) };
    } finally {
      adapter.tensors.close();
    }
  });
}

export const applyAdaptersContract = defineContract<{ base: ModelBundle; specs: readonly AdapterSpec[] }, ModelBundle>({
  id: 'op-adapter-v1',
  equation: 'apply_unmerged',
  spec: 'y = W·x + Σ_i s_i·(α_i/r_i)·B_i·(A_i·x) for every adapted linear; W unchanged',
  pre: [
    ['at least one adapter', ({ specs }) => specs.length > 0],
    ['finite scales', ({ specs }) => specs.every((s) => Number.isFinite(s.scale))],
  ],
  post: [['base tensors kept', ({ base }, r) => base.tensors.names().every((n) => r.tensors.get(n) === base.tensors.get(n))]],
});

/**
 * The base model with LoRA adapters (PEFT folders or llama.cpp GGUFs) applied unmerged, as llama.cpp's
 * `--lora`. Closing the result's tensors closes the base and the adapters.
 */
export function applyAdapters(base: ModelBundle, specs: readonly AdapterSpec[]): ModelBundle {
  return applyAdaptersContract.run({ base, specs }, () => {
    const opened: UnmergedAdapter[] = [];
    try {
      for (const s of specs) opened.push({ adapter: openLoraAdapter(s.path, base.config), scale: s.scale });
      return withUnmergedLoras(base, opened);
    } catch (err) {
      for (const u of opened) u.adapter.tensors.close();
      throw err;
    }
  });
}

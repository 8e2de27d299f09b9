import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineContract } from '../contract/index.js';
import { FormatError } from '../formats/errors.js';
import { type OutputFormat, openModel, outputFormatFor, writeModel } from '../formats/open.js';
import { pathLabel, provenanceEntry } from '../formats/provenance.js';
import { sourceDigest } from '../formats/source-digest.js';
import type { ModelBundle } from '../tensor/bundle.js';
import { elementCount } from '../tensor/dtype.js';
import { checkMergeable } from '../train/merge/compat.js';
import { type MergeConfig, type Setting, readMergeConfig } from '../train/merge/config.js';
import { type FloatDType, floatDType } from '../train/merge/floats.js';
import type { MergeMethod } from '../train/merge/method.js';
import { type PlannedModel, mergedStore } from '../train/merge/plan.js';
import { MERGE_METHOD_NAMES, mergeMethod } from '../train/merge/registry.js';
import { TOOL_VERSION } from './version.js';

export interface MergeOptions {
  /** Models to merge (APR, GGUF, SafeTensors, HF folders); may be empty when `config` lists them. */
  models: string[];
  output: string;
  /** mergekit `merge_method` name (linear, slerp, task_arithmetic, ties, dare_ties, dare_linear, breadcrumbs, model_stock, della). */
  strategy?: string;
  /** The base model (default: the first model); its tokenizer, chat template, config and metadata are kept. */
  baseModel?: string;
  /** Per-model weights, in the order of `models`. */
  weights?: number[];
  density?: number;
  /** DARE drop rate p (density = 1 − p). */
  dropRate?: number;
  lambda?: number;
  /** slerp t: one value, or a gradient over the layers. */
  t?: number[];
  epsilon?: number;
  gamma?: number;
  normalize?: boolean;
  rescale?: boolean;
  seed?: number;
  /** A mergekit-shaped YAML file; options given here override its global parameters. */
  config?: string;
  dtype?: string;
  /** apr | gguf | safetensors (default from the output path). */
  format?: string;
  onTensor?: (done: number, total: number, name: string) => void;
}

export interface MergeResult {
  output: string;
  format: OutputFormat;
  strategy: string;
  base: string;
  models: string[];
  tensors: number;
  parameters: number;
  bytes: number;
  seed: number;
  /** Largest resident set size sampled before, during (after every tensor) and after the merge. */
  peak_rss_bytes: number;
  /** The largest output tensor as float32, the unit of streaming. */
  largest_tensor_f32_bytes: number;
  seconds: number;
  input_digests: string[];
}

function samePath(a: string, b: string): boolean {
  if (!existsSync(a) || !existsSync(b)) return resolve(a) === resolve(b);
  return realpathSync(a) === realpathSync(b);
}

export const mergeContract = defineContract<MergeOptions, MergeResult>({
  id: 'merge-v1',
  equation: 'merge',
  spec: 'merge(M_1..M_n; method, θ) = M′ with tensors(M′)_t = method_θ(t)(M_1,t .. M_n,t) for every tensor t, config and tokenizer of the base',
  pre: [
    ['a model or a config', ({ models, config }) => models.length > 0 || config !== undefined],
    ['output is not an input', ({ models, baseModel, output }) => ![...models, ...(baseModel ? [baseModel] : [])].some((m) => samePath(m, output))],
  ],
  post: [
    ['every base tensor written', ({ output }, r) => {
      const written = openModel(output);
      try {
        return written.tensors.names().length === r.tensors;
      } finally {
        written.tensors.close();
      }
    }],
  ],
});

function optionError(field: string, message: string): FormatError {
  return new FormatError('apr merge', field, message);
}

/** Global parameters: the config's, overridden by explicit options. */
function globalParameters(opts: MergeOptions, config: MergeConfig | undefined): Record<string, Setting> {
  const p: Record<string, Setting> = { ...(config?.parameters ?? {}) };
  if (opts.density !== undefined && opts.dropRate !== undefined) throw optionError('--drop-rate', 'give --density or --drop-rate, not both');
  if (opts.density !== undefined) p['density'] = opts.density;
  if (opts.dropRate !== undefined) p['density'] = 1 - opts.dropRate;
  if (opts.lambda !== undefined) p['lambda'] = opts.lambda;
  if (opts.t !== undefined) p['t'] = opts.t.length === 1 ? (opts.t[0] as number) : opts.t;
  if (opts.epsilon !== undefined) p['epsilon'] = opts.epsilon;
  if (opts.gamma !== undefined) p['gamma'] = opts.gamma;
  if (opts.normalize !== undefined) p['normalize'] = opts.normalize;
  if (opts.rescale !== undefined) p['rescale'] = opts.rescale;
  return p;
}

interface Listed {
  path: string;
  parameters: Record<string, Setting>;
}

function listedModels(opts: MergeOptions, config: MergeConfig | undefined): Listed[] {
  const listed: Listed[] = [...(config?.models ?? []).map((m) => ({ path: m.model, parameters: { ...m.parameters } })), ...opts.models.map((path) => ({ path, parameters: {} }))];
  if (listed.length === 0) throw optionError('models', 'no models to merge');
  if (opts.weights) {
    if (opts.weights.length !== listed.length) throw optionError('--weights', `${opts.weights.length} weights for ${listed.length} models`);
    listed.forEach((m, i) => (m.parameters['weight'] = opts.weights?.[i] as number));
  }
  return listed;
}

interface Opened {
  base: PlannedModel;
  inputs: PlannedModel[];
  all: PlannedModel[];
}

function openAll(listed: readonly Listed[], basePath: string, task: boolean): Opened {
  const all: PlannedModel[] = [];
  const open = (path: string, parameters: Record<string, Setting>): PlannedModel => {
    const m = { path, bundle: openModel(path), parameters };
    all.push(m);
    return m;
  };
  try {
    const baseListed = listed.find((m) => samePath(m.path, basePath));
    const base = open(basePath, baseListed?.parameters ?? {});
    const inputs = listed.filter((m) => !(task && samePath(m.path, basePath))).map((m) => (samePath(m.path, basePath) ? base : open(m.path, m.parameters)));
    return { base, inputs, all };
  } catch (err) {
    for (const m of all) m.bundle.tensors.close();
    throw err;
  }
}

function resolveMethod(opts: MergeOptions, config: MergeConfig | undefined): MergeMethod {
  const strategy = opts.strategy ?? config?.mergeMethod;
  if (strategy === undefined) throw optionError('--strategy', `give a merge method (${MERGE_METHOD_NAMES.join(', ')})`);
  const method = mergeMethod(strategy);
  if (!method) throw optionError('--strategy', `unknown merge method '${strategy}' (expected ${MERGE_METHOD_NAMES.join(', ')})`);
  return method;
}

function checkInputCount(method: MergeMethod, count: number): void {
  if (count >= method.minInputs && count <= method.maxInputs) return;
  const range = method.maxInputs === Infinity ? `at least ${method.minInputs}` : method.minInputs === 0 ? `at most ${method.maxInputs}` : `${method.minInputs} to ${method.maxInputs}`;
  throw optionError('models', `${method.name} merges ${range} model(s)${method.inputs === 'task' ? ' besides the base' : ''}, got ${count}`);
}

function outputDtype(opts: MergeOptions, config: MergeConfig | undefined): FloatDType | undefined {
  const name = opts.dtype ?? config?.dtype;
  if (name !== undefined && !['f32', 'f16', 'bf16'].includes(name)) throw optionError('--dtype', `expected f32, f16 or bf16, got '${name}'`);
  return floatDType(name);
}

function sizes(bundle: ModelBundle): { parameters: number; largest: number } {
  let parameters = 0;
  let largest = 0;
  for (const n of bundle.tensors.names()) {
    const c = elementCount(bundle.tensors.get(n)?.shape ?? []);
    parameters += c;
    largest = Math.max(largest, c * 4);
  }
  return { parameters, largest };
}

/** Peak RSS, sampled on demand. */
class RssPeak {
  value = process.memoryUsage.rss();
  sample(): void {
    this.value = Math.max(this.value, process.memoryUsage.rss());
  }
}

function runMerge(opts: MergeOptions): MergeResult {
  const t0 = performance.now();
  const peak = new RssPeak();
  const config = opts.config !== undefined ? readMergeConfig(opts.config) : undefined;
  const method = resolveMethod(opts, config);
  const listed = listedModels(opts, config);
  const { base, inputs, all } = openAll(listed, opts.baseModel ?? config?.baseModel ?? (listed[0] as Listed).path, method.inputs === 'task');
  const seed = opts.seed ?? 0;
  try {
    checkInputCount(method, inputs.length);
    checkMergeable(base, all.filter((m) => m !== base));
    const format = outputFormatFor(opts.output, opts.format);
    const dtype = outputDtype(opts, config);
    const parameters = globalParameters(opts, config);
    const total = base.bundle.tensors.names().length;
    let done = 0;
    const onTensor = (name: string): void => {
      peak.sample();
      opts.onTensor?.(++done, total, name);
    };
    const tensors = mergedStore({ method, base, inputs, parameters, seed, ...(dtype ? { dtype } : {}), onTensor });
    const inputDigests = all.map((m) => sourceDigest(m.path));
    // The base's logits fingerprint describes other weights; `apr import` records one for the new model.
    const { golden: _stale, ...metadata } = base.bundle.metadata;
    const bundle: ModelBundle = { ...base.bundle, metadata, tensors, source: { path: opts.output, format: 'memory' } };
    const options = { strategy: method.name, base: pathLabel(base.path), models: inputs.map((m) => pathLabel(m.path)), seed, ...(dtype ? { dtype } : {}), parameters };
    const provenance = provenanceEntry({ op: 'merge', options, inputDigests, toolVersion: TOOL_VERSION });
    const bytes = writeModel(bundle, opts.output, format, provenance);
    peak.sample();
    const { parameters: count, largest } = sizes(base.bundle);
    return {
      output: opts.output, format, strategy: method.name, base: base.path, models: inputs.map((m) => m.path), tensors: total, parameters: count, bytes, seed,
      peak_rss_bytes: peak.value, largest_tensor_f32_bytes: largest, seconds: (performance.now() - t0) / 1000, input_digests: inputDigests,
    };
  } finally {
    for (const m of all) m.bundle.tensors.close();
  }
}

/** `apr merge`: mergekit-class merging, streaming one tensor of each input at a time, written atomically. */
export function mergeModels(opts: MergeOptions): MergeResult {
  return mergeContract.run(opts, () => runMerge(opts));
}

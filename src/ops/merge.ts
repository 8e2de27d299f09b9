import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineContract } from '../contract/index.js';
import { type OutputFormat, openModel, outputFormatFor, writeModel } from '../formats/open.js';
import { pathLabel, provenanceEntry } from '../formats/provenance.js';
import { sourceDigest } from '../formats/source-digest.js';
import type { ModelBundle } from '../tensor/bundle.js';
import { elementCount } from '../tensor/dtype.js';
import { type AssembledMerge, assembleMerge } from '../train/merge/assemble.js';
import { type MergeConfig, MergeConfigError, type Setting, readMergeConfig } from '../train/merge/config.js';
import { type FloatDType, floatDType } from '../train/merge/floats.js';
import type { MergeMethod } from '../train/merge/method.js';
import { MERGE_METHOD_NAMES, mergeMethod } from '../train/merge/registry.js';
import { TOOL_VERSION } from './version.js';

export interface MergeOptions {
  /** Models to merge (APR, GGUF, SafeTensors, HF folders); may be empty when `config` lists them. */
  models: string[];
  output: string;
  /** mergekit `merge_method` name (linear, slerp, task_arithmetic, ties, passthrough, ...: registry.ts). */
  strategy?: string;
  /** The base model (default: the first model); its config and metadata are kept, and its tokenizer unless the config merges vocabularies. */
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
  /**
   * A mergekit YAML file (models or slices, merge_method, base_model, parameters with gradients and filters,
   * dtype/out_dtype, tokenizer_source or tokenizer, chat_template); options given here override its
   * top-level parameters.
   */
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
  /** Transformer layers of the output (the slices' layer ranges, concatenated). */
  layers: number;
  /** Embedding rows of the output (the merged vocabulary when the config merges tokenizers). */
  vocab_size: number;
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
  spec: 'merge(slices; method, θ) = M′ with M′_t = method_θ(t)(inputs of t in its output slice) for every output tensor t, θ sampled at t’s position in its slice; config of the base',
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

function optionError(field: string, message: string): MergeConfigError {
  return new MergeConfigError('apr merge', field, message);
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

/** `models:` of the config followed by the command line's models; undefined when the config has slices. */
function listedModels(opts: MergeOptions, config: MergeConfig | undefined): Listed[] | undefined {
  if (config?.slices) {
    if (opts.models.length > 0) throw optionError('models', `${config.path} lists slices: give the models there, not on the command line`);
    if (opts.weights) throw optionError('--weights', `${config.path} lists slices: give weights as slice source parameters`);
    return undefined;
  }
  const listed: Listed[] = [...(config?.models ?? []).map((m) => ({ path: m.model, parameters: { ...m.parameters } })), ...opts.models.map((path) => ({ path, parameters: {} }))];
  if (listed.length === 0) throw optionError('models', 'no models to merge');
  if (opts.weights) {
    if (opts.weights.length !== listed.length) throw optionError('--weights', `${opts.weights.length} weights for ${listed.length} models`);
    listed.forEach((m, i) => (m.parameters['weight'] = opts.weights?.[i] as number));
  }
  return listed;
}

function resolveMethod(opts: MergeOptions, config: MergeConfig | undefined): MergeMethod {
  const strategy = opts.strategy ?? config?.mergeMethod;
  const field = opts.strategy !== undefined || !config ? '--strategy' : 'merge_method';
  if (strategy === undefined) throw optionError(field, `give a merge method (${MERGE_METHOD_NAMES.join(', ')})`);
  const method = mergeMethod(strategy);
  if (!method) throw new MergeConfigError(config && opts.strategy === undefined ? config.path : 'apr merge', field, `unknown merge method '${strategy}' (expected ${MERGE_METHOD_NAMES.join(', ')})`);
  return method;
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

/** The merge planned from the options and the config, and what the provenance records of them. */
function assemble(opts: MergeOptions, onTensor: (name: string) => void): { merge: AssembledMerge; recorded: Record<string, unknown> } {
  const config = opts.config !== undefined ? readMergeConfig(opts.config) : undefined;
  const method = resolveMethod(opts, config);
  const models = listedModels(opts, config);
  const dtype = outputDtype(opts, config);
  const baseModel = opts.baseModel ?? config?.baseModel;
  const parameters = globalParameters(opts, config);
  const recorded = { ...(dtype ? { dtype } : {}), parameters, ...(config ? { config: pathLabel(config.path) } : {}) };
  const merge = assembleMerge({
    configPath: config?.path ?? 'apr merge', method, parameters, seed: opts.seed ?? 0, onTensor,
    ...(models ? { models } : {}), ...(config?.slices ? { slices: config.slices } : {}), ...(baseModel !== undefined ? { baseModel } : {}),
    ...(config?.tokenizer ? { tokenizer: config.tokenizer } : {}), ...(config?.chatTemplate !== undefined ? { chatTemplate: config.chatTemplate } : {}), ...(dtype ? { dtype } : {}),
  });
  return { merge, recorded };
}

function runMerge(opts: MergeOptions): MergeResult {
  const t0 = performance.now();
  const peak = new RssPeak();
  let done = 0;
  let total = 0;
  const onTensor = (name: string): void => {
    peak.sample();
    opts.onTensor?.(++done, total, name);
  };
  const { merge, recorded } = assemble(opts, onTensor);
  try {
    const { bundle, donor, inputs, models } = merge;
    const format = outputFormatFor(opts.output, opts.format);
    total = bundle.tensors.names().length;
    const inputDigests = models.flatMap((m) => m.files.map(sourceDigest));
    const strategy = merge.method.name;
    if (models.some((m) => samePath(m.path, opts.output))) throw optionError('--output', `${opts.output} is one of the models merged`);
    const label = (m: { files: string[] }): string => m.files.map(pathLabel).join('+');
    const options = { strategy, base: label(donor), models: inputs.map(label), seed: opts.seed ?? 0, layers: merge.layers, ...recorded };
    const provenance = provenanceEntry({ op: 'merge', options, inputDigests, toolVersion: TOOL_VERSION });
    const bytes = writeModel({ ...bundle, source: { path: opts.output, format: 'memory' } }, opts.output, format, provenance);
    peak.sample();
    const { parameters: count, largest } = sizes(bundle);
    return {
      output: opts.output, format, strategy, base: donor.path, models: inputs.map((m) => m.path), tensors: total, layers: merge.layers, vocab_size: bundle.config.vocab_size,
      parameters: count, bytes, seed: opts.seed ?? 0, peak_rss_bytes: peak.value, largest_tensor_f32_bytes: largest, seconds: (performance.now() - t0) / 1000, input_digests: inputDigests,
    };
  } finally {
    merge.close();
  }
}

/** `apr merge`: mergekit-class merging, streaming one tensor of each input at a time, written atomically. */
export function mergeModels(opts: MergeOptions): MergeResult {
  return mergeContract.run(opts, () => runMerge(opts));
}

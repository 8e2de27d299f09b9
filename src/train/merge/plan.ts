import { FormatError } from '../../formats/errors.js';
import type { TensorRef, TensorStore } from '../../tensor/store.js';
import { MergeConfigError, type TokenEmbedding } from './config.js';
import { permutedEmbeddings } from './embed.js';
import { type FloatDType, computedRef, outputDType, readFloats } from './floats.js';
import { type MergeMethod, type ParamDef, type ParamValues, type TensorJob, tensorSeed } from './method.js';
import { type Params, type ParamScope, lookupParameter } from './settings.js';
import type { OpenedModel, OutputTensor } from './slices.js';
import type { VocabPlan } from './vocab.js';

export interface MergePlan {
  method: MergeMethod;
  /** The output tensors (slices.ts `outputTensors`). */
  tensors: readonly OutputTensor[];
  /** Top-level parameters (command-line options included). */
  parameters: Params;
  /** The config file, or 'apr merge' (for errors). */
  configPath: string;
  dtype?: FloatDType;
  seed: number;
  /** Set when the vocabularies are merged: embedding rows are permuted per model before merging. */
  vocab?: { plan: VocabPlan; tokens: ReadonlyMap<string, TokenEmbedding> };
  /** Called after each merged tensor is computed (progress, memory sampling). */
  onTensor?: (name: string) => void;
  /** Called when the merged store is closed. */
  close?: () => void;
}

/** Parameters and input roles of one output tensor, resolved before anything is written. */
interface Resolved {
  params: ParamValues;
  modelParams: ParamValues[];
  /** Index of the base among the slice's sources (task-vector methods). */
  base: number | undefined;
  /** Indices of the merged inputs among the slice's sources. */
  inputs: number[];
  /** The base's own per-model parameters (never required of the base, as in mergekit). */
  baseParams: ParamValues | undefined;
}

function resolveParam(plan: MergePlan, def: ParamDef, tensorName: string, t: number, scope: ParamScope, model?: OpenedModel): number | boolean {
  const v = lookupParameter(scope, def.name, tensorName, t, model?.key);
  if (v !== undefined) return v;
  if (def.default === undefined) throw new MergeConfigError(plan.configPath, `parameters.${def.name}`, `required by ${plan.method.name} for ${tensorName}${model ? ` of ${model.path}` : ''}`);
  return def.default;
}

function resolveAll(plan: MergePlan, defs: readonly ParamDef[], tensorName: string, t: number, scope: ParamScope, model?: OpenedModel): ParamValues {
  const out: Record<string, number | boolean> = {};
  for (const def of defs) out[def.name] = resolveParam(plan, def, tensorName, t, scope, model);
  return out;
}

/** The base's per-model parameters: a value or a default where there is one, omitted otherwise. */
function baseParameters(plan: MergePlan, tensorName: string, t: number, scope: ParamScope, model: OpenedModel): ParamValues {
  const out: Record<string, number | boolean> = {};
  for (const def of plan.method.tensorParams) {
    const v = lookupParameter(scope, def.name, tensorName, t, model.key) ?? def.default;
    if (v !== undefined) out[def.name] = v;
  }
  return out;
}

/** mergekit plan_tensor: global parameters at the output name, per-model parameters at each input's own name. */
function resolveTensor(plan: MergePlan, out: OutputTensor): Resolved {
  const { slice } = out;
  const scope: ParamScope = { sources: slice.sources.map((s) => ({ model: s.model.key, parameters: s.parameters })), slice: slice.parameters, global: plan.parameters };
  const task = plan.method.inputs === 'task';
  const baseIndex = task ? slice.sources.findIndex((s) => s.model === slice.base) : -1;
  const inputs = slice.sources.map((_s, k) => k).filter((k) => k !== baseIndex);
  const modelParams = inputs.map((k) => resolveAll(plan, plan.method.tensorParams, out.inputNames[k] as string, out.t, scope, slice.sources[k]?.model));
  const base = baseIndex >= 0 ? slice.sources[baseIndex] : undefined;
  const baseParams = base ? baseParameters(plan, out.inputNames[baseIndex] as string, out.t, scope, base.model) : undefined;
  return { params: resolveAll(plan, plan.method.params, out.name, out.t, scope), modelParams, base: base ? baseIndex : undefined, inputs, baseParams };
}

function tensorOf(m: OpenedModel, name: string): TensorRef {
  const t = m.bundle.tensors.get(name);
  if (!t) throw new FormatError(m.path, name, 'missing tensor');
  return t;
}

/** Each source's input as float32; embedding rows permuted to the output vocabulary when it is merged. */
function sourceArrays(plan: MergePlan, out: OutputTensor): Float32Array[] {
  const { slice } = out;
  const vocab = plan.vocab;
  if (!out.embed || !vocab) return slice.sources.map((s, k) => readFloats(tensorOf(s.model, out.inputNames[k] as string)));
  const tensors = new Map<string, Float32Array>();
  const base = slice.configuredBase;
  for (const m of [...slice.sources.map((s) => s.model), ...(base ? [base] : [])]) if (!tensors.has(m.key)) tensors.set(m.key, readFloats(tensorOf(m, out.name)));
  const cols = tensorOf(slice.sources[0]?.model as OpenedModel, out.name).shape[1] ?? 1;
  const permuted = permutedEmbeddings({ plan: vocab.plan, tensors, cols, base: base?.key, tokens: vocab.tokens, configPath: plan.configPath });
  return slice.sources.map((s) => permuted.get(s.model.key) as Float32Array);
}

/** The output shape: the first source's, with the output vocabulary's rows for embeddings when it is merged. */
function outputShape(plan: MergePlan, out: OutputTensor): number[] {
  const shape = [...tensorOf(out.slice.sources[0]?.model as OpenedModel, out.inputNames[0] as string).shape];
  if (out.embed && plan.vocab) shape[0] = plan.vocab.plan.rows;
  return shape;
}

function tensorJob(plan: MergePlan, out: OutputTensor, r: Resolved, shape: readonly number[]): TensorJob {
  const arrays = sourceArrays(plan, out);
  return {
    name: out.name,
    shape,
    base: r.base !== undefined ? arrays[r.base] : undefined,
    inputs: r.inputs.map((k) => arrays[k] as Float32Array),
    params: r.params,
    modelParams: r.modelParams,
    ...(r.baseParams ? { baseParams: r.baseParams } : {}),
    seed: tensorSeed(plan.seed, out.name),
  };
}

/**
 * The merged model's tensors, computed lazily: a writer pulling one tensor reads one tensor of each input.
 * Every tensor's parameters are resolved here, so a missing required parameter is reported before writing.
 */
export function mergedStore(plan: MergePlan): TensorStore {
  const refs = new Map<string, TensorRef>();
  for (const out of plan.tensors) {
    const r = resolveTensor(plan, out);
    const shape = outputShape(plan, out);
    const src = tensorOf(out.slice.sources[0]?.model as OpenedModel, out.inputNames[0] as string);
    refs.set(out.name, computedRef(out.name, outputDType(src.dtype, plan.dtype), shape, () => {
      const merged = plan.method.merge(tensorJob(plan, out, r, shape));
      plan.onTensor?.(out.name);
      return merged;
    }));
  }
  return {
    names: () => [...refs.keys()],
    get: (n) => refs.get(n),
    close: () => plan.close?.(),
  };
}

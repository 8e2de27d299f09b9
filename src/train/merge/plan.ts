import { FormatError } from '../../formats/errors.js';
import type { TensorRef, TensorStore } from '../../tensor/store.js';
import type { MergeInput } from './compat.js';
import { type Setting, evaluateSetting } from './config.js';
import { type FloatDType, computedRef, outputDType, readFloats } from './floats.js';
import { type MergeMethod, type ParamDef, type ParamValues, type TensorJob, tensorSeed } from './method.js';

/** One model in a merge plan with its per-model parameters. */
export interface PlannedModel extends MergeInput {
  parameters: Readonly<Record<string, Setting>>;
}

export interface MergePlan {
  method: MergeMethod;
  /** The base model (also the source of config, tokenizer and metadata). */
  base: PlannedModel;
  /** The models merged into the base (task methods) or averaged (linear: every listed model). */
  inputs: readonly PlannedModel[];
  parameters: Readonly<Record<string, Setting>>;
  dtype?: FloatDType;
  seed: number;
  /** Called after each merged tensor is computed (progress, memory sampling). */
  onTensor?: (name: string) => void;
}

const LAYER_RE = /^model\.layers\.(\d+)\./;

/**
 * mergekit's gradient position of a tensor: layer i of L sits at t = i/(L−1); tensors before the layers
 * (the embeddings) at 0 and after them (final norm, LM head) at 1.
 */
export function gradientPosition(name: string, numLayers: number): number {
  const m = LAYER_RE.exec(name);
  if (m) return numLayers > 1 ? Number(m[1]) / (numLayers - 1) : 1;
  return name.startsWith('model.embed_tokens') ? 0 : 1;
}

function resolveParam(def: ParamDef, name: string, t: number, settings: readonly (Readonly<Record<string, Setting>> | undefined)[]): number | boolean {
  for (const s of settings) {
    const setting = s?.[def.name];
    if (setting === undefined) continue;
    const v = evaluateSetting(name, setting, t);
    if (v === undefined) continue;
    if (typeof v === 'string') throw new FormatError('merge parameters', def.name, `must be a number or a boolean for ${name}, got '${v}'`);
    return v;
  }
  if (def.default === undefined) throw new FormatError('merge parameters', def.name, `required for ${name}`);
  return def.default;
}

function resolveAll(defs: readonly ParamDef[], name: string, t: number, settings: readonly (Readonly<Record<string, Setting>> | undefined)[]): ParamValues {
  const out: Record<string, number | boolean> = {};
  for (const def of defs) out[def.name] = resolveParam(def, name, t, settings);
  return out;
}

function tensorOf(m: MergeInput, name: string): TensorRef {
  const t = m.bundle.tensors.get(name);
  if (!t) throw new FormatError(m.path, name, 'missing tensor');
  return t;
}

/** The merge job of one tensor: parameters resolved at the tensor's gradient position, inputs read and dequantized. */
function tensorJob(plan: MergePlan, name: string): TensorJob {
  const ref = tensorOf(plan.base, name);
  const t = gradientPosition(name, plan.base.bundle.config.num_layers);
  const params = resolveAll(plan.method.params, name, t, [plan.parameters]);
  const modelParams = plan.inputs.map((m) => resolveAll(plan.method.tensorParams, name, t, [m.parameters, plan.parameters]));
  const usesBase = plan.method.inputs === 'task';
  return {
    name,
    shape: ref.shape,
    base: usesBase ? readFloats(ref) : undefined,
    inputs: plan.inputs.map((m) => readFloats(tensorOf(m, name))),
    params,
    modelParams,
    seed: tensorSeed(plan.seed, name),
  };
}

/** The merged model's tensors, computed lazily: a writer pulling one tensor reads one tensor of each input. */
export function mergedStore(plan: MergePlan): TensorStore {
  const refs = new Map<string, TensorRef>();
  for (const name of plan.base.bundle.tensors.names()) {
    const src = tensorOf(plan.base, name);
    refs.set(name, computedRef(name, outputDType(src.dtype, plan.dtype), src.shape, () => {
      const out = plan.method.merge(tensorJob(plan, name));
      plan.onTensor?.(name);
      return out;
    }));
  }
  return {
    names: () => [...refs.keys()],
    get: (n) => refs.get(n),
    close: () => {
      plan.base.bundle.tensors.close();
      for (const m of plan.inputs) m.bundle.tensors.close();
    },
  };
}

/**
 * mergekit's parameter settings and their evaluation per tensor (mergekit/config.py: `evaluate_setting`,
 * `ConfigReader.parameter`; mergekit/plan.py: the gradient position `t` of each tensor).
 *
 * A setting is a scalar, a gradient (a list of numbers interpolated over the layers of an output slice), or
 * a list of `{filter, value}` conditions matched against the tensor name (the first match wins; a condition
 * without a filter, or with `*`, matches every tensor).
 */
export type Scalar = number | boolean;

export interface Condition {
  readonly filter?: string | undefined;
  readonly value: Scalar | readonly number[];
}

export type Setting = Scalar | readonly number[] | readonly Condition[];
export type Params = Readonly<Record<string, Setting>>;

function isNumberList(list: readonly unknown[]): list is readonly number[] {
  return list.every((e) => typeof e === 'number');
}

/**
 * A gradient sampled at t ∈ [0, 1]: i0 = ⌊t·(n−1)⌋, i1 = min(n−1, i0+1), f = t·(n−1) − i0,
 * value (1−f)·g[i0] + f·g[i1] (the same float64 operations as mergekit, so the same bits).
 */
function sampleGradient(gradient: readonly number[], t: number): number {
  const scaled = t * (gradient.length - 1);
  const i0 = Math.trunc(scaled);
  const i1 = Math.min(gradient.length - 1, i0 + 1);
  const frac = scaled - i0;
  return (1 - frac) * (gradient[i0] as number) + frac * (gradient[i1] as number);
}

/** mergekit's `evaluate_setting`: the setting's value for one tensor at gradient position t, or undefined when no condition matches. */
export function evaluateSetting(tensorName: string, setting: Setting, t: number): Scalar | undefined {
  if (!Array.isArray(setting)) return setting as Scalar;
  const list = setting as readonly (number | Condition)[];
  if (list.length === 0) return undefined;
  if (isNumberList(list)) return sampleGradient(list, t);
  for (const cond of list as readonly Condition[]) {
    if (cond.filter === undefined || cond.filter === '*' || (tensorName !== '' && tensorName.includes(cond.filter))) {
      return evaluateSetting(tensorName, cond.value, t);
    }
  }
  return undefined;
}

/**
 * The gradient position of the layer at `offset` in an output slice of `length` layers (mergekit plan_slice):
 * offset/(length−1), and 1 for a one-layer slice. Gradients restart in every output slice.
 */
export function layerPosition(offset: number, length: number): number {
  return length > 1 ? offset / (length - 1) : 1;
}

/** Tensors outside the layers (embeddings, final norm, LM head) are planned at t = 0 (mergekit plan_module). */
export const NON_LAYER_POSITION = 0;

/** Where a parameter is looked up: the output slice's sources, the slice, then the top-level `parameters`. */
export interface ParamScope {
  /** `slices.*.sources.*.parameters` (and `models.*.parameters`), with the identity of each source's model. */
  readonly sources: readonly { readonly model: string; readonly parameters: Params }[];
  /** `slices.*.parameters`. */
  readonly slice: Params;
  /** Top-level `parameters` (command-line options included). */
  readonly global: Params;
}

/**
 * mergekit's `ConfigReader.parameter`: for a model, the first of its sources in the slice whose setting
 * evaluates to a value; then the slice's parameters; then the top-level ones. Undefined when none applies.
 */
export function lookupParameter(scope: ParamScope, name: string, tensorName: string, t: number, model?: string): Scalar | undefined {
  const levels: Params[] = [];
  if (model !== undefined) for (const s of scope.sources) if (s.model === model) levels.push(s.parameters);
  levels.push(scope.slice, scope.global);
  for (const params of levels) {
    const setting = params[name];
    if (setting === undefined) continue;
    const v = evaluateSetting(tensorName, setting, t);
    if (v !== undefined) return v;
  }
  return undefined;
}

import { defineContract } from '../../contract/index.js';
import { type MergeMethod, type TensorJob, bool, identicalInputsPreserved, num, requireBase, taskVector } from './method.js';

/** mergekit's floors: a norm below 1e-7 is not normalized up; |sin θ| below 1e-8 counts as colinear (lerp). */
const NORM_FLOOR = 1e-7;
const COLINEAR_EPS = 1e-8;

/** How a tensor is cut into the vectors that are slerped one by one. */
interface VectorLayout {
  count: number;
  length: number;
  /** Flat index of element j of vector v. */
  index(v: number, j: number): number;
}

/**
 * nuslerp_flatten: one vector (the whole tensor); otherwise the vectors run along the last dimension, or with
 * nuslerp_row_wise along the first (mergekit transposes dim 0 to the end).
 */
function vectorLayout(shape: readonly number[], flatten: boolean, rowWise: boolean): VectorLayout {
  const n = shape.reduce((p, d) => p * d, 1);
  if (flatten || shape.length < 2) return { count: 1, length: n, index: (_v, j) => j };
  if (!rowWise) {
    const cols = shape[shape.length - 1] as number;
    return { count: n / cols, length: cols, index: (v, j) => v * cols + j };
  }
  const d0 = shape[0] as number;
  const rest = n / d0;
  return { count: rest, length: d0, index: (v, j) => j * rest + v };
}

function gather(a: ArrayLike<number>, layout: VectorLayout, v: number): Float64Array {
  const out = new Float64Array(layout.length);
  for (let j = 0; j < out.length; j++) out[j] = a[layout.index(v, j)] as number;
  return out;
}

function normFloor(a: Float64Array): number {
  let s = 0;
  for (const x of a) s += x * x;
  return Math.max(Math.sqrt(s), NORM_FLOOR);
}

/** The two coefficients (c0, c1) of out = c0·v0 + c1·v1 for one vector pair. */
function slerpCoefficients(v0: Float64Array, v1: Float64Array, t: number): [number, number] {
  const n0 = normFloor(v0);
  const n1 = normFloor(v1);
  let cos = 0;
  for (let j = 0; j < v0.length; j++) cos += ((v0[j] as number) / n0) * ((v1[j] as number) / n1);
  const theta = Math.acos(Math.max(-1, Math.min(1, cos)));
  const sin = Math.sin(theta);
  if (Math.abs(sin) < COLINEAR_EPS) return [1 - t, t];
  return [Math.sin((1 - t) * theta) / sin, Math.sin(t * theta) / sin];
}

/** mergekit's `nuslerp(t, v0, v1)`: spherical interpolation of each vector pair of the layout, lerp where colinear. */
function nuslerpVectors(t: number, v0: ArrayLike<number>, v1: ArrayLike<number>, layout: VectorLayout): Float64Array {
  const out = new Float64Array(v0.length);
  for (let v = 0; v < layout.count; v++) {
    const a = gather(v0, layout, v);
    const b = gather(v1, layout, v);
    const [c0, c1] = slerpCoefficients(a, b, t);
    for (let j = 0; j < layout.length; j++) out[layout.index(v, j)] = c0 * (a[j] as number) + c1 * (b[j] as number);
  }
  return out;
}

/** t = w_1 / (w_0 + w_1), or ½ when the weights cancel. */
function nuslerpT(w0: number, w1: number): number {
  return Math.abs(w0 + w1) < 1e-6 ? 0.5 : w1 / (w0 + w1);
}

function runNuslerp(job: TensorJob): Float32Array {
  const base = requireBase(job, 'nuslerp');
  const layout = vectorLayout(job.shape, bool(job.params, 'nuslerp_flatten'), bool(job.params, 'nuslerp_row_wise'));
  const weight = (i: number): number => num(job.modelParams[i] ?? {}, 'weight');
  const [x0, x1] = job.inputs;
  if (!x0) return base.slice();
  if (!x1) {
    // two models, no base model: slerp from the first (the base slot) to the other
    const t = nuslerpT(job.baseParams ? num(job.baseParams, 'weight') : 1, weight(0));
    return new Float32Array(nuslerpVectors(t, base, x0, layout));
  }
  const mixed = nuslerpVectors(nuslerpT(weight(0), weight(1)), taskVector(x0, base), taskVector(x1, base), layout);
  const out = base.slice();
  for (let i = 0; i < out.length; i++) if (mixed[i] !== 0) out[i] = (base[i] as number) + (mixed[i] as number);
  return out;
}

export const nuslerpContract = defineContract<TensorJob, Float32Array>({
  id: 'merge-nuslerp-v1',
  equation: 'nuslerp',
  spec: 'two models: slerp(v0, v1; t = w1/(w0+w1)) per vector (whole tensor, rows, or columns); with a base model: base + slerp(x0 − base, x1 − base; t)',
  pre: [
    ['a base tensor (the first model, or the base model)', (j) => j.base !== undefined],
    ['one or two models besides the base', (j) => j.inputs.length <= 2],
  ],
  post: [['copies of one tensor merge to it bit for bit', (j, out) => identicalInputsPreserved(j, out)]],
});

/** NuSLERP (mergekit `nuslerp`). */
export function nuslerpMerge(job: TensorJob): Float32Array {
  return nuslerpContract.run(job, () => runNuslerp(job));
}

export const nuslerp: MergeMethod = {
  name: 'nuslerp',
  description: 'NuSLERP: slerp two models with t = w2/(w1 + w2), per tensor, row or column; with a base model, slerp their task vectors',
  inputs: 'task',
  minInputs: 1,
  maxInputs: 2,
  params: [
    { name: 'nuslerp_row_wise', default: false },
    { name: 'nuslerp_flatten', default: true },
  ],
  tensorParams: [{ name: 'weight', default: 1 }],
  merge: nuslerpMerge,
};

import { defineContract } from '../../contract/index.js';
import { type MergeMethod, type TensorJob, bool, identicalInputsPreserved, num, sameLength } from './method.js';

/** Each output element lies within the inputs' range at that position (normalized, non-negative weights). */
function withinInputRange(job: TensorJob, out: Float32Array): boolean {
  for (let i = 0; i < out.length; i++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (const x of job.inputs) {
      const v = x[i] as number;
      // Stryker disable next-line EqualityOperator: v <= lo only re-assigns an equal value
      if (v < lo) lo = v;
      // Stryker disable next-line EqualityOperator: v >= hi only re-assigns an equal value
      if (v > hi) hi = v;
    }
    const o = out[i] as number;
    if (o < lo || o > hi) return false;
  }
  return true;
}

function convex(job: TensorJob): boolean {
  return bool(job.params, 'normalize') && job.modelParams.every((p) => num(p, 'weight') >= 0);
}

export const linearContract = defineContract<TensorJob, Float32Array>({
  id: 'merge-linear-v1',
  equation: 'linear',
  spec: 'linear(x_1..x_n; w) = Σ_i w_i x_i / Σ_i w_i (normalize, default) or Σ_i w_i x_i; float64 accumulation, one rounding',
  pre: [
    ['at least one model', (j) => j.inputs.length >= 1],
    ['inputs of one length', (j) => j.inputs.length === 0 || sameLength(j.inputs[0] as Float32Array, j.inputs)],
    ['weights sum to non-zero when normalizing', (j) => !bool(j.params, 'normalize') || Math.abs(j.modelParams.reduce((s, p) => s + num(p, 'weight'), 0)) > 1e-12],
  ],
  post: [
    // Stryker disable next-line OptionalChaining: postconditions run only after the precondition 'at least one model' held, so inputs[0] exists
    ['output length', (j, out) => out.length === (j.inputs[0]?.length ?? 0)],
    ['copies of one tensor merge to it bit for bit', (j, out) => !bool(j.params, 'normalize') || identicalInputsPreserved(j, out)],
    ['convex combination stays within the inputs’ range', (j, out) => !convex(j) || withinInputRange(j, out)],
  ],
});

/** Weighted average of every listed model (mergekit `linear`). */
export function linearMerge(job: TensorJob): Float32Array {
  return linearContract.run(job, () => {
    const weights = job.modelParams.map((p) => num(p, 'weight'));
    const total = weights.reduce((s, w) => s + w, 0);
    const coef = bool(job.params, 'normalize') ? weights.map((w) => w / total) : weights;
    // Stryker disable next-line OptionalChaining: the precondition 'at least one model' guarantees inputs[0] (it is checked in every APR_CONTRACTS mode but off)
    const n = job.inputs[0]?.length ?? 0;
    const out = new Float32Array(n);
    // Stryker disable next-line EqualityOperator: i <= n writes out[n], past the end of the Float32Array (a no-op)
    for (let i = 0; i < n; i++) {
      let acc = -0; // so that merging −0 with −0 stays −0
      for (let k = 0; k < job.inputs.length; k++) acc += (coef[k] as number) * ((job.inputs[k] as Float32Array)[i] as number);
      out[i] = acc;
    }
    return out;
  });
}

export const linear: MergeMethod = {
  name: 'linear',
  description: 'weighted average of the models (normalized by the sum of weights unless normalize: false)',
  inputs: 'all',
  minInputs: 1,
  maxInputs: Infinity,
  params: [{ name: 'normalize', default: true }],
  tensorParams: [{ name: 'weight', default: 1 }],
  merge: linearMerge,
};

import { defineContract } from '../../contract/index.js';
import { type MergeMethod, type TensorJob, identicalInputsPreserved, num, requireBase } from './method.js';

/** mergekit's floor on |base − other| before dividing. */
const MIN_DIFF = 1e-6;

/** Each output entry lies between the base's and the other model's (the swap weight is clamped to [0, 1]). */
function betweenInputs(job: TensorJob, out: Float32Array): boolean {
  const a = job.base;
  const b = job.inputs[0];
  if (!a || !b) return true;
  for (let i = 0; i < out.length; i++) {
    const lo = Math.min(a[i] as number, b[i] as number);
    const hi = Math.max(a[i] as number, b[i] as number);
    const o = out[i] as number;
    if (o < lo || o > hi) return false;
  }
  return true;
}

export const nearswapContract = defineContract<TensorJob, Float32Array>({
  id: 'merge-nearswap-v1',
  equation: 'nearswap',
  spec: 'w_i = clamp(t / max(|a_i − b_i|, 1e-6), 0, 1); out_i = w_i b_i + (1 − w_i) a_i  (a = base, b = the other model)',
  pre: [
    ['a base tensor', (j) => j.base !== undefined],
    ['at most one model besides the base', (j) => j.inputs.length <= 1],
  ],
  post: [
    ['each entry between the base’s and the other’s', (j, out) => betweenInputs(j, out)],
    ['a model equal to the base merges to the base bit for bit', (j, out) => identicalInputsPreserved(j, out)],
  ],
});

/** NearSwap: takes the other model's value where it is already near the base's (within t), blends beyond. */
export function nearswapMerge(job: TensorJob): Float32Array {
  return nearswapContract.run(job, () => {
    const a = requireBase(job, 'nearswap');
    const b = job.inputs[0];
    if (!b) return a.slice();
    const t = num(job.params, 't');
    const out = new Float32Array(a.length);
    // Stryker disable next-line EqualityOperator: i <= a.length writes out[n], past the end of the Float32Array (a no-op)
    for (let i = 0; i < a.length; i++) {
      const ai = a[i] as number;
      const bi = b[i] as number;
      const w = Math.min(1, Math.max(0, t / Math.max(Math.abs(ai - bi), MIN_DIFF)));
      out[i] = w * bi + (1 - w) * ai;
    }
    return out;
  });
}

export const nearswap: MergeMethod = {
  name: 'nearswap',
  description: 'NearSwap: interpolate the base toward the other model with weight t/|base − other| (clamped to [0, 1]), so near-equal entries are swapped',
  inputs: 'task',
  minInputs: 0,
  maxInputs: 1,
  params: [{ name: 't' }],
  tensorParams: [],
  merge: nearswapMerge,
};

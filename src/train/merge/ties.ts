import { defineContract } from '../../contract/index.js';
import { type MergeMethod, type TensorJob, identicalInputsPreserved, num } from './method.js';
import { magnitudeTrim } from './sparsify.js';
import { TASK_PARAMS, TASK_TENSOR_PARAMS, type TaskArithmeticSpec, signsAgree, taskArithmeticCore } from './task-vectors.js';

const TIES_SPEC: TaskArithmeticSpec = {
  method: 'ties',
  consensus: 'sum',
  sparsify: (d, job, k) => magnitudeTrim(d, num(job.modelParams[k] ?? {}, 'density')),
};

export const tiesContract = defineContract<TensorJob, Float32Array>({
  id: 'merge-ties-v1',
  equation: 'ties',
  spec: 'δ_k = trim_density(x_k − base); γ = sign(Σ_k w_k δ_k); out = base + λ · Σ_{k: sign δ_k = γ} w_k δ_k / Σ_{k: sign δ_k = γ} w_k',
  pre: [
    ['a base tensor', (j) => j.base !== undefined],
    ['density in (0, 1]', (j) => j.modelParams.every((p) => num(p, 'density') > 0 && num(p, 'density') <= 1)],
  ],
  post: [
    ['output moves only in the elected sign', (j, out) => signsAgree(j, TIES_SPEC, out)],
    ['models equal to the base merge to the base bit for bit', (j, out) => identicalInputsPreserved(j, out)],
  ],
});

export function tiesMerge(job: TensorJob): Float32Array {
  return tiesContract.run(job, () => taskArithmeticCore(job, TIES_SPEC));
}

export const ties: MergeMethod = {
  name: 'ties',
  description: 'TIES: trim task vectors to the top-density magnitudes, elect a sign by mass, disjoint mean (Yadav et al. 2023)',
  inputs: 'task',
  minInputs: 0,
  maxInputs: Infinity,
  params: [...TASK_PARAMS, { name: 'normalize', default: true }],
  tensorParams: TASK_TENSOR_PARAMS,
  merge: tiesMerge,
};

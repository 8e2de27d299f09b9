import { defineContract } from '../../contract/index.js';
import { type MergeMethod, type TensorJob, identicalInputsPreserved, num } from './method.js';
import { magnitudeOutliers } from './sparsify.js';
import { TASK_PARAMS, TASK_TENSOR_PARAMS, type TaskArithmeticSpec, taskArithmeticCore } from './task-vectors.js';

const SPEC: TaskArithmeticSpec = {
  method: 'breadcrumbs',
  sparsify: (d, job, k) => {
    const p = job.modelParams[k] ?? {};
    magnitudeOutliers(d, num(p, 'density'), num(p, 'gamma'));
  },
};

export const breadcrumbsContract = defineContract<TensorJob, Float32Array>({
  id: 'merge-breadcrumbs-v1',
  equation: 'breadcrumbs',
  spec: 'δ_k = x_k − base with the γ·n largest and the (1 − density − γ)·n smallest |δ| zeroed; out = base + λ Σ_k w_k δ_k',
  pre: [
    ['a base tensor', (j) => j.base !== undefined],
    ['0 ≤ gamma, 0 < density ≤ 1', (j) => j.modelParams.every((p) => num(p, 'gamma') >= 0 && num(p, 'density') > 0 && num(p, 'density') <= 1)],
  ],
  post: [['models equal to the base merge to the base bit for bit', (j, out) => identicalInputsPreserved(j, out)]],
});

export function breadcrumbsMerge(job: TensorJob): Float32Array {
  return breadcrumbsContract.run(job, () => taskArithmeticCore(job, SPEC));
}

export const breadcrumbs: MergeMethod = {
  name: 'breadcrumbs',
  description: 'Model Breadcrumbs: drop the largest (outliers, gamma) and smallest task-vector entries (Davari & Belilovsky 2023)',
  inputs: 'task',
  minInputs: 0,
  maxInputs: Infinity,
  params: [...TASK_PARAMS, { name: 'normalize', default: false }],
  tensorParams: [...TASK_TENSOR_PARAMS, { name: 'gamma', default: 0.01 }],
  merge: breadcrumbsMerge,
};

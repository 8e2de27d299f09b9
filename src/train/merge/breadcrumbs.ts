import { defineContract } from '../../contract/index.js';
import { type MergeMethod, type ParamDef, type TensorJob, bool, identicalInputsPreserved, num } from './method.js';
import { l1Norm, magnitudeOutliers, rescaleToL1 } from './sparsify.js';
import { TASK_PARAMS, TASK_TENSOR_PARAMS, type TaskArithmeticSpec, taskArithmeticCore } from './task-vectors.js';

/** mergekit `magnitude_outliers`, with the L1 rescale of `rescale: true`. */
export const breadcrumbsSparsify: TaskArithmeticSpec['sparsify'] = (d, job, k) => {
  const p = job.modelParams[k] ?? {};
  const before = l1Norm(d);
  magnitudeOutliers(d, num(p, 'density'), num(p, 'gamma'));
  if (bool(job.params, 'rescale')) rescaleToL1(d, before);
};

/** Global and per-model parameters of both breadcrumbs methods (mergekit's defaults). */
export const BREADCRUMBS_PARAMS: readonly ParamDef[] = [...TASK_PARAMS, { name: 'normalize', default: false }, { name: 'rescale', default: false }];
export const BREADCRUMBS_TENSOR_PARAMS: readonly ParamDef[] = [...TASK_TENSOR_PARAMS, { name: 'gamma', default: 0.01 }];

export const breadcrumbsDensityGamma = (j: TensorJob): boolean => j.modelParams.every((p) => num(p, 'gamma') >= 0 && num(p, 'density') > 0 && num(p, 'density') <= 1);

const SPEC: TaskArithmeticSpec = { method: 'breadcrumbs', sparsify: breadcrumbsSparsify };

export const breadcrumbsContract = defineContract<TensorJob, Float32Array>({
  id: 'merge-breadcrumbs-v1',
  equation: 'breadcrumbs',
  spec: 'δ_k = x_k − base with the γ·n largest and the (1 − density − γ)·n smallest |δ| zeroed; out = base + λ Σ_k w_k δ_k',
  pre: [
    ['a base tensor', (j) => j.base !== undefined],
    ['0 ≤ gamma, 0 < density ≤ 1', breadcrumbsDensityGamma],
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
  params: BREADCRUMBS_PARAMS,
  tensorParams: BREADCRUMBS_TENSOR_PARAMS,
  merge: breadcrumbsMerge,
};

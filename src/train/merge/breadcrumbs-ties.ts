import { defineContract } from '../../contract/index.js';
import { BREADCRUMBS_PARAMS, BREADCRUMBS_TENSOR_PARAMS, breadcrumbsDensityGamma, breadcrumbsSparsify } from './breadcrumbs.js';
import { type MergeMethod, type TensorJob, identicalInputsPreserved } from './method.js';
import { type TaskArithmeticSpec, signsAgree, taskArithmeticCore } from './task-vectors.js';

/** mergekit `breadcrumbs_ties`: the breadcrumbs band of each task vector, then the TIES sign election. */
const BREADCRUMBS_TIES_SPEC: TaskArithmeticSpec = { method: 'breadcrumbs_ties', consensus: 'sum', sparsify: breadcrumbsSparsify };

export const breadcrumbsTiesContract = defineContract<TensorJob, Float32Array>({
  id: 'merge-breadcrumbs-ties-v1',
  equation: 'breadcrumbs_ties',
  spec: 'δ_k = band_{density,γ}(x_k − base); γ_i = sign(Σ_k w_k δ_ki); out = base + λ Σ_{k: sign δ_ki = γ_i} w_k δ_ki (÷ Σ of those w_k with normalize)',
  pre: [
    ['a base tensor', (j) => j.base !== undefined],
    ['0 ≤ gamma, 0 < density ≤ 1', breadcrumbsDensityGamma],
  ],
  post: [
    ['output moves only in the elected sign', (j, out) => signsAgree(j, BREADCRUMBS_TIES_SPEC, out)],
    ['models equal to the base merge to the base bit for bit', (j, out) => identicalInputsPreserved(j, out)],
  ],
});

export function breadcrumbsTiesMerge(job: TensorJob): Float32Array {
  return breadcrumbsTiesContract.run(job, () => taskArithmeticCore(job, BREADCRUMBS_TIES_SPEC));
}

export const breadcrumbsTies: MergeMethod = {
  name: 'breadcrumbs_ties',
  description: 'Model Breadcrumbs sparsification (drop outliers and small entries), then TIES sign consensus',
  inputs: 'task',
  minInputs: 0,
  maxInputs: Infinity,
  params: BREADCRUMBS_PARAMS,
  tensorParams: BREADCRUMBS_TENSOR_PARAMS,
  merge: breadcrumbsTiesMerge,
};

import { defineContract } from '../../contract/index.js';
import { DELLA_TENSOR_PARAMS, dellaDensityEpsilon, dellaSparsify } from './della.js';
import { type MergeMethod, type TensorJob, identicalInputsPreserved } from './method.js';
import { TASK_PARAMS, type TaskArithmeticSpec, taskArithmeticCore } from './task-vectors.js';

/** mergekit `della_linear`: DELLA's MAGPRUNE of each task vector, summed without sign consensus. */
const DELLA_LINEAR_SPEC: TaskArithmeticSpec = { method: 'della_linear', sparsify: dellaSparsify };

export const dellaLinearContract = defineContract<TensorJob, Float32Array>({
  id: 'merge-della-linear-v1',
  equation: 'della_linear',
  spec: 'δ_k = MAGPRUNE_{density,ε}(x_k − base) (seeded, rescaled by 1/p); out = base + λ Σ_k w_k δ_k (÷ Σ_k w_k with normalize)',
  pre: [
    ['a base tensor', (j) => j.base !== undefined],
    ['density ± epsilon in (0, 1)', dellaDensityEpsilon],
  ],
  post: [['models equal to the base merge to the base bit for bit', (j, out) => identicalInputsPreserved(j, out)]],
});

export function dellaLinearMerge(job: TensorJob): Float32Array {
  return dellaLinearContract.run(job, () => taskArithmeticCore(job, DELLA_LINEAR_SPEC));
}

export const dellaLinear: MergeMethod = {
  name: 'della_linear',
  description: 'DELLA magnitude-ranked stochastic drop (MAGPRUNE, seeded) with rescale, summed without sign consensus',
  inputs: 'task',
  minInputs: 0,
  maxInputs: Infinity,
  params: [...TASK_PARAMS, { name: 'normalize', default: false }, { name: 'rescale', default: true }],
  tensorParams: DELLA_TENSOR_PARAMS,
  merge: dellaLinearMerge,
};

import { defineContract } from '../../contract/index.js';
import { type MergeMethod, type TensorJob, bool, identicalInputsPreserved, num } from './method.js';
import { randomDrop } from './sparsify.js';
import { TASK_PARAMS, TASK_TENSOR_PARAMS, type TaskArithmeticSpec, signsAgree, taskArithmeticCore } from './task-vectors.js';

const drop: TaskArithmeticSpec['sparsify'] = (d, job, k, rng) => randomDrop(d, num(job.modelParams[k] ?? {}, 'density'), bool(job.params, 'rescale'), rng);

export const DARE_TIES_SPEC: TaskArithmeticSpec = { method: 'dare_ties', consensus: 'sum', sparsify: drop };
const DARE_LINEAR_SPEC: TaskArithmeticSpec = { method: 'dare_linear', sparsify: drop };

const densityInRange = (j: TensorJob): boolean => j.modelParams.every((p) => num(p, 'density') > 0 && num(p, 'density') <= 1);

export const dareTiesContract = defineContract<TensorJob, Float32Array>({
  id: 'merge-dare-v1',
  equation: 'dare_ties',
  spec: 'δ_k = m_k ⊙ (x_k − base) / (1 − p), m_k ~ Bernoulli(1 − p) seeded; then the TIES sign election and disjoint sum',
  pre: [['a base tensor', (j) => j.base !== undefined], ['density = 1 − p in (0, 1]', densityInRange]],
  post: [
    ['output moves only in the elected sign', (j, out) => signsAgree(j, DARE_TIES_SPEC, out)],
    ['models equal to the base merge to the base bit for bit', (j, out) => identicalInputsPreserved(j, out)],
  ],
});

export const dareLinearContract = defineContract<TensorJob, Float32Array>({
  id: 'merge-dare-v1',
  equation: 'dare_linear',
  spec: 'out = base + λ · Σ_k w_k m_k ⊙ (x_k − base) / (1 − p), m_k ~ Bernoulli(1 − p) seeded',
  pre: [['a base tensor', (j) => j.base !== undefined], ['density = 1 − p in (0, 1]', densityInRange]],
  post: [['models equal to the base merge to the base bit for bit', (j, out) => identicalInputsPreserved(j, out)]],
});

export function dareTiesMerge(job: TensorJob): Float32Array {
  return dareTiesContract.run(job, () => taskArithmeticCore(job, DARE_TIES_SPEC));
}

export function dareLinearMerge(job: TensorJob): Float32Array {
  return dareLinearContract.run(job, () => taskArithmeticCore(job, DARE_LINEAR_SPEC));
}

export const dareTies: MergeMethod = {
  name: 'dare_ties',
  description: 'DARE drop-and-rescale of task vectors (seeded), then TIES sign consensus (Yu et al. 2023)',
  inputs: 'task',
  minInputs: 0,
  maxInputs: Infinity,
  params: [...TASK_PARAMS, { name: 'normalize', default: false }, { name: 'rescale', default: true }],
  tensorParams: TASK_TENSOR_PARAMS,
  merge: dareTiesMerge,
};

export const dareLinear: MergeMethod = {
  name: 'dare_linear',
  description: 'DARE drop-and-rescale of task vectors (seeded), summed without sign consensus',
  inputs: 'task',
  minInputs: 0,
  maxInputs: Infinity,
  params: [...TASK_PARAMS, { name: 'normalize', default: false }, { name: 'rescale', default: true }],
  tensorParams: TASK_TENSOR_PARAMS,
  merge: dareLinearMerge,
};

import { defineContract } from '../../contract/index.js';
import { type MergeMethod, type TensorJob, identicalInputsPreserved } from './method.js';
import { TASK_PARAMS, TASK_TENSOR_PARAMS, type TaskArithmeticSpec, taskArithmeticCore } from './task-vectors.js';

const SPEC: TaskArithmeticSpec = { method: 'task_arithmetic' };

export const taskArithmeticContract = defineContract<TensorJob, Float32Array>({
  id: 'merge-task-arithmetic-v1',
  equation: 'task_arithmetic',
  spec: 'out = base + λ · Σ_k w_k (x_k − base)  (÷ Σ_k w_k with normalize)',
  pre: [['a base tensor', (j) => j.base !== undefined]],
  post: [['models equal to the base merge to the base bit for bit', (j, out) => identicalInputsPreserved(j, out)]],
});

export function taskArithmeticMerge(job: TensorJob): Float32Array {
  return taskArithmeticContract.run(job, () => taskArithmeticCore(job, SPEC));
}

export const taskArithmetic: MergeMethod = {
  name: 'task_arithmetic',
  description: 'base + λ · weighted sum of task vectors (Ilharco et al. 2022)',
  inputs: 'task',
  minInputs: 0,
  maxInputs: Infinity,
  params: [...TASK_PARAMS, { name: 'normalize', default: false }],
  tensorParams: TASK_TENSOR_PARAMS,
  merge: taskArithmeticMerge,
};

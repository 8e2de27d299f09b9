import { defineContract } from '../../contract/index.js';
import { type MergeMethod, type ParamDef, type TensorJob, bool, identicalInputsPreserved, num, rowsCols } from './method.js';
import { dellaMagprune } from './sparsify.js';
import { TASK_PARAMS, TASK_TENSOR_PARAMS, type TaskArithmeticSpec, signsAgree, taskArithmeticCore } from './task-vectors.js';

/** MAGPRUNE of one task vector, row by row, from the tensor's seeded stream (shared with della_linear). */
export const dellaSparsify: TaskArithmeticSpec['sparsify'] = (d, job, k, rng) => {
  const p = job.modelParams[k] ?? {};
  dellaMagprune(d, rowsCols(job.shape).cols, num(p, 'density'), num(p, 'epsilon'), bool(job.params, 'rescale'), rng);
};

export const DELLA_TENSOR_PARAMS: readonly ParamDef[] = [...TASK_TENSOR_PARAMS, { name: 'epsilon', default: 0.15 }];

export const dellaDensityEpsilon = (j: TensorJob): boolean =>
  j.modelParams.every((p) => num(p, 'density') >= 1 || (num(p, 'density') - num(p, 'epsilon') > 0 && num(p, 'density') + num(p, 'epsilon') < 1));

const SPEC: TaskArithmeticSpec = { method: 'della', consensus: 'sum', sparsify: dellaSparsify };

export const dellaContract = defineContract<TensorJob, Float32Array>({
  id: 'merge-della-v1',
  equation: 'della',
  spec: 'MAGPRUNE: keep δ_ij with p = density − ε + 2ε·rank_i(|δ_ij|)/(cols − 1), rescale 1/p (seeded); TIES sign election; out = base + λ · disjoint mean',
  pre: [
    ['a base tensor', (j) => j.base !== undefined],
    ['density ± epsilon in (0, 1)', dellaDensityEpsilon],
  ],
  post: [
    ['output moves only in the elected sign', (j, out) => signsAgree(j, SPEC, out)],
    ['models equal to the base merge to the base bit for bit', (j, out) => identicalInputsPreserved(j, out)],
  ],
});

export function dellaMerge(job: TensorJob): Float32Array {
  return dellaContract.run(job, () => taskArithmeticCore(job, SPEC));
}

export const della: MergeMethod = {
  name: 'della',
  description: 'DELLA: magnitude-ranked stochastic drop (MAGPRUNE) with rescale, then TIES sign election (Deep et al. 2024)',
  inputs: 'task',
  minInputs: 0,
  maxInputs: Infinity,
  params: [...TASK_PARAMS, { name: 'normalize', default: true }, { name: 'rescale', default: true }],
  tensorParams: DELLA_TENSOR_PARAMS,
  merge: dellaMerge,
};

import { defineContract } from '../../contract/index.js';
import { type MergeMethod, type TensorJob, bitEqual, num } from './method.js';

export const passthroughContract = defineContract<TensorJob, Float32Array>({
  id: 'merge-passthrough-v1',
  equation: 'passthrough',
  spec: 'passthrough(x; scale) = x (scale 1, the default: the same bits) or scale · x (one float32 rounding per element)',
  pre: [['exactly one input tensor', (j) => j.inputs.length === 1]],
  post: [
    ['output length', (j, out) => out.length === (j.inputs[0]?.length ?? -1)],
    ['scale 1 returns the input bit for bit', (j, out) => num(j.modelParams[0] ?? {}, 'scale') !== 1 || bitEqual(out, j.inputs[0] as Float32Array)],
  ],
});

/** mergekit `passthrough`: copies the one input tensor, optionally multiplied by its `scale` (frankenmerges, layer stacking). */
export function passthroughMerge(job: TensorJob): Float32Array {
  return passthroughContract.run(job, () => {
    const x = job.inputs[0] as Float32Array;
    const scale = num(job.modelParams[0] ?? {}, 'scale');
    if (scale === 1) return x;
    const out = new Float32Array(x.length);
    for (let i = 0; i < x.length; i++) out[i] = scale * (x[i] as number);
    return out;
  });
}

export const passthrough: MergeMethod = {
  name: 'passthrough',
  description: 'copies the tensors of one model per slice (frankenmerges: stack layer ranges of several models), optionally scaled',
  inputs: 'all',
  minInputs: 1,
  maxInputs: 1,
  params: [],
  tensorParams: [{ name: 'scale', default: 1 }],
  merge: passthroughMerge,
};

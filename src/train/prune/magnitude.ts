import { defineContract } from '../../contract/index.js';
import { applyMask, lowestScoreMask } from './select.js';
import { PRUNE_PRE, type PruneTensorInput, onlyZeroed, sparsityMet } from './unstructured-types.js';

export interface MagnitudeInput extends PruneTensorInput {
  /** Compare within each output row (default) or over the whole tensor. */
  group: 'row' | 'tensor';
}

export const magnitudeContract = defineContract<MagnitudeInput, Float32Array>({
  id: 'prune-magnitude-v1',
  equation: 'magnitude',
  spec: 'zero the ⌊r·n⌋ smallest |W_ij| (per output row, or over the tensor); with N:M, the N smallest of every M along each row',
  pre: PRUNE_PRE,
  post: [
    ['sparsity within 0.1 % of the target (or the N:M pattern holds)', sparsityMet],
    ['kept weights unchanged', onlyZeroed],
  ],
});

/** Magnitude pruning of one weight matrix. */
export function magnitudePrune(input: MagnitudeInput): Float32Array {
  return magnitudeContract.run(input, () => {
    const scores = Float64Array.from(input.w, Math.abs);
    const out = Float32Array.from(input.w);
    applyMask(out, lowestScoreMask(scores, input.rows, input.cols, input.ratio, input.group, input.pattern));
    return out;
  });
}

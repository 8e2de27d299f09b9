import { defineContract } from '../../contract/index.js';
import { applyMask, lowestScoreMask } from './select.js';
import { PRUNE_PRE, type PruneTensorInput, onlyZeroed, sparsityMet } from './unstructured-types.js';

export interface WandaInput extends PruneTensorInput {
  /** ‖X_j‖₂ of each input channel over the calibration tokens. */
  inputNorms: Float64Array;
}

export const wandaContract = defineContract<WandaInput, Float32Array>({
  id: 'prune-wanda-v1',
  equation: 'wanda',
  spec: 'S_ij = |W_ij| · ‖X_j‖₂; in each output row i zero the ⌊r·cols⌋ weights of lowest S_ij (or N of every M)',
  pre: [...PRUNE_PRE, ['one norm per input channel', (i: WandaInput) => i.inputNorms.length === i.cols]],
  post: [
    ['sparsity within 0.1 % of the target (or the N:M pattern holds)', sparsityMet],
    ['kept weights unchanged', onlyZeroed],
  ],
});

/** Wanda (Sun et al. 2023): weights × input activation norms, compared within each output row. */
export function wandaPrune(input: WandaInput): Float32Array {
  return wandaContract.run(input, () => {
    const { w, rows, cols, inputNorms } = input;
    const scores = new Float64Array(w.length);
    // Stryker disable next-line EqualityOperator: c <= cols writes a NaN score into the next row's column 0, which that row overwrites (past the end in the last row); r <= rows writes past the end
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) scores[r * cols + c] = Math.abs(w[r * cols + c] as number) * (inputNorms[c] as number);
    const out = Float32Array.from(w);
    // Stryker disable next-line StringLiteral: lowestScoreMask treats every group other than 'tensor' as per row
    applyMask(out, lowestScoreMask(scores, rows, cols, input.ratio, 'row', input.pattern));
    return out;
  });
}

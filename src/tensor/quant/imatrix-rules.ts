/**
 * llama-quantize's tensor_requires_imatrix (src/llama-quant.cpp, commit 80fb11a): which target types it
 * refuses to write without an importance matrix. token_embd and output.weight never need one; IQ1_S, IQ1_M,
 * IQ2_XXS, IQ2_XS, IQ2_S and IQ3_XXS always do; Q2_K does only in a Q2_K_S file (llama_ftype 21).
 */
import type { DType } from '../dtype.js';

const NEEDS_IMATRIX: readonly DType[] = ['IQ3_XXS', 'IQ2_XXS', 'IQ2_XS', 'IQ2_S', 'IQ1_M', 'IQ1_S'];
const LLAMA_FTYPE_MOSTLY_Q2_K_S = 21;
const EXEMPT = /^(token_embd|per_layer_token_embd|output|model\.embed_tokens|lm_head)\.weight$/;

/** Whether quantizing tensor `name` to `to` in a file of llama_ftype `ftype` needs an importance matrix. */
export function requiresImatrix(name: string, to: DType, ftype: number | undefined): boolean {
  if (EXEMPT.test(name)) return false;
  if (NEEDS_IMATRIX.includes(to)) return true;
  return to === 'Q2_K' && ftype === LLAMA_FTYPE_MOSTLY_Q2_K_S;
}

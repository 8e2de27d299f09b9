import { defineContract } from '../contract/index.js';
import { type PerplexityOptions, type PerplexityResult, perplexity } from '../eval/perplexity.js';
import type { Session } from '../model/session.js';

export interface EvalPerplexityResult extends PerplexityResult {
  dataset: string;
  dataset_tokens: number;
  eval_ms: number;
}

export const evalPerplexityContract = defineContract<{ text: string; opts: PerplexityOptions }, EvalPerplexityResult>({
  id: 'op-eval-perplexity-v1',
  equation: 'perplexity',
  spec: 'PPL = exp(mean over scored tokens of −log softmax(logits)[next token]) over windows of `context` tokens',
  pre: [
    ['context ≥ 2', ({ opts }) => Number.isInteger(opts.context) && opts.context >= 2],
    ['chunks ≥ 1 when given', ({ opts }) => opts.chunks === undefined || (Number.isInteger(opts.chunks) && opts.chunks >= 1)],
    ['stride in [1, context] when given', ({ opts }) => opts.stride === undefined || (opts.stride >= 1 && opts.stride <= opts.context)],
  ],
  post: [
    ['perplexity = exp(mean_nll)', (_i, r) => Math.abs(Math.log(r.perplexity) - r.mean_nll) <= 1e-9 * Math.max(1, r.mean_nll)],
    ['perplexity ≥ 1', (_i, r) => r.perplexity >= 1],
  ],
});

/** `apr eval --dataset`: perplexity of a text file (encoded whole, without special tokens). */
export function evalPerplexity(session: Session, dataset: string, text: string, opts: PerplexityOptions): EvalPerplexityResult {
  return evalPerplexityContract.run({ text, opts }, () => {
    const t0 = performance.now();
    const ids = session.tokenizer.encode(text, { addSpecialTokens: false });
    const r = perplexity(session.model, ids, opts);
    return { ...r, dataset, dataset_tokens: ids.length, eval_ms: performance.now() - t0 };
  });
}

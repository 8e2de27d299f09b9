import { defineContract } from '../contract/index.js';
import type { Session } from '../model/session.js';
import { type SpeculativeStats, checkSameTokenizer, draftPMinFor, speculativeGenerate } from '../model/speculative.js';
import { type RunOptions, type RunResult, runPrompt } from './generate.js';

export interface SpeculativeRunOptions extends RunOptions {
  /** Most draft tokens proposed per round. */
  speculationK: number;
  /** The draft stops proposing below this top-token probability (default 0 for greedy, 0.75 when sampling). */
  draftPMin?: number;
}

export interface SpeculativeRunResult extends RunResult {
  speculation_k: number;
  draft_p_min: number;
  draft_model: string;
  /** Accepted draft tokens / drafted tokens. */
  acceptance_rate: number;
  drafted_tokens: number;
  accepted_tokens: number;
  /** Batched target passes after the prefill. */
  verification_rounds: number;
  tokens_per_round: number;
}

interface Input {
  target: Session;
  draft: Session;
  opts: SpeculativeRunOptions;
}

export const speculativeContract = defineContract<Input, SpeculativeRunResult>({
  id: 'op-speculative-v1',
  equation: 'speculative_run',
  spec: 'x_i ~ q accepted w.p. min(1, p(x_i)/q(x_i)), else resample from norm(max(0, p − q)); output ~ target p; greedy output = plain greedy output',
  pre: [
    ['speculation k is an integer ≥ 1', ({ opts }) => Number.isInteger(opts.speculationK) && opts.speculationK >= 1],
    ['draft p-min in [0, 1]', ({ opts }) => opts.draftPMin === undefined || (opts.draftPMin >= 0 && opts.draftPMin <= 1)],
    ['maxTokens is a non-negative integer', ({ opts }) => Number.isInteger(opts.maxTokens) && opts.maxTokens >= 0],
    ['temperature ≥ 0', ({ opts }) => (opts.temperature ?? 0) >= 0],
    ['top-p in (0, 1]', ({ opts }) => opts.topP === undefined || (opts.topP > 0 && opts.topP <= 1)],
  ],
  post: [
    ['at most maxTokens generated', ({ opts }, r) => r.tokens_generated <= opts.maxTokens],
    ['acceptance rate in [0, 1]', (_i, r) => r.acceptance_rate >= 0 && r.acceptance_rate <= 1],
    ['accepted ≤ drafted', (_i, r) => r.accepted_tokens <= r.drafted_tokens],
    ['text decodes the ids', ({ target }, r) => r.text === target.tokenizer.decode(r.token_ids, { skipSpecialTokens: true })],
  ],
});

/** `apr run --speculative`: generates with `target`, drafting `speculationK` tokens a round with `draft`. */
export function runSpeculative(target: Session, draft: Session, opts: SpeculativeRunOptions, onText?: (text: string) => void): SpeculativeRunResult {
  return speculativeContract.run({ target, draft, opts }, () => {
    checkSameTokenizer(target.tokenizer, draft.tokenizer, draft.path);
    const seen: { stats?: SpeculativeStats } = {};
    const pMin = draftPMinFor(opts);
    const run = runPrompt(target, opts, onText, (ids, o, onToken) => {
      const r = speculativeGenerate(target.model, draft.model, ids, { ...o, k: opts.speculationK, draftPMin: pMin }, onToken);
      seen.stats = r.stats;
      return r;
    });
    const stats = seen.stats;
    if (!stats) throw new Error('speculative decoding returned no statistics');
    return {
      ...run,
      speculation_k: opts.speculationK,
      draft_p_min: pMin,
      draft_model: draft.path,
      acceptance_rate: stats.acceptanceRate,
      drafted_tokens: stats.drafted,
      accepted_tokens: stats.accepted,
      verification_rounds: stats.rounds,
      tokens_per_round: stats.tokensPerRound,
    };
  });
}

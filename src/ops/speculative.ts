import { defineContract } from '../contract/index.js';
import type { Session } from '../model/session.js';
import { checkSameTokenizer, speculativeGenerate } from '../model/speculative.js';
import type { RunOptions, RunResult } from './generate.js';

export interface SpeculativeRunOptions extends RunOptions {
  /** Draft tokens proposed per round. */
  speculationK: number;
}

export interface SpeculativeRunResult extends RunResult {
  speculation_k: number;
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

/** As `promptIds` of `apr run`: the chat template when asked, else the raw prompt. */
function promptIds(session: Session, opts: RunOptions): number[] {
  const tok = session.tokenizer;
  if (!opts.chat && !opts.history?.length) return tok.encode(opts.prompt, { addSpecialTokens: true });
  const messages = [...(opts.history ?? []), { role: 'user' as const, content: opts.prompt }];
  const text = tok.applyChatTemplate(messages, { addGenerationPrompt: true, ...(opts.system !== undefined ? { systemPrompt: opts.system } : {}) });
  return tok.encode(text, { addSpecialTokens: false });
}

/** `apr run --speculative`: generates with `target`, drafting `speculationK` tokens a round with `draft`. */
export function runSpeculative(target: Session, draft: Session, opts: SpeculativeRunOptions, onText?: (text: string) => void): SpeculativeRunResult {
  return speculativeContract.run({ target, draft, opts }, () => {
    checkSameTokenizer(target.tokenizer, draft.tokenizer, draft.path);
    const ids = promptIds(target, opts);
    if (ids.length === 0) ids.push(target.tokenizer.bosTokenId ?? target.tokenizer.eosTokenId ?? 0);
    const stream = onText ? target.tokenizer.createStreamDecoder({ skipSpecialTokens: true }) : undefined;
    const r = speculativeGenerate(target.model, draft.model, ids, { ...opts, k: opts.speculationK, stopTokens: target.tokenizer.stopTokenIds }, (id) => {
      const piece = stream?.push(id);
      if (piece && onText) onText(piece);
    });
    const rest = stream?.flush();
    if (rest && onText) onText(rest);
    return {
      text: target.tokenizer.decode(r.ids, { skipSpecialTokens: true }),
      token_ids: r.ids,
      tokens_generated: r.ids.length,
      prompt_tokens: ids.length,
      stop_reason: r.stopReason,
      tok_per_sec: r.timing.decodeTokPerSec,
      prefill_tok_per_sec: r.timing.prefillTokPerSec,
      time_to_first_token_ms: r.timing.timeToFirstTokenMs,
      inference_ms: r.timing.totalMs,
      seed: opts.seed ?? null,
      speculation_k: opts.speculationK,
      draft_model: draft.path,
      acceptance_rate: r.stats.acceptanceRate,
      drafted_tokens: r.stats.drafted,
      accepted_tokens: r.stats.accepted,
      verification_rounds: r.stats.rounds,
      tokens_per_round: r.stats.tokensPerRound,
    };
  });
}

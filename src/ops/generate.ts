import { defineContract } from '../contract/index.js';
import { type GenerateResult, type OnToken, fitContext, generate } from '../model/generate.js';
import type { Session } from '../model/session.js';
import type { SamplingOptions } from '../model/sampling.js';
import { type PromptRequest, promptTokenIds } from '../tokenizer/index.js';

export interface RunOptions extends SamplingOptions, PromptRequest {
  maxTokens: number;
  /** Receives a warning (one line) when prompt + maxTokens would run past the model's context. */
  onWarning?: (message: string) => void;
}

export interface RunResult {
  text: string;
  token_ids: number[];
  tokens_generated: number;
  prompt_tokens: number;
  stop_reason: 'stop' | 'length' | 'callback';
  tok_per_sec: number;
  prefill_tok_per_sec: number;
  time_to_first_token_ms: number;
  inference_ms: number;
  seed: number | null;
}

export const runPromptContract = defineContract<{ session: Session; opts: RunOptions }, RunResult>({
  id: 'op-run-v1',
  equation: 'run',
  spec: 'run(m, p) = decode(generate(m, encode(template(p)))); greedy when temperature = 0; same seed ⇒ same output',
  pre: [
    ['maxTokens is a non-negative integer', ({ opts }) => Number.isInteger(opts.maxTokens) && opts.maxTokens >= 0],
    ['temperature ≥ 0', ({ opts }) => (opts.temperature ?? 0) >= 0],
    ['top-p in (0, 1]', ({ opts }) => opts.topP === undefined || (opts.topP > 0 && opts.topP <= 1)],
    ['min-p in [0, 1]', ({ opts }) => opts.minP === undefined || (opts.minP >= 0 && opts.minP <= 1)],
    ['top-k ≥ 0', ({ opts }) => opts.topK === undefined || (Number.isInteger(opts.topK) && opts.topK >= 0)],
    ['repetition penalty > 0', ({ opts }) => opts.repetitionPenalty === undefined || opts.repetitionPenalty > 0],
  ],
  post: [
    ['at most maxTokens generated', ({ opts }, r) => r.tokens_generated <= opts.maxTokens],
    ['text decodes the ids', ({ session }, r) => r.text === session.tokenizer.decode(r.token_ids, { skipSpecialTokens: true })],
  ],
});

/** The decoder `runPrompt` drives: plain `generate` by default; speculative decoding passes its own. */
export type Decode = (promptIds: number[], opts: RunOptions & { stopTokens: readonly number[] }, onToken: OnToken) => Pick<GenerateResult, 'ids' | 'stopReason' | 'timing'>;

/**
 * `apr run`: generates a completion; `onText` receives the text as it is produced (for --stream). Prompt +
 * generated tokens stay within the model's context (see fitContext: a prompt too long throws, maxTokens is
 * lowered with a warning).
 */
export function runPrompt(session: Session, opts: RunOptions, onText?: (text: string) => void, decode?: Decode): RunResult {
  return runPromptContract.run({ session, opts }, () => {
    const ids = promptTokenIds(session.tokenizer, opts);
    if (ids.length === 0) ids.push(session.tokenizer.bosTokenId ?? session.tokenizer.eosTokenId ?? 0);
    const fit = fitContext(ids.length, opts.maxTokens, session.model.config.max_position_embeddings);
    if (fit.warning !== undefined) opts.onWarning?.(fit.warning);
    const stream = onText ? session.tokenizer.createStreamDecoder({ skipSpecialTokens: true }) : undefined;
    const onToken = (id: number): void => {
      const piece = stream?.push(id);
      if (piece && onText) onText(piece);
    };
    const decodeOpts = { ...opts, maxTokens: fit.maxTokens, stopTokens: session.tokenizer.stopTokenIds };
    const r = decode ? decode(ids, decodeOpts, onToken) : generate(session.model, ids, decodeOpts, onToken);
    const rest = stream?.flush();
    if (rest && onText) onText(rest);
    return {
      text: session.tokenizer.decode(r.ids, { skipSpecialTokens: true }),
      token_ids: r.ids,
      tokens_generated: r.ids.length,
      prompt_tokens: ids.length,
      stop_reason: r.stopReason,
      tok_per_sec: r.timing.decodeTokPerSec,
      prefill_tok_per_sec: r.timing.prefillTokPerSec,
      time_to_first_token_ms: r.timing.timeToFirstTokenMs,
      inference_ms: r.timing.totalMs,
      seed: opts.seed ?? null,
    };
  });
}

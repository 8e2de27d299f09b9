import { defineContract } from '../contract/index.js';
import { generate } from '../model/generate.js';
import type { Session } from '../model/session.js';
import type { SamplingOptions } from '../model/sampling.js';
import type { ChatMessage } from '../tokenizer/index.js';

export interface RunOptions extends SamplingOptions {
  prompt: string;
  maxTokens: number;
  /** Wrap the prompt in the model's chat template as a user turn. */
  chat?: boolean;
  system?: string;
  /** Earlier turns for multi-turn chat (the prompt is the newest user turn). */
  history?: readonly ChatMessage[];
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

/** Prompt ids: the chat template when asked (or for history), else the raw prompt (no special tokens added). */
function promptIds(session: Session, opts: Pick<RunOptions, 'prompt' | 'chat' | 'system' | 'history'>): number[] {
  const tok = session.tokenizer;
  if (!opts.chat && !opts.history?.length) return tok.encode(opts.prompt, { addSpecialTokens: true });
  const messages: ChatMessage[] = [...(opts.history ?? []), { role: 'user', content: opts.prompt }];
  const text = tok.applyChatTemplate(messages, { addGenerationPrompt: true, ...(opts.system !== undefined ? { systemPrompt: opts.system } : {}) });
  return tok.encode(text, { addSpecialTokens: false });
}

/** `apr run`: generates a completion; `onText` receives the text as it is produced (for --stream). */
export function runPrompt(session: Session, opts: RunOptions, onText?: (text: string) => void): RunResult {
  return runPromptContract.run({ session, opts }, () => {
    const ids = promptIds(session, opts);
    if (ids.length === 0) ids.push(session.tokenizer.bosTokenId ?? session.tokenizer.eosTokenId ?? 0);
    const stream = onText ? session.tokenizer.createStreamDecoder({ skipSpecialTokens: true }) : undefined;
    const r = generate(session.model, ids, { ...opts, stopTokens: session.tokenizer.stopTokenIds }, (id) => {
      if (stream && onText) {
        const piece = stream.push(id);
        if (piece) onText(piece);
      }
    });
    if (stream && onText) {
      const rest = stream.flush();
      if (rest) onText(rest);
    }
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

/**
 * One choice of a request: its sequence through the engine, decoded to text as it comes, with stop strings
 * applied on the text and log-probabilities attached to the text they belong to.
 */
import type { Tokenizer } from '../tokenizer/index.js';
import type { CompletionEngine, SamplingParams, TokenEvent } from './engine.js';
import { StopMatcher } from './stop.js';

export interface TokenInfo {
  token: string;
  logprob: number;
  bytes: number[];
}

export interface LogprobEntry extends TokenInfo {
  top: TokenInfo[];
}

export interface ChoiceSpec {
  promptIds: readonly number[];
  maxTokens: number;
  sampling: SamplingParams;
  stop: readonly string[];
  /** Alternatives per token; undefined = no log-probabilities. */
  topLogprobs?: number;
}

/** Text released to the client, with the log-probabilities of the tokens consumed since the last delta. */
export interface ChoiceDelta {
  text: string;
  logprobs: LogprobEntry[];
}

export interface ChoiceResult {
  text: string;
  finishReason: 'stop' | 'length';
  completionTokens: number;
  logprobs: LogprobEntry[] | undefined;
}

/** Timing observers (the server's histograms). */
export interface ChoiceTimer {
  firstToken(seconds: number): void;
  nextToken(seconds: number): void;
}

export interface ChoiceContext {
  engine: CompletionEngine;
  tokenizer: Tokenizer;
  timer?: ChoiceTimer;
}

function info(tok: Tokenizer, id: number, logprob: number): TokenInfo {
  const token = tok.decodeToken(id);
  return { token, logprob, bytes: Array.from(Buffer.from(token, 'utf8')) };
}

function entry(tok: Tokenizer, ev: TokenEvent): LogprobEntry | undefined {
  if (ev.logprob === undefined) return undefined;
  return { ...info(tok, ev.id, ev.logprob), top: (ev.top ?? []).map((t) => info(tok, t.id, t.logprob)) };
}

/** Runs one choice; `onDelta` (streaming) receives text as soon as no stop string can start in it. */
export async function runChoice(ctx: ChoiceContext, spec: ChoiceSpec, signal: AbortSignal, onDelta?: (d: ChoiceDelta) => void): Promise<ChoiceResult> {
  const { engine, tokenizer, timer } = ctx;
  const stream = tokenizer.createStreamDecoder({ skipSpecialTokens: true });
  const matcher = new StopMatcher(spec.stop);
  const all: LogprobEntry[] = [];
  let unsent: LogprobEntry[] = [];
  let text = '';
  const emit = (piece: string): void => {
    text += piece;
    if (piece.length > 0 || unsent.length > 0) onDelta?.({ text: piece, logprobs: unsent });
    unsent = [];
  };
  const release = (piece: string): boolean => {
    const scan = matcher.push(piece);
    if (scan.text.length > 0) emit(scan.text);
    return scan.stopped;
  };
  let count = 0;
  let last = performance.now();
  const t0 = last;
  const onToken = (ev: TokenEvent): boolean => {
    const now = performance.now();
    if (count++ === 0) timer?.firstToken((now - t0) / 1000);
    else timer?.nextToken((now - last) / 1000);
    last = now;
    const e = entry(tokenizer, ev);
    if (e) {
      all.push(e);
      unsent.push(e);
    }
    return !release(stream.push(ev.id));
  };
  const request = { promptIds: spec.promptIds, maxTokens: spec.maxTokens, sampling: spec.sampling, stopTokens: tokenizer.stopTokenIds, topLogprobs: spec.topLogprobs };
  const r = await engine.submit(request, { signal, onToken });
  if (!matcher.stopped) release(stream.flush());
  emit(matcher.flush());
  const stopped = matcher.stopped;
  return {
    text: stopped || spec.stop.length > 0 ? text : tokenizer.decode(r.tokens, { skipSpecialTokens: true }),
    finishReason: stopped ? 'stop' : r.finishReason,
    completionTokens: r.tokens.length,
    logprobs: spec.topLogprobs === undefined ? undefined : all,
  };
}

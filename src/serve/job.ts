/**
 * A completion request after validation: its choices (prompts × n) run through the engine together, the
 * answer sent as one JSON body or as server-sent events. The endpoint-specific shapes (text completion,
 * chat completion) come in through `ResponseShape`.
 */
import type { ServerResponse } from 'node:http';
import { randomInt } from 'node:crypto';
import type { Tokenizer } from '../tokenizer/index.js';
import { type CompletionEngine, type SamplingParams, waitingAfter } from './engine.js';
import { badRequest, busy, toApiError } from './errors.js';
import { type ChoiceDelta, type ChoiceResult, type ChoiceSpec, runChoice } from './generation.js';
import type { ServerMetrics } from './metrics.js';
import type { CommonBody } from './schemas.js';
import { stopList } from './schemas.js';
import { SseWriter } from './sse.js';

export interface ServeContext {
  engine: CompletionEngine;
  tokenizer: Tokenizer;
  metrics: ServerMetrics;
  modelId: string;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface Meta {
  id: string;
  created: number;
  model: string;
}

/** How one endpoint shapes its answers. */
export interface ResponseShape {
  /** A streamed delta of choice `index` (`first`: its first chunk). */
  chunk(meta: Meta, index: number, d: ChoiceDelta, first: boolean): unknown;
  /** The last streamed chunk of choice `index`. */
  finish(meta: Meta, index: number, reason: ChoiceResult['finishReason']): unknown;
  /** The streamed usage chunk (stream_options.include_usage). */
  usage(meta: Meta, usage: Usage): unknown;
  /** The whole answer (no streaming). */
  response(meta: Meta, choices: readonly ChoiceResult[], usage: Usage): unknown;
}

export interface Job {
  prompts: number[][];
  body: CommonBody;
  /** max_tokens when the body gives none: a number, or undefined for "up to the context". */
  defaultMaxTokens: number | undefined;
  topLogprobs: number | undefined;
  idPrefix: string;
  /** The body field the prompts came from (named by a context error). */
  promptParam: 'prompt' | 'messages';
}

/** Prompt ids that fit the context, and the tokens left for generation. */
function fit(ids: number[], requested: number | undefined, ctx: ServeContext, param: string): { ids: number[]; maxTokens: number } {
  const t = ctx.tokenizer;
  if (ids.length === 0) ids.push(t.bosTokenId ?? t.eosTokenId ?? 0);
  const context = ctx.engine.contextLength;
  if (ids.length >= context) {
    throw badRequest(`the prompt is ${ids.length} tokens, the server's context is ${context} tokens (prompt + generated tokens); shorten the prompt`, param, 'context_length_exceeded');
  }
  const room = context - ids.length;
  return { ids, maxTokens: Math.min(requested ?? room, room) };
}

function sampling(body: CommonBody): SamplingParams {
  return { temperature: body.temperature ?? 1, topP: body.top_p ?? 1, topK: body.top_k ?? 0, seed: body.seed ?? randomInt(2 ** 31) };
}

function choiceSpecs(job: Job, ctx: ServeContext): ChoiceSpec[] {
  const n = job.body.n ?? 1;
  const base = sampling(job.body);
  const stop = stopList(job.body.stop);
  return job.prompts.flatMap((prompt) => {
    const { ids, maxTokens } = fit(prompt, job.body.max_tokens ?? job.defaultMaxTokens, ctx, job.promptParam);
    return Array.from({ length: n }, (_, i) => ({ promptIds: ids, maxTokens, sampling: { ...base, seed: base.seed + i }, stop, topLogprobs: job.topLogprobs }));
  });
}

function usageOf(specs: readonly ChoiceSpec[], results: readonly ChoiceResult[], n: number): Usage {
  const prompt = specs.filter((_, k) => k % n === 0).reduce((a, s) => a + s.promptIds.length, 0);
  const completion = results.reduce((a, r) => a + r.completionTokens, 0);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** Runs every choice; the first failure cancels the others. */
async function runAll(ctx: ServeContext, specs: ChoiceSpec[], signal: AbortSignal, onDelta?: (k: number, d: ChoiceDelta) => void, onDone?: (k: number, r: ChoiceResult) => void): Promise<ChoiceResult[]> {
  const ac = new AbortController();
  const stop = (): void => ac.abort(signal.reason);
  signal.addEventListener('abort', stop, { once: true });
  const cc = { engine: ctx.engine, tokenizer: ctx.tokenizer, timer: ctx.metrics.timer };
  try {
    return await Promise.all(specs.map(async (spec, k) => {
      const r = await runChoice(cc, spec, ac.signal, onDelta && ((d) => onDelta(k, d)));
      onDone?.(k, r);
      return r;
    }));
  } catch (err) {
    ac.abort(err);
    throw err;
  } finally {
    signal.removeEventListener('abort', stop);
  }
}

async function stream(ctx: ServeContext, job: Job, specs: ChoiceSpec[], meta: Meta, shape: ResponseShape, res: ServerResponse, signal: AbortSignal): Promise<Usage> {
  const sse = new SseWriter(res);
  sse.open();
  const started = new Set<number>();
  try {
    const results = await runAll(ctx, specs, signal, (k, d) => {
      sse.send(shape.chunk(meta, k, d, !started.has(k)));
      started.add(k);
    }, (k, r) => sse.send(shape.finish(meta, k, r.finishReason)));
    const usage = usageOf(specs, results, job.body.n ?? 1);
    if (job.body.stream_options?.include_usage) sse.send(shape.usage(meta, usage));
    sse.done();
    return usage;
  } catch (err) {
    // headers are gone: the error travels as an event, then the stream ends
    if (!signal.aborted) sse.send(toApiError(err).body());
    sse.done();
    throw err;
  }
}

/** Answers one validated completion request; returns its token counts. */
export async function runJob(ctx: ServeContext, job: Job, shape: ResponseShape, res: ServerResponse, signal: AbortSignal): Promise<Usage> {
  const specs = choiceSpecs(job, ctx);
  const e = ctx.engine;
  if (waitingAfter(e, specs.length) > e.maxQueue) throw busy(e.queueLength());
  const meta: Meta = { id: `${job.idPrefix}-${randomInt(2 ** 47).toString(36)}`, created: Math.floor(Date.now() / 1000), model: ctx.modelId };
  if (job.body.stream) return stream(ctx, job, specs, meta, shape, res, signal);
  const results = await runAll(ctx, specs, signal);
  const usage = usageOf(specs, results, job.body.n ?? 1);
  const body = JSON.stringify(shape.response(meta, results, usage));
  res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  return usage;
}

import { defineContract } from '../contract/index.js';
import type { Model } from './decoder.js';
import type { KVCache } from './kv-cache.js';
import { Rng, type SamplingOptions, sampleToken } from './sampling.js';

export interface GenerateOptions extends SamplingOptions {
  /** Most tokens to generate (the stop token, if met, is not counted or returned). */
  maxTokens: number;
  /** Generation ends when one of these is sampled. */
  stopTokens?: readonly number[];
  /** An empty cache to use (lets a caller keep the keys/values afterwards); default a fresh one. */
  cache?: KVCache;
}

export interface GenerateTiming {
  promptTokens: number;
  generatedTokens: number;
  prefillMs: number;
  /** Time of the one-token forward passes after the prefill. */
  decodeMs: number;
  totalMs: number;
  timeToFirstTokenMs: number;
  prefillTokPerSec: number;
  decodeTokPerSec: number;
}

export interface GenerateResult {
  /** Generated ids, without the prompt and without the stop token. */
  ids: number[];
  stopReason: 'stop' | 'length' | 'callback';
  /** The stop token that ended generation, when stopReason is 'stop'. */
  stopToken?: number;
  timing: GenerateTiming;
}

/** Called for each generated token (not the stop token); returning false ends generation. */
export type OnToken = (id: number, index: number) => boolean | void;

interface GenerateInput {
  model: Model;
  promptIds: ArrayLike<number>;
  opts: GenerateOptions;
}

export const generateContract = defineContract<GenerateInput, GenerateResult>({
  id: 'model-generate-v1',
  equation: 'generate',
  spec: 'y_{i} = sample(logits(prompt ++ y_{<i})), i < maxTokens, until y_i ∈ stopTokens; logits from the KV-cached decoder',
  pre: [
    ['prompt non-empty', ({ promptIds }) => promptIds.length >= 1],
    ['maxTokens ≥ 0', ({ opts }) => Number.isInteger(opts.maxTokens) && opts.maxTokens >= 0],
    ['cache empty', ({ opts }) => opts.cache === undefined || opts.cache.length === 0],
  ],
  post: [
    ['at most maxTokens', ({ opts }, r) => r.ids.length <= opts.maxTokens],
    ['no stop token inside', ({ opts }, r) => !r.ids.some((id) => (opts.stopTokens ?? []).includes(id))],
  ],
});

/** A prompt that leaves no room in the model's context for a new token (llama.cpp: "prompt is too long"). */
export class PromptTooLongError extends Error {
  readonly promptTokens: number;
  readonly contextLength: number;
  constructor(promptTokens: number, contextLength: number) {
    super(`prompt is too long: ${promptTokens} tokens, the model's context is ${contextLength} tokens; nothing was generated (shorten the prompt)`);
    this.name = 'PromptTooLongError';
    this.promptTokens = promptTokens;
    this.contextLength = contextLength;
  }
}

/** How many tokens one generation may produce within the model's context, and why it was lowered. */
export interface ContextFit {
  maxTokens: number;
  /** Set when `maxTokens` was lowered to what the context leaves. */
  warning?: string;
}

/**
 * Fits one generation into the model's context as llama.cpp does (prompt + generated tokens ≤ context):
 * throws PromptTooLongError when the prompt leaves no room for a new token, and lowers `maxTokens` (with a
 * warning to print once) when prompt + maxTokens would run past the context.
 */
export function fitContext(promptTokens: number, maxTokens: number, contextLength: number): ContextFit {
  if (promptTokens >= contextLength) throw new PromptTooLongError(promptTokens, contextLength);
  const room = contextLength - promptTokens;
  if (maxTokens <= room) return { maxTokens };
  return {
    maxTokens: room,
    warning: `prompt (${promptTokens} tokens) + --max-tokens ${maxTokens} exceeds the model's context of ${contextLength} tokens; generation stops at the context, after at most ${room} tokens`,
  };
}

function tokPerSec(tokens: number, ms: number): number {
  return ms > 0 ? (tokens * 1000) / ms : 0;
}

/**
 * Autoregressive generation with the KV cache: one batched prefill of the prompt, then one forward pass
 * per generated token. Deterministic for a given `seed`.
 */
export function generate(model: Model, promptIds: ArrayLike<number>, opts: GenerateOptions, onToken?: OnToken): GenerateResult {
  return generateContract.run({ model, promptIds, opts }, () => {
    // Stryker disable next-line ArithmeticOperator: the capacity is a hint, the cache grows on demand
    const cache = opts.cache ?? model.createCache(promptIds.length + opts.maxTokens);
    try {
      return run(model, Array.from(promptIds), opts, cache, onToken);
    } finally {
      if (opts.cache === undefined) cache.dispose();
    }
  });
}

/**
 * The forward pass plus the pick of the next token. Greedy without a repetition penalty goes through
 * `forwardGreedy` where the model has it (the arg-max on the device, only the id read back): the same id as
 * `sampleToken`, which is the arg-max of the same logits with ties to the lowest index.
 */
function nextToken(model: Model, opts: GenerateOptions, cache: KVCache, history: readonly number[]): (tokens: number[], pos: number) => number {
  const greedy = (opts.temperature ?? 0) <= 0 && (opts.repetitionPenalty ?? 1) === 1 ? model.forwardGreedy?.bind(model) : undefined;
  if (greedy !== undefined && model.greedyAhead !== undefined) return pickAhead(model, greedy, cache, opts.maxTokens - 1);
  if (greedy !== undefined) return (tokens, pos) => greedy(tokens, pos, cache);
  const rng = new Rng(opts.seed ?? 0);
  return (tokens, pos) => sampleToken(model.forward(tokens, pos, cache), opts, rng, history);
}

/** Chunks of decode steps run ahead on the device: 4 steps first, doubling to 32 (at most `steps` in all). */
const AHEAD_FIRST = 4;
const AHEAD_MAX = 32;

/**
 * Greedy steps through `greedyAhead` where the backend keeps picks on the device: each chunk of steps is
 * recorded at once and read back once, and later calls are served from the chunk (the token they pass is
 * the pick the device fed already). Steps past the end of generation are discarded by the caller (`run`
 * cuts the cache back). Falls back to one `forwardGreedy` per step where `greedyAhead` runs nothing.
 */
function pickAhead(model: Model, greedy: NonNullable<Model['forwardGreedy']>, cache: KVCache, steps: number): (tokens: number[], pos: number) => number {
  let queue: number[] = [];
  let chunk = AHEAD_FIRST;
  let left = steps;
  let ahead = true;
  return (tokens, pos) => {
    if (pos === 0 || !ahead) return greedy(tokens, pos, cache);
    if (queue.length === 0) {
      const got = model.greedyAhead?.(tokens[0] as number, pos, cache, Math.max(1, Math.min(chunk, left)));
      if (got === undefined) {
        ahead = false;
        return greedy(tokens, pos, cache);
      }
      left -= got.length;
      chunk = Math.min(2 * chunk, AHEAD_MAX);
      queue = got;
    }
    return queue.shift() as number;
  };
}

function run(model: Model, prompt: number[], opts: GenerateOptions, cache: KVCache, onToken?: OnToken): GenerateResult {
  // Stryker disable next-line ArrayDeclaration: a string in the stop set never equals a sampled (numeric) id
  const stops = new Set(opts.stopTokens ?? []);
  const history = [...prompt];
  const next = nextToken(model, opts, cache, history);
  const ids: number[] = [];
  const t0 = performance.now();
  let pending = opts.maxTokens > 0 ? next(prompt, 0) : 0;
  const prefillMs = performance.now() - t0;
  let firstMs = 0;
  let decodeMs = 0;
  let decodeSteps = 0;
  let stopReason: GenerateResult['stopReason'] = 'length';
  let stopToken: number | undefined;
  while (ids.length < opts.maxTokens) {
    const id = pending;
    if (ids.length === 0) firstMs = performance.now() - t0;
    if (stops.has(id)) {
      stopReason = 'stop';
      stopToken = id;
      break;
    }
    ids.push(id);
    history.push(id);
    if (onToken?.(id, ids.length - 1) === false) {
      stopReason = 'callback';
      break;
    }
    if (ids.length >= opts.maxTokens) break;
    const t1 = performance.now();
    pending = next([id], history.length - 1);
    decodeMs += performance.now() - t1;
    decodeSteps++;
  }
  // steps run ahead past the end leave positions the token-by-token loop would not have written
  if (cache.length > prompt.length + decodeSteps) cache.truncate(prompt.length + decodeSteps);
  const totalMs = performance.now() - t0;
  const timing: GenerateTiming = {
    promptTokens: prompt.length,
    generatedTokens: ids.length,
    prefillMs,
    decodeMs,
    totalMs,
    timeToFirstTokenMs: firstMs,
    prefillTokPerSec: tokPerSec(prompt.length, prefillMs),
    decodeTokPerSec: tokPerSec(decodeSteps, decodeMs),
  };
  return stopToken === undefined ? { ids, stopReason, timing } : { ids, stopReason, stopToken, timing };
}

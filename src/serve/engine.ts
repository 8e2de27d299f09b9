/**
 * What the server needs from a decoder: `submit` one sequence with per-token hooks and a cancel signal,
 * plus the queue length and slots for /metrics. `createBatchCompletionEngine` adapts the continuous-batching
 * `BatchEngine` (src/model/batch-decoder.ts): every request in flight is decoded in one batched step.
 */
import { BatchEngine, BatchQueueFullError } from '../model/batch-decoder.js';
import type { Model } from '../model/decoder.js';
import { type LogitsTap, tapLogits } from './logits-tap.js';

export interface SamplingParams {
  temperature: number;
  topP: number;
  topK: number;
  seed: number;
}

export interface EngineRequest {
  promptIds: readonly number[];
  maxTokens: number;
  sampling: SamplingParams;
  /** Generation ends when one of these is sampled (the tokenizer's end-of-turn tokens). */
  stopTokens: readonly number[];
  /** How many alternatives to report with each token's log-probability; undefined = no log-probabilities. */
  topLogprobs?: number;
}

export interface TokenLogprob {
  id: number;
  logprob: number;
}

export interface TokenEvent {
  id: number;
  /** log p(id | prefix) under the model (log-softmax of the raw logits), when asked for. */
  logprob?: number;
  /** The most likely alternatives, most likely first, when asked for. */
  top?: TokenLogprob[];
}

export interface EngineHooks {
  /** Each generated token (never the stop token); returning false ends the sequence ('stop'). */
  onToken(ev: TokenEvent): boolean | void;
  /** Aborting rejects the request and frees its slot at once. */
  signal: AbortSignal;
}

export interface EngineResult {
  /** 'stop': a stop token or onToken returned false; 'length': maxTokens reached. */
  finishReason: 'stop' | 'length';
  tokens: number[];
  timeToFirstTokenMs: number;
  queueMs: number;
}

export interface CompletionEngine {
  /** Sequences decoded together at most. */
  readonly slots: number;
  /** Positions per sequence: prompt + generated tokens. */
  readonly contextLength: number;
  readonly maxQueue: number;
  queueLength(): number;
  activeCount(): number;
  /** Rejects with QueueFullError when maxQueue requests are already waiting. */
  submit(req: EngineRequest, hooks: EngineHooks): Promise<EngineResult>;
  close(): void;
}

/** Requests that would wait for a slot once `joining` more sequences are submitted. */
export function waitingAfter(e: CompletionEngine, joining: number): number {
  return Math.max(0, e.queueLength() + e.activeCount() + joining - e.slots);
}

export class QueueFullError extends Error {
  constructor(readonly waiting: number) {
    super(`queue full (${waiting} requests waiting)`);
    this.name = 'QueueFullError';
  }
}

export interface EngineOptions {
  parallel?: number;
  kvBudget?: number;
  contextLength?: number;
  maxQueue?: number;
}

function tokenEvent(tap: LogitsTap, req: EngineRequest, id: number): TokenEvent {
  if (req.topLogprobs === undefined) return { id };
  const lp = tap.logprobs(req.promptIds, id, req.topLogprobs);
  return lp ? { id, logprob: lp.logprob, top: lp.top } : { id };
}

class BatchCompletionEngine implements CompletionEngine {
  private readonly tap: LogitsTap;
  private readonly engine: BatchEngine;

  constructor(model: Model, readonly maxQueue: number, opts: EngineOptions) {
    this.tap = tapLogits(model);
    const { parallel, kvBudget, contextLength } = opts;
    // the server bounds the queue itself (requests × n, see waitingAfter); the engine's bound is a backstop
    this.engine = new BatchEngine(this.tap.model, { parallel, kvBudget, contextLength, maxQueue: maxQueue + 256 });
  }

  get slots(): number {
    return this.engine.slots;
  }

  get contextLength(): number {
    return this.engine.contextLength;
  }

  queueLength(): number {
    return this.engine.queued;
  }

  activeCount(): number {
    return this.engine.active;
  }

  async submit(req: EngineRequest, hooks: EngineHooks): Promise<EngineResult> {
    // a distinct prompt array per sequence: the tap finds a sequence's cache, and so its logits, through it
    const promptIds = [...req.promptIds];
    const own = { ...req, promptIds };
    const s = req.sampling;
    const request = { promptIds, maxTokens: req.maxTokens, stopTokens: req.stopTokens, temperature: s.temperature, topP: s.topP, topK: s.topK, seed: s.seed };
    this.tap.expect(promptIds);
    try {
      const r = await this.engine.submit(request, { signal: hooks.signal, onToken: (id) => hooks.onToken(tokenEvent(this.tap, own, id)) });
      return { finishReason: r.stopReason === 'length' ? 'length' : 'stop', tokens: r.ids, timeToFirstTokenMs: r.timing.timeToFirstTokenMs, queueMs: r.timing.queueMs };
    } catch (err) {
      if (err instanceof BatchQueueFullError) throw new QueueFullError(this.engine.queued);
      throw err;
    } finally {
      this.tap.forget(promptIds);
    }
  }

  close(): void {
    this.engine.close();
  }
}

/** The continuous-batching engine behind the server; `maxQueue` bounds the requests waiting for a slot. */
export function createBatchCompletionEngine(model: Model, opts: EngineOptions = {}): CompletionEngine {
  return new BatchCompletionEngine(model, opts.maxQueue ?? 64, opts);
}

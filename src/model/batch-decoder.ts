/**
 * Continuous batching: many sequences decoded together, one pass over the weights per step.
 *
 * ```ts
 * const engine = new BatchEngine(model, { parallel: 16, kvBudget: 256 * 2 ** 20, contextLength: 1024 });
 * const r = await engine.submit({ promptIds, maxTokens: 128, temperature: 0.8, seed: 7, stopTokens: [0] },
 *                               { onToken: (id, i) => { ... }, signal: controller.signal });
 * // r: { ids, stopReason: 'stop' | 'length' | 'callback', stopToken?, timing, logprobs? }
 * ```
 *
 * - Slots. Each slot owns one KV cache of `contextLength` positions (created on first use, reused after);
 *   `slots = min(parallel, ⌊kvBudget / (2 · layers · kvHeads · headDim · contextLength · 4)⌋)`. A request
 *   needs `promptIds.length + maxTokens ≤ contextLength`, else `submit` rejects with a RangeError. Where
 *   the model has `createCacheArena` (WebGPU), all slots' caches are made at the first request, in one
 *   buffer per layer, so that each step runs a layer's attention for every row in one call.
 * - Steps. Between steps, finished sequences leave and waiting ones take the free slots (FIFO): a joining
 *   sequence's prompt runs as its own `forward` into its slot's cache and its first token is sampled. Each
 *   step then feeds every live sequence its last token through one `forwardBatch` (one matmul per weight
 *   over all rows, attention per sequence) and samples each row with the sequence's own generator.
 * - Prefix reuse. A joining sequence starts from the longest prefix of its prompt that a slot's cache holds
 *   (a live sequence's, or a freed slot's not yet reused): those positions are copied (or kept, when it gets
 *   that slot) and only the rest of the prompt is run; the last prompt token always runs, for the first
 *   token's logits. The n samples of one prompt prefill it once. Rows do not depend on how a prefill is cut
 *   (Backend contract), so a reused prefix gives the bits a full prefill gives.
 * - Batch invariance. A sequence's tokens equal `generate(model, promptIds, request)`'s for the same request
 *   (same seed), whatever else shares the batch and whatever the number of slots: every kernel row is
 *   bit-identical to its one-row call (Backend contract) and each sequence has its own `Rng(seed)`.
 * - Queue. At most `maxQueue` requests wait for a slot; `submit` beyond that rejects with
 *   `BatchQueueFullError` (a server answers "busy"), while `enqueue` waits for room (batch jobs).
 * - Cancellation. Aborting a request's `signal` rejects its promise with the signal's reason at once and
 *   frees its slot (a waiting request is dropped from the queue). `onToken` returning false ends the
 *   sequence normally ('callback'); `onToken` throwing rejects that request only. `close()` rejects all.
 * - Scheduling. The engine runs its steps on the event loop, yielding between steps (`setImmediate`), so
 *   requests submitted in the same tick start together and other work (sandboxes, sockets) goes on. The
 *   engine must be the model's only user while requests are in flight (steps share the model's scratch).
 */
import { defineContract } from '../contract/index.js';
import { DEFAULT_CONTEXT, DEFAULT_KV_BUDGET, DEFAULT_PARALLEL, slotCount } from './batch-budget.js';
import { PrefixIndex } from './batch-prefix.js';
import { type BatchRequest, type BatchResult, Sequence, type SubmitOptions } from './batch-sequence.js';
import { forwardBatchAsync } from './batch-step.js';
import type { Model } from './decoder.js';
import type { KVCache } from './kv-cache.js';

export type { BatchRequest, BatchResult, BatchTiming, SubmitOptions } from './batch-sequence.js';

export interface BatchEngineOptions {
  /** Most sequences decoded together (default 16). */
  parallel?: number;
  /** Bytes of KV cache for all slots together (default 512 MiB). */
  kvBudget?: number;
  /** Positions per slot (default min(max_position_embeddings, 2048)). */
  contextLength?: number;
  /** Most requests waiting for a slot (default 1024). */
  maxQueue?: number;
}

export class BatchQueueFullError extends Error {
  constructor(size: number) {
    super(`batch queue full (${size} requests waiting)`);
    this.name = 'BatchQueueFullError';
  }
}

interface SubmitInput {
  request: BatchRequest;
  contextLength: number;
}

export const batchGenerateContract = defineContract<SubmitInput, BatchResult>({
  id: 'model-batch-decoder-v1',
  equation: 'batch_generate',
  spec: 'submit(r) ≡ generate(model, r.promptIds, r) for every co-scheduled batch; |ids| ≤ maxTokens, stop ∉ ids',
  pre: [
    ['prompt non-empty', ({ request }) => request.promptIds.length >= 1],
    ['maxTokens a non-negative integer', ({ request }) => Number.isInteger(request.maxTokens) && request.maxTokens >= 0],
    ['prompt + maxTokens fit a slot', ({ request, contextLength }) => request.promptIds.length + request.maxTokens <= contextLength],
  ],
  post: [
    ['at most maxTokens', ({ request }, r) => r.ids.length <= request.maxTokens],
    ['no stop token inside', ({ request }, r) => !r.ids.some((id) => (request.stopTokens ?? []).includes(id))],
  ],
});

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class BatchEngine {
  readonly slots: number;
  readonly contextLength: number;
  private readonly maxQueue: number;
  private readonly queue: Sequence[] = [];
  private live: Sequence[] = [];
  private readonly free: KVCache[] = [];
  private readonly caches: KVCache[] = [];
  private readonly roomWaiters: (() => void)[] = [];
  private readonly unwatch = new Map<Sequence, () => void>();
  private readonly prefixes = new PrefixIndex();
  /** The slots' caches in one buffer per layer (see Model.createCacheArena); null where the model has none. */
  private arena: { readonly caches: readonly KVCache[]; dispose(): void } | null | undefined;
  private running = false;
  private closed = false;

  constructor(readonly model: Model, opts: BatchEngineOptions = {}) {
    const c = model.config;
    this.contextLength = opts.contextLength ?? Math.min(c.max_position_embeddings, DEFAULT_CONTEXT);
    this.slots = slotCount(c, this.contextLength, opts.kvBudget ?? DEFAULT_KV_BUDGET, opts.parallel ?? DEFAULT_PARALLEL);
    this.maxQueue = opts.maxQueue ?? 1024;
  }

  /** Sequences being decoded now. */
  get active(): number {
    return this.live.length;
  }

  /** Requests waiting for a slot. */
  get queued(): number {
    return this.queue.length;
  }

  /** Starts a request; rejects at once when the queue is full, the request is invalid or the engine closed. */
  submit(request: BatchRequest, opts: SubmitOptions = {}): Promise<BatchResult> {
    try {
      this.admissible(request, opts);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return new Promise<BatchResult>((resolve, reject) => {
      const seq = new Sequence(request, opts, { resolve, reject });
      this.queue.push(seq);
      this.watch(seq);
      this.kick();
    });
  }

  /** `submit`, first waiting while the queue is full. */
  async enqueue(request: BatchRequest, opts: SubmitOptions = {}): Promise<BatchResult> {
    while (!this.closed && this.queue.length >= this.maxQueue) await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    return this.submit(request, opts);
  }

  /** Rejects every waiting and running request and frees the caches; the engine accepts nothing after. */
  close(reason: unknown = new Error('BatchEngine closed')): void {
    this.closed = true;
    for (const seq of [...this.queue, ...this.live]) this.finish(seq, reason);
    for (const wake of this.roomWaiters.splice(0)) wake();
    if (!this.running) this.disposeCaches();
  }

  private admissible(request: BatchRequest, opts: SubmitOptions): void {
    if (this.closed) throw new Error('BatchEngine closed');
    if (opts.signal?.aborted) throw opts.signal.reason instanceof Error ? opts.signal.reason : new Error('aborted');
    batchGenerateContract.checkPre({ request, contextLength: this.contextLength });
    if (this.queue.length >= this.maxQueue) throw new BatchQueueFullError(this.queue.length);
  }

  private watch(seq: Sequence): void {
    const signal = seq.opts.signal;
    if (!signal) return;
    const onAbort = (): void => this.finish(seq, signal.reason);
    // Stryker disable next-line ObjectLiteral,BooleanLiteral: an AbortSignal fires its abort event at most once
    signal.addEventListener('abort', onAbort, { once: true });
    // Stryker disable next-line ArrowFunction,StringLiteral: a listener left on a settled request only calls finish(), which returns at once for a sequence in neither the queue nor the batch
    this.unwatch.set(seq, () => signal.removeEventListener('abort', onAbort));
  }

  private kick(): void {
    if (this.running) return;
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      await nextTurn();
      while (!this.closed) {
        await this.admit();
        if (this.live.length === 0 && this.queue.length === 0) break;
        if (this.live.length > 0) await this.step();
        await nextTurn();
      }
    } catch (err) {
      for (const seq of [...this.queue, ...this.live]) this.finish(seq, err);
    } finally {
      this.running = false;
      if (this.closed) this.disposeCaches();
    }
  }

  /** A free slot holding a prefix of `prompt`, else a new one while under the slot count (freed slots stay donors), else any free one. */
  private takeSlot(prompt: readonly number[]): KVCache | undefined {
    const { cache } = this.prefixes.best(this.free, prompt);
    if (cache !== undefined) return this.free.splice(this.free.indexOf(cache), 1)[0];
    if (this.caches.length >= this.slots) return this.free.pop();
    this.arena ??= this.model.createCacheArena?.(this.slots, this.contextLength) ?? null;
    const fresh = this.arena?.caches[this.caches.length] ?? this.model.createCache(this.contextLength);
    this.caches.push(fresh);
    return fresh;
  }

  /**
   * Starts `cache` from the longest prefix of `prompt` that it or another slot holds, at most all but the last
   * prompt token (the first sample needs its logits); returns the position the prefill goes on from.
   */
  private reusePrefix(prompt: readonly number[], cache: KVCache): number {
    const own = Math.min(this.prefixes.shared(cache, prompt), prompt.length - 1);
    const donor = this.prefixes.best(this.caches, prompt);
    const start = Math.max(own, Math.min(donor.positions, prompt.length - 1));
    if (start > own && donor.cache !== undefined) cache.copyPrefix(donor.cache, start);
    else cache.truncate(own);
    this.prefixes.set(cache, prompt.slice(0, start));
    return start;
  }

  /** Moves waiting requests into free slots: prefill, first token. */
  private async admit(): Promise<void> {
    while (!this.closed && this.queue.length > 0 && this.live.length < this.slots) {
      const seq = this.queue.shift() as Sequence;
      this.roomWaiters.shift()?.();
      seq.cache = this.takeSlot(seq.prompt);
      this.live.push(seq);
      await this.prefill(seq);
    }
  }

  private async prefill(seq: Sequence): Promise<void> {
    const cache = seq.cache as KVCache;
    seq.startPrefill();
    if (seq.request.maxTokens === 0) return this.finish(seq);
    try {
      const start = this.reusePrefix(seq.prompt, cache);
      const rest = seq.prompt.slice(start);
      const model = this.model;
      const logits = model.forwardAsync ? await model.forwardAsync(rest, start, cache) : model.forward(rest, start, cache);
      this.prefixes.set(cache, seq.prompt);
      seq.endPrefill();
      if (this.live.includes(seq) && seq.accept(logits)) this.finish(seq);
    } catch (err) {
      this.prefixes.forget(cache);
      this.finish(seq, err);
    }
  }

  /** One token for every live sequence. */
  private async step(): Promise<void> {
    const batch = [...this.live];
    const fed = batch.map((s) => s.next);
    const caches = batch.map((s) => s.cache as KVCache);
    const t0 = performance.now();
    const logits = await forwardBatchAsync(this.model, fed, caches);
    const ms = performance.now() - t0;
    caches.forEach((c, i) => this.prefixes.push(c, fed[i] as number));
    const V = this.model.config.vocab_size;
    batch.forEach((seq, i) => {
      if (!this.live.includes(seq)) return;
      seq.addStep(ms);
      try {
        if (seq.accept(logits.subarray(i * V, (i + 1) * V))) this.finish(seq);
      } catch (err) {
        this.finish(seq, err);
      }
    });
  }

  /** Settles a request (resolved, or rejected with `error`) and frees its slot or queue place. */
  private finish(seq: Sequence, error?: unknown): void {
    const q = this.queue.indexOf(seq);
    if (q >= 0) {
      this.queue.splice(q, 1);
      this.roomWaiters.shift()?.();
    }
    const l = this.live.indexOf(seq);
    if (l >= 0) {
      this.live.splice(l, 1);
      if (seq.cache) this.free.push(seq.cache);
    }
    if (q < 0 && l < 0) return;
    this.unwatch.get(seq)?.();
    this.unwatch.delete(seq);
    if (error !== undefined) return seq.settle.reject(error);
    try {
      seq.settle.resolve(batchGenerateContract.run({ request: seq.request, contextLength: this.contextLength }, () => seq.result()));
    } catch (err) {
      seq.settle.reject(err);
    }
  }

  private disposeCaches(): void {
    for (const c of this.caches.splice(0)) {
      this.prefixes.forget(c);
      c.dispose();
    }
    this.arena?.dispose();
    this.arena = undefined;
    this.free.length = 0;
  }
}

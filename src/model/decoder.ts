import { allFinite, idsInRange } from '../contract/predicates.js';
import { defineContract } from '../contract/index.js';
import { contractMode } from '../contract/mode.js';
import type { Backend } from '../kernels/types.js';
import type { ArchConfig } from '../tensor/bundle.js';
import { allocRowBuffers, batchCore, checkedBatch, checkedBatchAsync, releaseRowBuffers } from './batch-step.js';
import { KVArena } from './kv-arena.js';
import { type KVCache, KVCacheImpl } from './kv-cache.js';
import { type ActivationObserver, allocScratch, type AttentionBuffers, headLogits, type LayerStack, type PickedIds, releaseScratch, ropeAttend, runLayers, type Scratch } from './layers.js';
import { argmax } from './sampling.js';
import type { DecoderWeights } from './weights.js';

export type { ActivationObserver, ActivationSite } from './layers.js';

export interface ForwardOptions {
  /** Return the logits of every position ([n, vocab]); default only the last position ([vocab]). */
  allLogits?: boolean;
}

/** A loaded decoder-only language model (Llama family, Qwen2). */
export interface Model {
  readonly config: ArchConfig;
  /** Name of the compute backend. */
  readonly backend: string;
  /** Weight dtype per tensor name, as held in memory. */
  readonly weightDtypes: Readonly<Record<string, string>>;
  /** A new empty cache; `capacity` is a hint (it grows on demand). */
  createCache(capacity?: number): KVCache;
  /**
   * `slots` empty caches of `capacity` positions sharing one buffer per layer and K/V, so that a batched step
   * over them runs each layer's attention for all rows at once (a BatchEngine's slots); undefined where the
   * backend cannot (then use `createCache` per slot). `dispose` frees them all.
   */
  createCacheArena?(slots: number, capacity: number): { readonly caches: readonly KVCache[]; dispose(): void } | undefined;
  /**
   * Runs tokens at positions startPos.. through the decoder, appending their keys and values to `cache`
   * (positions ≥ startPos in the cache are dropped first). Returns fresh logits: [vocab] for the last token,
   * or [n, vocab] with `allLogits`.
   */
  forward(tokens: ArrayLike<number>, startPos: number, cache: KVCache, opts?: ForwardOptions): Float32Array;
  /** Logits of every position of `ids` from an empty cache: [ids.length, vocab]. */
  logitsAll(ids: ArrayLike<number>): Float32Array;
  /** `forward` reading results back with the backend's `readAsync` (needed by WebGPU; same values elsewhere). */
  forwardAsync?(tokens: ArrayLike<number>, startPos: number, cache: KVCache, opts?: ForwardOptions): Promise<Float32Array>;
  /** `logitsAll` through `forwardAsync`. */
  logitsAllAsync?(ids: ArrayLike<number>): Promise<Float32Array>;
  /**
   * One decode step of several sequences (continuous batching): token i goes at the next position of
   * caches[i] (distinct caches, lengths may differ). Returns fresh logits [n, vocab]; row i is bit-identical
   * to `forward([tokens[i]], caches[i].length, caches[i])` (see batch-step.ts).
   */
  forwardBatch?(tokens: readonly number[], caches: readonly KVCache[]): Float32Array;
  /** `forwardBatch` reading back with the backend's `readAsync`. */
  forwardBatchAsync?(tokens: readonly number[], caches: readonly KVCache[]): Promise<Float32Array>;
  /**
   * `forward`, then the arg-max of the last position's logits (ties: lowest index, as sampling.ts `argmax`).
   * On a backend with `argmax` the pick runs on the device and only the id comes back.
   */
  forwardGreedy?(tokens: ArrayLike<number>, startPos: number, cache: KVCache): number;
  /** `forwardGreedy` reading back with the backend's `readAsync`. */
  forwardGreedyAsync?(tokens: ArrayLike<number>, startPos: number, cache: KVCache): Promise<number>;
  /**
   * k greedy one-token steps in one go: step i feeds `first` (i = 0) or step i − 1's pick at startPos + i, the
   * picks staying on the device (arg-max, then the embedding of that id), so the host records all k without
   * waiting and reads the k picks back once. The picks equal k `forwardGreedy` calls'; the cache then holds
   * startPos + k positions. Undefined (nothing run) where the backend lacks `argmax` or `embedPicked`.
   */
  greedyAhead?(first: number, startPos: number, cache: KVCache, k: number): number[] | undefined;
  /** `greedyAhead` reading back with the backend's `readAsync`. */
  greedyAheadAsync?(first: number, startPos: number, cache: KVCache, k: number): Promise<number[] | undefined>;
  /** Frees weights and buffers now (otherwise at garbage collection); the model is unusable after. */
  dispose(): void;
}

export interface DecoderOptions {
  /** Tokens per internal step of a long prefill (bounds scratch memory; results do not depend on it). */
  maxBatch?: number;
  observer?: ActivationObserver;
}

class Decoder<B, W> implements Model {
  private scratch: Scratch<B> | undefined;
  /** One row's attention buffers for batched steps (allocated on first use). */
  private row: AttentionBuffers<B> | undefined;
  /** Reused by logitsAll, so repeated calls (perplexity) do not churn cache memory. */
  private spare: KVCache | undefined;
  private disposed = false;
  /** One float: the device arg-max of a greedy step (allocated on first use). */
  private pick: B | undefined;
  /** The picks of a `greedyAhead` run (grown on demand). */
  private picks: { buf: B; length: number } | undefined;
  private readonly maxBatch: number;
  private readonly stack: LayerStack<B, W>;

  constructor(
    readonly config: ArchConfig,
    private readonly weights: DecoderWeights<B, W>,
    private readonly be: Backend<B, W>,
    opts: DecoderOptions,
  ) {
    this.maxBatch = Math.max(1, Math.floor(opts.maxBatch ?? 512));
    this.stack = { config, be, weights, observer: opts.observer };
  }

  get backend(): string {
    return this.be.name;
  }

  get weightDtypes(): Readonly<Record<string, string>> {
    return this.weights.dtypes;
  }

  createCache(capacity?: number): KVCache {
    const c = this.config;
    const geo = { layers: c.num_layers, kvHeads: c.num_kv_heads, headDim: c.head_dim };
    return new KVCacheImpl(this, this.be, geo, capacity ?? Math.min(c.max_position_embeddings, 512));
  }

  createCacheArena(slots: number, capacity: number): KVArena<B> | undefined {
    const c = this.config;
    return KVArena.create(this.be, this, { layers: c.num_layers, kvHeads: c.num_kv_heads, headDim: c.head_dim }, slots, capacity);
  }

  forward(tokens: ArrayLike<number>, startPos: number, cache: KVCache, opts: ForwardOptions = {}): Float32Array {
    return decoderForward(this, tokens, startPos, cache, opts);
  }

  logitsAll(ids: ArrayLike<number>): Float32Array {
    this.spare ??= this.createCache(ids.length);
    return this.forward(ids, 0, this.spare, { allLogits: true });
  }

  forwardAsync(tokens: ArrayLike<number>, startPos: number, cache: KVCache, opts: ForwardOptions = {}): Promise<Float32Array> {
    return decoderForwardAsync(this, tokens, startPos, cache, opts);
  }

  logitsAllAsync(ids: ArrayLike<number>): Promise<Float32Array> {
    this.spare ??= this.createCache(ids.length);
    return this.forwardAsync(ids, 0, this.spare, { allLogits: true });
  }

  forwardBatch(tokens: readonly number[], caches: readonly KVCache[]): Float32Array {
    return checkedBatch(this, tokens, caches, () => {
      const { s, own, out, V } = this.beginBatch(tokens, caches);
      for (let b = 0; b < tokens.length; b += s.rows) out.set(this.head(s, s.x, this.batchChunk(s, tokens, own, b)), b * V);
      for (const c of own) c.setLength(c.length + 1);
      return out;
    });
  }

  forwardBatchAsync(tokens: readonly number[], caches: readonly KVCache[]): Promise<Float32Array> {
    return checkedBatchAsync(this, tokens, caches, async () => {
      const { s, own, out, V } = this.beginBatch(tokens, caches);
      for (let b = 0; b < tokens.length; b += s.rows) out.set(await this.headAsync(s, s.x, this.batchChunk(s, tokens, own, b)), b * V);
      for (const c of own) c.setLength(c.length + 1);
      return out;
    });
  }

  forwardGreedy(tokens: ArrayLike<number>, startPos: number, cache: KVCache): number {
    const V = this.config.vocab_size;
    const pick = this.greedyPass(tokens, startPos, cache);
    return pick === undefined ? argmax(this.be.read(this.ensureScratch(1).logits, 0, V)) : (this.be.read(pick, 0, 1)[0] ?? 0);
  }

  async forwardGreedyAsync(tokens: ArrayLike<number>, startPos: number, cache: KVCache): Promise<number> {
    const V = this.config.vocab_size;
    const pick = this.greedyPass(tokens, startPos, cache);
    return pick === undefined ? argmax(await this.be.readAsync(this.ensureScratch(1).logits, 0, V)) : ((await this.be.readAsync(pick, 0, 1))[0] ?? 0);
  }

  greedyAhead(first: number, startPos: number, cache: KVCache, k: number): number[] | undefined {
    const picks = this.aheadPass(first, startPos, cache, k);
    return picks === undefined ? undefined : Array.from(this.be.read(picks, 0, k));
  }

  async greedyAheadAsync(first: number, startPos: number, cache: KVCache, k: number): Promise<number[] | undefined> {
    const picks = this.aheadPass(first, startPos, cache, k);
    return picks === undefined ? undefined : Array.from(await this.be.readAsync(picks, 0, k));
  }

  /** Records the k steps of `greedyAhead`; returns the buffer whose [0, k) are the picks. */
  private aheadPass(first: number, startPos: number, cacheIn: KVCache, k: number): B | undefined {
    const be = this.be;
    if (be.argmax === undefined || be.embedPicked === undefined) return undefined;
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`greedyAhead: k = ${k} is not a positive integer`);
    if (contractMode() !== 'off') forwardContract.checkPre({ model: this, tokens: [first], startPos, cache: cacheIn, allLogits: false });
    const { s, cache } = this.begin([first], startPos, cacheIn, false);
    cache.reserve(startPos + k);
    if (this.picks === undefined || this.picks.length < k) {
      if (this.picks !== undefined) be.release?.(this.picks.buf);
      this.picks = { buf: be.alloc(Math.max(k, 32)), length: Math.max(k, 32) };
    }
    const picks = this.picks.buf;
    for (let i = 0; i < k; i++) {
      this.layers(s, i === 0 ? [first] : { ids: picks, offset: i - 1 }, startPos + i, 1, cache);
      cache.setLength(startPos + i + 1);
      headLogits(this.stack, s, s.x, 1);
      be.argmax(s.logits, 1, this.config.vocab_size, picks, i);
    }
    return picks;
  }

  /** The kernels of `run` without allLogits, then the backend arg-max (when it has one) into `pick`. */
  private greedyPass(tokens: ArrayLike<number>, startPos: number, cacheIn: KVCache): B | undefined {
    if (contractMode() !== 'off') forwardContract.checkPre({ model: this, tokens, startPos, cache: cacheIn, allLogits: false });
    const { s, cache, n } = this.begin(tokens, startPos, cacheIn, false);
    for (let b = 0; b < n; b += s.rows) this.step(s, tokens, b, startPos, cache);
    headLogits(this.stack, s, this.lastRow(s, n), 1);
    if (this.be.argmax === undefined) return undefined;
    this.pick ??= this.be.alloc(1);
    this.be.argmax(s.logits, 1, this.config.vocab_size, this.pick);
    return this.pick;
  }

  dispose(): void {
    const be = this.be;
    const w = this.weights;
    const mats = new Set<W>([w.embed, w.lmHead]);
    const vecs: B[] = [w.norm];
    for (const l of w.layers) {
      for (const lin of [l.q, l.k, l.v, l.o, l.gate, l.up, l.down]) {
        mats.add(lin.w);
        if (lin.bias !== undefined) vecs.push(lin.bias);
      }
      vecs.push(l.inputNorm, l.postNorm);
      for (const v of [l.qNorm, l.kNorm, l.attnOutNorm, l.ffnOutNorm]) if (v !== undefined) vecs.push(v);
    }
    for (const m of mats) be.releaseWeight?.(m);
    for (const v of vecs) be.release?.(v);
    this.releaseScratch();
    if (this.pick !== undefined) be.release?.(this.pick);
    this.pick = undefined;
    if (this.picks !== undefined) be.release?.(this.picks.buf);
    this.picks = undefined;
    releaseRowBuffers(this.be, this.row);
    this.row = undefined;
    this.spare?.dispose();
    this.spare = undefined;
    this.disposed = true;
  }

  private releaseScratch(): void {
    releaseScratch(this.be, this.scratch);
    this.scratch = undefined;
  }

  private ensureScratch(rows: number): Scratch<B> {
    if (this.scratch && this.scratch.rows >= rows) return this.scratch;
    this.releaseScratch();
    this.scratch = allocScratch(this.be, this.config, rows);
    return this.scratch;
  }

  /** The forward pass proper; `decoderForward` checks its contract. */
  run(tokens: ArrayLike<number>, startPos: number, cacheIn: KVCache, allLogits: boolean): Float32Array {
    const { s, cache, out, n, V } = this.begin(tokens, startPos, cacheIn, allLogits);
    for (let b = 0; b < n; b += s.rows) {
      const m = this.step(s, tokens, b, startPos, cache);
      if (allLogits) out.set(this.head(s, s.x, m), b * V);
    }
    if (!allLogits) out.set(this.head(s, this.lastRow(s, n), 1));
    return out;
  }

  /** `run` with every read through `readAsync` (the same kernels in the same order). */
  async runAsync(tokens: ArrayLike<number>, startPos: number, cacheIn: KVCache, allLogits: boolean): Promise<Float32Array> {
    const { s, cache, out, n, V } = this.begin(tokens, startPos, cacheIn, allLogits);
    for (let b = 0; b < n; b += s.rows) {
      const m = this.step(s, tokens, b, startPos, cache);
      if (allLogits) out.set(await this.headAsync(s, s.x, m), b * V);
    }
    if (!allLogits) out.set(await this.headAsync(s, this.lastRow(s, n), 1));
    return out;
  }

  private begin(tokens: ArrayLike<number>, startPos: number, cacheIn: KVCache, allLogits: boolean) {
    if (this.disposed) throw new Error('model was disposed');
    const cache = this.ownCache(cacheIn);
    const n = tokens.length;
    const V = this.config.vocab_size;
    cache.truncate(startPos);
    cache.reserve(startPos + n);
    const s = this.ensureScratch(Math.min(n, this.maxBatch));
    return { s, cache, out: new Float32Array(allLogits ? n * V : V), n, V };
  }

  /** Runs the layers over the chunk of tokens starting at b; returns its row count. */
  private step(s: Scratch<B>, tokens: ArrayLike<number>, b: number, startPos: number, cache: KVCacheImpl<B>): number {
    const m = Math.min(s.rows, tokens.length - b);
    this.layers(s, Array.prototype.slice.call(tokens, b, b + m) as number[], startPos + b, m, cache);
    cache.setLength(startPos + b + m);
    return m;
  }

  private beginBatch(tokens: readonly number[], caches: readonly KVCache[]) {
    if (this.disposed) throw new Error('model was disposed');
    const own = caches.map((c) => this.ownCache(c));
    for (const c of own) c.reserve(c.length + 1);
    const V = this.config.vocab_size;
    return { s: this.ensureScratch(Math.min(tokens.length, this.maxBatch)), own, out: new Float32Array(tokens.length * V), V };
  }

  /** Runs the layers over the sequences b.. of a batched step (one row each); returns the row count. */
  private batchChunk(s: Scratch<B>, tokens: readonly number[], caches: readonly KVCacheImpl<B>[], b: number): number {
    const m = Math.min(s.rows, tokens.length - b);
    this.row ??= allocRowBuffers(this.be, this.config);
    runLayers(this.stack, s, tokens.slice(b, b + m), m, batchCore(this.stack, this.row, caches.slice(b, b + m)));
    return m;
  }

  private lastRow(s: Scratch<B>, n: number): B {
    const H = this.config.hidden_size;
    this.be.copy(s.x, ((n - 1) % s.rows) * H, s.last, 0, H);
    return s.last;
  }

  private ownCache(cache: KVCache): KVCacheImpl<B> {
    if (!(cache instanceof KVCacheImpl) || cache.owner !== this) throw new Error('KVCache was not created by this model (use model.createCache())');
    if (cache.disposed) throw new Error('KVCache was disposed');
    return cache as KVCacheImpl<B>;
  }

  /** Final norm and LM head over rows of `x`; returns a host view of [m, vocab]. */
  private head(s: Scratch<B>, x: B, m: number): Float32Array {
    headLogits(this.stack, s, x, m);
    return this.be.read(s.logits, 0, m * this.config.vocab_size);
  }

  private headAsync(s: Scratch<B>, x: B, m: number): Promise<Float32Array> {
    headLogits(this.stack, s, x, m);
    return this.be.readAsync(s.logits, 0, m * this.config.vocab_size);
  }

  private layers(s: Scratch<B>, tokens: number[] | PickedIds<B>, pos: number, n: number, cache: KVCacheImpl<B>): void {
    runLayers(this.stack, s, tokens, n, (bufs, m, l) => ropeAttend(this.stack, bufs, m, pos, cache.k[l] as B, cache.v[l] as B, cache.capacity, l));
  }
}

interface ForwardInput {
  model: Model;
  tokens: ArrayLike<number>;
  startPos: number;
  cache: KVCache;
  allLogits: boolean;
}



export const forwardContract = defineContract<ForwardInput, Float32Array>({
  id: 'model-decoder-v1',
  equation: 'decoder_forward',
  spec: 'logits = lm_head(RMSNorm(h_L)), h_l = h_{l-1} + Attn_l(RMSNorm(h_{l-1})) + MLP_l(…), as transformers LlamaForCausalLM / Qwen2ForCausalLM',
  pre: [
    ['at least one token', ({ tokens }) => tokens.length >= 1],
    ['token ids in [0, vocab)', ({ model, tokens }) => idsInRange(tokens, model.config.vocab_size)],
    ['startPos ≤ cache length', ({ startPos, cache }) => Number.isInteger(startPos) && startPos >= 0 && startPos <= cache.length],
  ],
  post: [
    ['logits shape', ({ model, tokens, allLogits }, out) => out.length === (allLogits ? tokens.length : 1) * model.config.vocab_size],
    ['finite logits', (_i, out) => allFinite(out)],
    ['cache advanced', ({ tokens, startPos, cache }) => cache.length === startPos + tokens.length],
  ],
});

/** `model.forward` with its contract checked: the one entry point of every decoder forward pass. */
export function decoderForward(model: Model, tokens: ArrayLike<number>, startPos: number, cache: KVCache, opts: ForwardOptions = {}): Float32Array {
  const allLogits = opts.allLogits === true;
  return forwardContract.run({ model, tokens, startPos, cache, allLogits }, () => {
    if (!(model instanceof Decoder)) return model.forward(tokens, startPos, cache, opts);
    return (model as Decoder<unknown, unknown>).run(tokens, startPos, cache, allLogits);
  });
}

/** `decoderForward` for backends that read back asynchronously; the same contract, checked around the await. */
async function decoderForwardAsync(model: Model, tokens: ArrayLike<number>, startPos: number, cache: KVCache, opts: ForwardOptions = {}): Promise<Float32Array> {
  const input = { model, tokens, startPos, cache, allLogits: opts.allLogits === true };
  const mode = contractMode();
  if (mode !== 'off') forwardContract.checkPre(input);
  const out = model instanceof Decoder
    ? await (model as Decoder<unknown, unknown>).runAsync(tokens, startPos, cache, input.allLogits)
    : model.forwardAsync !== undefined ? await model.forwardAsync(tokens, startPos, cache, opts) : model.forward(tokens, startPos, cache, opts);
  if (mode === 'full') forwardContract.checkPost(input, out);
  return out;
}

/** Builds a decoder over already-loaded weights. */
export function createDecoder<B, W>(config: ArchConfig, weights: DecoderWeights<B, W>, backend: Backend<B, W>, opts: DecoderOptions = {}): Model {
  return new Decoder(config, weights, backend, opts);
}

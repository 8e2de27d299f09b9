import { allFinite, idsInRange } from '../contract/predicates.js';
import { defineContract } from '../contract/index.js';
import { contractMode } from '../contract/mode.js';
import type { Backend } from '../kernels/types.js';
import type { ArchConfig } from '../tensor/bundle.js';
import { type KVCache, KVCacheImpl } from './kv-cache.js';
import type { DecoderWeights, LayerWeights, Linear } from './weights.js';

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
  /** Frees weights and buffers now (otherwise at garbage collection); the model is unusable after. */
  dispose(): void;
}

interface Scratch<B> {
  rows: number;
  x: B; h: B; q: B; k: B; v: B; att: B; o: B; gate: B; up: B; logits: B; last: B;
}

/**
 * Where an observer sees activations: `residual` is the stream entering layer l (l = num_layers: after the
 * last layer, before the final norm); the others are the inputs of a layer's projections (`attn_in` of
 * q/k/v, `o_in` of o_proj, `mlp_in` of gate/up, `down_in` of down_proj).
 */
export type ActivationSite = 'residual' | 'attn_in' | 'o_in' | 'mlp_in' | 'down_in';
/** Receives `n` rows of `dim` floats (a view valid only during the call). Used for calibration statistics. */
export type ActivationObserver = (layer: number, site: ActivationSite, rows: Float32Array, n: number, dim: number) => void;

export interface DecoderOptions {
  /** Tokens per internal step of a long prefill (bounds scratch memory; results do not depend on it). */
  maxBatch?: number;
  observer?: ActivationObserver;
}

class Decoder<B, W> implements Model {
  private scratch: Scratch<B> | undefined;
  /** Reused by logitsAll, so repeated calls (perplexity) do not churn cache memory. */
  private spare: KVCache | undefined;
  private disposed = false;
  private readonly maxBatch: number;
  private readonly observer: ActivationObserver | undefined;

  constructor(
    readonly config: ArchConfig,
    private readonly weights: DecoderWeights<B, W>,
    private readonly be: Backend<B, W>,
    opts: DecoderOptions,
  ) {
    this.maxBatch = Math.max(1, Math.floor(opts.maxBatch ?? 512));
    this.observer = opts.observer;
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
    }
    for (const m of mats) be.releaseWeight?.(m);
    for (const v of vecs) be.release?.(v);
    this.releaseScratch();
    this.spare?.dispose();
    this.spare = undefined;
    this.disposed = true;
  }

  private releaseScratch(): void {
    if (this.scratch) for (const [k, buf] of Object.entries(this.scratch)) if (k !== 'rows') this.be.release?.(buf as B);
    this.scratch = undefined;
  }

  private ensureScratch(rows: number): Scratch<B> {
    if (this.scratch && this.scratch.rows >= rows) return this.scratch;
    this.releaseScratch();
    const c = this.config;
    const a = (n: number): B => this.be.alloc(rows * n);
    const qDim = c.num_heads * c.head_dim;
    const kvDim = c.num_kv_heads * c.head_dim;
    this.scratch = {
      rows,
      x: a(c.hidden_size), h: a(c.hidden_size), q: a(qDim), k: a(kvDim), v: a(kvDim), att: a(qDim), o: a(c.hidden_size),
      gate: a(c.intermediate_size), up: a(c.intermediate_size), logits: a(c.vocab_size), last: this.be.alloc(c.hidden_size),
    };
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
    const c = this.config;
    this.be.rmsnorm(x, this.weights.norm, c.rms_norm_eps, m, c.hidden_size, s.h);
    this.be.matmul(this.weights.lmHead, s.h, m, s.logits);
    return this.be.read(s.logits, 0, m * c.vocab_size);
  }

  private headAsync(s: Scratch<B>, x: B, m: number): Promise<Float32Array> {
    const c = this.config;
    this.be.rmsnorm(x, this.weights.norm, c.rms_norm_eps, m, c.hidden_size, s.h);
    this.be.matmul(this.weights.lmHead, s.h, m, s.logits);
    return this.be.readAsync(s.logits, 0, m * c.vocab_size);
  }

  private layers(s: Scratch<B>, tokens: number[], pos: number, n: number, cache: KVCacheImpl<B>): void {
    this.be.embed(this.weights.embed, tokens, s.x);
    this.weights.layers.forEach((lw, l) => {
      this.observe(l, 'residual', s.x, n, this.config.hidden_size);
      this.attentionBlock(s, lw, n, pos, cache.k[l] as B, cache.v[l] as B, cache.capacity, l);
      this.mlpBlock(s, lw, n, l);
    });
    this.observe(this.weights.layers.length, 'residual', s.x, n, this.config.hidden_size);
  }

  private observe(layer: number, site: ActivationSite, buf: B, n: number, dim: number): void {
    if (this.observer) this.observer(layer, site, this.be.read(buf, 0, n * dim), n, dim);
  }

  private linear(lin: Linear<B, W>, x: B, n: number, out: B): void {
    this.be.matmul(lin.w, x, n, out);
    if (lin.bias !== undefined) this.be.addBias(out, lin.bias, n, lin.rows);
  }

  private attentionBlock(s: Scratch<B>, lw: LayerWeights<B, W>, n: number, pos: number, kc: B, vc: B, capacity: number, l: number): void {
    const c = this.config;
    const be = this.be;
    const H = c.hidden_size;
    be.rmsnorm(s.x, lw.inputNorm, c.rms_norm_eps, n, H, s.h);
    this.observe(l, 'attn_in', s.h, n, H);
    this.linear(lw.q, s.h, n, s.q);
    this.linear(lw.k, s.h, n, s.k);
    this.linear(lw.v, s.h, n, s.v);
    be.rope(s.q, n, c.num_heads, c.head_dim, pos, c.rope_theta);
    be.rope(s.k, n, c.num_kv_heads, c.head_dim, pos, c.rope_theta);
    be.kvStore(kc, s.k, n, c.num_kv_heads, c.head_dim, pos, capacity);
    be.kvStore(vc, s.v, n, c.num_kv_heads, c.head_dim, pos, capacity);
    be.attention(s.q, kc, vc, { n, startPos: pos, heads: c.num_heads, kvHeads: c.num_kv_heads, headDim: c.head_dim, capacity }, s.att);
    this.observe(l, 'o_in', s.att, n, c.num_heads * c.head_dim);
    this.linear(lw.o, s.att, n, s.o);
    be.add(s.x, s.o, n * H, s.x);
  }

  private mlpBlock(s: Scratch<B>, lw: LayerWeights<B, W>, n: number, l: number): void {
    const c = this.config;
    const be = this.be;
    const H = c.hidden_size;
    be.rmsnorm(s.x, lw.postNorm, c.rms_norm_eps, n, H, s.h);
    this.observe(l, 'mlp_in', s.h, n, H);
    this.linear(lw.gate, s.h, n, s.gate);
    this.linear(lw.up, s.h, n, s.up);
    be.swiglu(s.gate, s.up, n * c.intermediate_size, s.gate);
    this.observe(l, 'down_in', s.gate, n, c.intermediate_size);
    this.linear(lw.down, s.gate, n, s.o);
    be.add(s.x, s.o, n * H, s.x);
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

/**
 * Log-probabilities for the server: a view of the model that remembers the logits of each cache's last
 * position. The batched engine admits requests in submission order and runs each prompt's rest (what no slot
 * holds already, at least its last token) as one `forward` into the sequence's cache; so the oldest expected
 * prompt that the call completes is that sequence's, the prompt leads to the cache and the cache to the logits
 * the next token was sampled from. `onToken` runs right after the forward that produced them, so they are current.
 */
import type { Model } from '../model/decoder.js';
import type { KVCache } from '../model/kv-cache.js';
import type { TokenLogprob } from './engine.js';

export interface LogitsTap {
  readonly model: Model;
  /** The chosen token's log-probability and the `k` most likely tokens', for the sequence of `promptIds`. */
  logprobs(promptIds: readonly number[], id: number, k: number): { logprob: number; top: TokenLogprob[] } | undefined;
  /** Registers a prompt about to be submitted (a distinct array per request, in submission order). */
  expect(promptIds: readonly number[]): void;
  forget(promptIds: readonly number[]): void;
}

/** log-softmax normaliser: max + log Σ exp(l − max), in float64. */
function logNormaliser(logits: Float32Array): number {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let z = 0;
  for (const v of logits) z += Math.exp(v - max);
  return max + Math.log(z);
}

/** The k largest logits' ids, largest first (lower id first on ties). */
function topIds(logits: Float32Array, k: number): number[] {
  const top: number[] = [];
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i] as number;
    if (top.length === k && v <= (logits[top[k - 1] as number] as number)) continue;
    let at = top.length;
    while (at > 0 && v > (logits[top[at - 1] as number] as number)) at--;
    top.splice(at, 0, i);
    if (top.length > k) top.pop();
  }
  return top;
}

/** Whether `tokens` placed at `start` end the prompt `p`. */
function completes(p: readonly number[], tokens: ArrayLike<number>, start: number): boolean {
  if (p.length !== start + tokens.length) return false;
  for (let i = 0; i < tokens.length; i++) if (p[start + i] !== tokens[i]) return false;
  return true;
}

export function tapLogits(inner: Model): LogitsTap {
  const last = new WeakMap<KVCache, Float32Array>();
  const cacheOf = new WeakMap<object, KVCache>();
  const V = inner.config.vocab_size;
  const pending: (readonly number[])[] = [];
  const single = (tokens: ArrayLike<number>, start: number, cache: KVCache, out: Float32Array): Float32Array => {
    const i = pending.findIndex((p) => completes(p, tokens, start));
    if (i >= 0) cacheOf.set(pending.splice(i, 1)[0] as readonly number[], cache);
    last.set(cache, out.length === V ? out : out.subarray(out.length - V));
    return out;
  };
  const rows = (caches: readonly KVCache[], out: Float32Array): Float32Array => {
    caches.forEach((c, i) => last.set(c, out.subarray(i * V, (i + 1) * V)));
    return out;
  };
  const model: Model = {
    config: inner.config,
    backend: inner.backend,
    weightDtypes: inner.weightDtypes,
    createCache: (capacity) => inner.createCache(capacity),
    forward: (tokens, start, cache, opts) => single(tokens, start, cache, inner.forward(tokens, start, cache, opts)),
    logitsAll: (ids) => inner.logitsAll(ids),
    dispose: () => inner.dispose(),
  };
  if (inner.forwardAsync) {
    const f = inner.forwardAsync.bind(inner);
    model.forwardAsync = async (tokens, start, cache, opts) => single(tokens, start, cache, await f(tokens, start, cache, opts));
  }
  if (inner.forwardBatch) {
    const f = inner.forwardBatch.bind(inner);
    model.forwardBatch = (tokens, caches) => rows(caches, f(tokens, caches));
  }
  if (inner.forwardBatchAsync) {
    const f = inner.forwardBatchAsync.bind(inner);
    model.forwardBatchAsync = async (tokens, caches) => rows(caches, await f(tokens, caches));
  }
  return {
    model,
    logprobs(promptIds, id, k) {
      const cache = cacheOf.get(promptIds);
      const logits = cache && last.get(cache);
      if (!logits) return undefined;
      const norm = logNormaliser(logits);
      const top = topIds(logits, k).map((t) => ({ id: t, logprob: (logits[t] as number) - norm }));
      return { logprob: (logits[id] as number) - norm, top };
    },
    expect(promptIds) {
      pending.push(promptIds);
    },
    forget(promptIds) {
      cacheOf.delete(promptIds);
      const i = pending.indexOf(promptIds);
      if (i >= 0) pending.splice(i, 1);
    },
  };
}

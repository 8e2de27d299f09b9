import type { KVCache } from './kv-cache.js';

/**
 * Which tokens each slot's KV cache holds, so that a joining sequence can start from a prefix another slot
 * (live, or freed and not yet reused) has already computed: the n samples of one prompt prefill it once,
 * and prompts sharing a system prompt share its positions. Positions [0, length) of a cache hold the keys
 * and values of `held(cache)`, in order.
 */
export class PrefixIndex {
  private readonly held = new Map<KVCache, number[]>();

  /** The cache now holds exactly `tokens` (after a prefill). */
  set(cache: KVCache, tokens: readonly number[]): void {
    this.held.set(cache, Array.from(tokens));
  }

  /** The cache took one more position, `token` (after a decode step). */
  push(cache: KVCache, token: number): void {
    this.held.get(cache)?.push(token);
  }

  /** Nothing known about the cache (cleared, or a step on it failed). */
  forget(cache: KVCache): void {
    this.held.delete(cache);
  }

  /** Positions of `cache` that hold a prefix of `prompt`. */
  shared(cache: KVCache, prompt: readonly number[]): number {
    const tokens = this.held.get(cache);
    if (tokens === undefined) return 0;
    const n = Math.min(tokens.length, cache.length, prompt.length);
    let i = 0;
    while (i < n && tokens[i] === prompt[i]) i++;
    return i;
  }

  /** Among `caches`, the one holding the longest prefix of `prompt` (the first on ties) and that prefix's length. */
  best(caches: readonly KVCache[], prompt: readonly number[]): { cache: KVCache | undefined; positions: number } {
    let cache: KVCache | undefined;
    let positions = 0;
    for (const c of caches) {
      const p = this.shared(c, prompt);
      if (p > positions) [cache, positions] = [c, p];
    }
    return { cache, positions };
  }
}

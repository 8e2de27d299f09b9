import type { Backend } from '../kernels/types.js';

/** Keys and values of the positions seen so far, per layer. */
export interface KVCache {
  /** Positions held (the next token goes at this position). */
  readonly length: number;
  /** Positions the buffers hold before they must grow. */
  readonly capacity: number;
  /** Forgets every position ≥ `length` (rolls back rejected speculative tokens). */
  truncate(length: number): void;
  /** Forgets everything. */
  clear(): void;
  /**
   * Makes this cache hold the first `positions` positions of `src` (a cache of the same model), forgetting its
   * own; `src` is left as it was. The copied keys and values are the bits `src` holds, so decoding on from
   * them equals running the same tokens through this cache (rows do not depend on how a prefill is cut).
   */
  copyPrefix(src: KVCache, positions: number): void;
  /** Frees the buffers now (they are otherwise freed when the cache is garbage-collected); the cache is unusable after. */
  dispose(): void;
}

export interface CacheGeometry {
  readonly layers: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

/**
 * Per layer one K and one V buffer laid out `[kvHeads][capacity][headDim]`. Capacity doubles on demand
 * (a copy per growth), so a cache costs memory proportional to the positions actually used.
 */
export class KVCacheImpl<B> implements KVCache {
  private len = 0;
  private cap: number;
  readonly k: B[] = [];
  readonly v: B[] = [];
  /** Where the buffers are slot `slot` of a `KVArena`'s per-layer slot sets; undefined once they have grown out of it. */
  slotOf: { readonly arena: object; readonly slot: number } | undefined;

  /** `given`: per-layer K and V buffers of `capacity` positions to use instead of allocating (a KVArena's slots). */
  constructor(
    readonly owner: object,
    private readonly backend: Backend<B, unknown>,
    private readonly geo: CacheGeometry,
    capacity: number,
    given?: { k: readonly B[]; v: readonly B[]; arena: object; slot: number },
  ) {
    this.cap = Math.max(1, Math.floor(capacity));
    if (given) {
      this.k.push(...given.k);
      this.v.push(...given.v);
      this.slotOf = { arena: given.arena, slot: given.slot };
      return;
    }
    for (let l = 0; l < geo.layers; l++) {
      this.k.push(backend.alloc(this.size(this.cap)));
      this.v.push(backend.alloc(this.size(this.cap)));
    }
  }

  get length(): number {
    return this.len;
  }

  get capacity(): number {
    return this.cap;
  }

  private size(cap: number): number {
    return this.geo.kvHeads * cap * this.geo.headDim;
  }

  truncate(length: number): void {
    if (!Number.isInteger(length) || length < 0 || length > this.len) {
      throw new RangeError(`KVCache.truncate: length ${length} outside [0, ${this.len}]`);
    }
    this.len = length;
  }

  clear(): void {
    this.len = 0;
  }

  copyPrefix(src: KVCache, positions: number): void {
    if (!(src instanceof KVCacheImpl) || src.owner !== this.owner) throw new Error('KVCache.copyPrefix: the source cache belongs to another model');
    if (!Number.isInteger(positions) || positions < 0 || positions > src.len) {
      throw new RangeError(`KVCache.copyPrefix: ${positions} positions outside [0, ${src.len}]`);
    }
    if (src === this) return this.truncate(positions);
    this.len = 0;
    this.reserve(positions);
    const { kvHeads, headDim } = this.geo;
    for (let l = 0; l < this.geo.layers; l++) {
      for (const [from, to] of [[src.k, this.k], [src.v, this.v]] as const) {
        for (let g = 0; g < kvHeads; g++) this.backend.copy(from[l] as B, g * src.cap * headDim, to[l] as B, g * this.cap * headDim, positions * headDim);
      }
    }
    this.len = positions;
  }

  dispose(): void {
    for (const b of [...this.k, ...this.v]) this.backend.release?.(b);
    this.k.length = 0;
    this.v.length = 0;
    this.len = 0;
    this.cap = 0;
  }

  get disposed(): boolean {
    return this.k.length === 0 && this.geo.layers > 0;
  }

  /** Set by the decoder after it has written positions [.., length). */
  setLength(length: number): void {
    this.len = length;
  }

  /** Makes room for `positions` positions, keeping what is held. */
  reserve(positions: number): void {
    if (positions <= this.cap) return;
    const cap = Math.max(positions, 2 * this.cap);
    const { kvHeads, headDim } = this.geo;
    for (let l = 0; l < this.geo.layers; l++) {
      for (const bufs of [this.k, this.v]) {
        const old = bufs[l] as B;
        const grown = this.backend.alloc(this.size(cap));
        for (let g = 0; g < kvHeads; g++) this.backend.copy(old, g * this.cap * headDim, grown, g * cap * headDim, this.len * headDim);
        this.backend.release?.(old);
        bufs[l] = grown;
      }
    }
    this.cap = cap;
    this.slotOf = undefined;
  }
}

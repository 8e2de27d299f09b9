import type { Backend, SlotBuffers } from '../kernels/types.js';
import { type CacheGeometry, KVCacheImpl } from './kv-cache.js';

/**
 * The KV caches of a batch's slots carved out of one K and one V buffer per layer (`Backend.allocSlots`), so
 * that a batched decode step can run every row's RoPE, cache write and attention of a layer in one call
 * (`Backend.attendRows`) instead of one per row. Each cache is an ordinary `KVCacheImpl` over its slot
 * views (prefill, prefix copies and truncation work as on any cache); one that must grow past its capacity
 * moves to buffers of its own and leaves the arena (`slotOf` undefined), and the step then takes it row by row.
 */
export class KVArena<B> {
  readonly caches: KVCacheImpl<B>[];

  private constructor(
    private readonly be: Backend<B, unknown>,
    readonly k: readonly SlotBuffers<B>[],
    readonly v: readonly SlotBuffers<B>[],
    owner: object,
    geo: CacheGeometry,
    capacity: number,
  ) {
    const slots = k[0]?.slots.length ?? 0;
    this.caches = Array.from({ length: slots }, (_, i) => new KVCacheImpl(owner, be, geo, capacity, {
      k: k.map((s) => s.slots[i] as B),
      v: v.map((s) => s.slots[i] as B),
      arena: this,
      slot: i,
    }));
  }

  /** `slots` caches of `capacity` positions, or undefined where the backend has no slot buffers or they do not fit one allocation. */
  static create<B>(be: Backend<B, unknown>, owner: object, geo: CacheGeometry, slots: number, capacity: number): KVArena<B> | undefined {
    if (be.allocSlots === undefined || be.attendRows === undefined || geo.layers < 1) return undefined;
    const length = geo.kvHeads * capacity * geo.headDim;
    const k: SlotBuffers<B>[] = [];
    const v: SlotBuffers<B>[] = [];
    for (let l = 0; l < geo.layers; l++) {
      const ks = be.allocSlots(length, slots);
      const vs = ks && be.allocSlots(length, slots);
      if (ks) k.push(ks);
      if (vs) v.push(vs);
      if (ks === undefined || vs === undefined) {
        for (const s of [...k, ...v]) be.release?.(s.whole);
        return undefined;
      }
    }
    return new KVArena(be, k, v, owner, geo, capacity);
  }

  /** The slot of each cache when all are this arena's (still in their slots), else undefined. */
  slotsOf(caches: readonly KVCacheImpl<B>[]): number[] | undefined {
    const slots: number[] = [];
    for (const c of caches) {
      if (c.slotOf?.arena !== this) return undefined;
      slots.push(c.slotOf.slot);
    }
    return slots;
  }

  /** Frees the buffers; the caches are unusable after. */
  dispose(): void {
    for (const c of this.caches) c.dispose();
    for (const s of [...this.k, ...this.v]) this.be.release?.(s.whole);
  }
}

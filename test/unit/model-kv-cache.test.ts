import { describe, expect, test } from 'vitest';
import type { Backend } from '../../src/kernels/types.js';
import { KVCacheImpl } from '../../src/model/kv-cache.js';

/** The three calls KVCacheImpl makes of a backend, on plain Float32Arrays, counting allocations and releases. */
function plainBackend(withRelease = true): { be: Backend<Float32Array, unknown>; allocs: number[]; released: Float32Array[] } {
  const allocs: number[] = [];
  const released: Float32Array[] = [];
  const be = {
    alloc: (n: number) => (allocs.push(n), new Float32Array(n)),
    copy: (src: Float32Array, so: number, dst: Float32Array, d: number, n: number) => {
      if (so + n > src.length || d + n > dst.length) throw new RangeError('copy out of bounds');
      dst.set(src.subarray(so, so + n), d);
    },
    ...(withRelease ? { release: (b: Float32Array) => void released.push(b) } : {}),
  };
  return { be: be as unknown as Backend<Float32Array, unknown>, allocs, released };
}

const geo = { layers: 2, kvHeads: 2, headDim: 3 };

describe('KVCacheImpl', () => {
  test('one K and one V buffer per layer of kvHeads · capacity · headDim; capacity a whole number ≥ 1', () => {
    const { be, allocs } = plainBackend();
    const c = new KVCacheImpl({}, be, geo, 5.7);
    expect(c.capacity).toBe(5);
    expect(c.k).toHaveLength(2);
    expect(c.v).toHaveLength(2);
    expect(allocs).toEqual([30, 30, 30, 30]);
    expect(new KVCacheImpl({}, be, geo, 0).capacity).toBe(1);
  });

  test('truncate keeps a prefix and refuses anything else; clear forgets everything', () => {
    const c = new KVCacheImpl({}, plainBackend().be, geo, 8);
    c.setLength(4);
    c.truncate(4);
    c.truncate(2);
    expect(c.length).toBe(2);
    for (const bad of [3, -1, 1.5]) expect(() => c.truncate(bad)).toThrow(/outside \[0, 2\]/);
    c.clear();
    expect(c.length).toBe(0);
  });

  test('reserve grows to max(positions, 2 · capacity), keeping each head\'s positions; a reserve within capacity allocates nothing', () => {
    const { be, allocs, released } = plainBackend();
    const c = new KVCacheImpl({}, be, geo, 4);
    // position p of head g holds 100·g + p in each of its headDim slots, for the 3 positions held
    for (const buf of [...c.k, ...c.v]) for (let g = 0; g < 2; g++) for (let p = 0; p < 3; p++) buf.fill(100 * g + p, (g * 4 + p) * 3, (g * 4 + p + 1) * 3);
    c.setLength(3);
    c.reserve(4);
    expect(allocs).toHaveLength(4);
    c.reserve(5);
    expect(c.capacity).toBe(8);
    expect(allocs.slice(4)).toEqual([48, 48, 48, 48]);
    expect(released).toHaveLength(4);
    for (const buf of [...c.k, ...c.v]) {
      for (let g = 0; g < 2; g++) for (let p = 0; p < 3; p++) expect(Array.from(buf.subarray((g * 8 + p) * 3, (g * 8 + p + 1) * 3))).toEqual([100 * g + p, 100 * g + p, 100 * g + p]);
    }
    c.reserve(40);
    expect(c.capacity).toBe(40);
    expect(c.length).toBe(3);
  });

  test('dispose releases every buffer once and leaves an empty, disposed cache', () => {
    const { be, released } = plainBackend();
    const c = new KVCacheImpl({}, be, geo, 4);
    const bufs = [...c.k, ...c.v];
    expect(c.disposed).toBe(false);
    c.setLength(2);
    c.dispose();
    expect(released).toEqual(bufs);
    expect(c).toMatchObject({ disposed: true, length: 0, capacity: 0 });
    // a cache of no layers holds no buffer, yet is not disposed
    expect(new KVCacheImpl({}, be, { ...geo, layers: 0 }, 4).disposed).toBe(false);
  });

  test('a backend without release: growing and disposing still work', () => {
    const c = new KVCacheImpl({}, plainBackend(false).be, geo, 2);
    c.setLength(2);
    expect(() => c.reserve(3)).not.toThrow();
    expect(() => c.dispose()).not.toThrow();
  });
});

import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { wasmKernels } from '../../src/kernels/cpu/wasm/runtime.js';
import { type Model, loadModel } from '../../src/model/index.js';
import { QWEN2_SMALL, randomModel } from './model-random.js';

const model: Model = loadModel(randomModel(QWEN2_SMALL, 4242).bundle, { maxBatch: 5 });
const V = QWEN2_SMALL.vocab_size;
const tokens = fc.array(fc.integer({ min: 0, max: V - 1 }), { minLength: 1, maxLength: 14 });

/** Feeds `ids` in pieces of the given sizes and concatenates the per-position logits. */
function incremental(ids: number[], sizes: number[], capacity: number): Float32Array {
  const cache = model.createCache(capacity);
  const out = new Float32Array(ids.length * V);
  let pos = 0;
  let k = 0;
  while (pos < ids.length) {
    const m = Math.min(sizes[k++ % sizes.length]!, ids.length - pos);
    out.set(model.forward(ids.slice(pos, pos + m), pos, cache, { allLogits: true }), pos * V);
    pos += m;
    expect(cache.length).toBe(pos);
  }
  return out;
}

describe('KV cache', () => {
  test('[ob:decoder-cache-equivalence] cached incremental decode equals full recomputation bit for bit', () => {
    fc.assert(fc.property(tokens, fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 16 }), (ids, sizes, capacity) => {
      const full = model.logitsAll(ids);
      // Chunked feeding, one-token decoding, and cache growth from a small capacity all give the same bits.
      expect(Array.from(incremental(ids, sizes, capacity))).toEqual(Array.from(full));
    }), { numRuns: 40 });
  });

  test('[ob:decoder-last-logits] without allLogits the result is the last row of allLogits', () => {
    fc.assert(fc.property(tokens, (ids) => {
      const last = model.forward(ids, 0, model.createCache());
      expect(Array.from(last)).toEqual(Array.from(model.logitsAll(ids).subarray((ids.length - 1) * V)));
    }), { numRuns: 20 });
  });

  test('[ob:decoder-cache-rollback] rewinding the cache and feeding other tokens equals a fresh run', () => {
    fc.assert(fc.property(tokens, tokens, fc.nat(), (prefix, tail, cut) => {
      const keep = cut % (prefix.length + 1);
      const cache = model.createCache(4);
      const rejected = tail.map((t) => (t + 1) % V);
      model.forward([...prefix, ...rejected], 0, cache);
      cache.truncate(keep);
      const viaRollback = model.forward(tail, keep, cache, { allLogits: true });
      const fresh = model.logitsAll([...prefix.slice(0, keep), ...tail]).subarray(keep * V);
      expect(Array.from(viaRollback)).toEqual(Array.from(fresh));
    }), { numRuns: 20 });
  });

  test('forward at startPos < cache length drops the later positions first', () => {
    const cache = model.createCache();
    model.forward([1, 2, 3, 4], 0, cache);
    const again = model.forward([9, 8], 2, cache, { allLogits: true });
    expect(cache.length).toBe(4);
    expect(Array.from(again)).toEqual(Array.from(model.logitsAll([1, 2, 9, 8]).subarray(2 * V)));
  });

  test('a disposed cache is refused; logitsAll is unaffected by earlier calls', () => {
    const cache = model.createCache();
    model.forward([1, 2], 0, cache);
    cache.dispose();
    expect(() => model.forward([3], 0, cache)).toThrow(/disposed/);
    const a = model.logitsAll([4, 5, 6]);
    model.logitsAll([7, 8, 9, 10, 11, 12, 13]);
    expect(Array.from(model.logitsAll([4, 5, 6]))).toEqual(Array.from(a));
  });

  test('dispose frees the weights and buffers at once and makes the model unusable', () => {
    const m = loadModel(randomModel(QWEN2_SMALL, 8).bundle);
    m.logitsAll([1, 2, 3]);
    const before = wasmKernels?.allocatedBytes() ?? 0;
    m.dispose();
    // weights alone: 2·97·64 + 2·(24·4·64 + 2·24·2·64 + 64·96 + 3·96·64) floats ≈ 0.3 MB
    expect(before - (wasmKernels?.allocatedBytes() ?? 0)).toBeGreaterThan(250_000);
    expect(() => m.logitsAll([1])).toThrow(/disposed/);
  });

  test('contract: startPos beyond the cache, foreign caches and out-of-range ids are refused', () => {
    const cache = model.createCache();
    expect(() => model.forward([1], 1, cache)).toThrow(/startPos/);
    expect(() => model.forward([V], 0, cache)).toThrow(/token ids/);
    const other = loadModel(randomModel(QWEN2_SMALL, 1).bundle);
    expect(() => model.forward([1], 0, other.createCache())).toThrow(/not created by this model/);
  });
});

import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openModel } from '../../src/formats/open.js';
import { createWebGpuBackend, type WebGpuBackend } from '../../src/kernels/webgpu/backend.js';
import type { KVCache } from '../../src/model/kv-cache.js';
import { loadModel, type Model } from '../../src/model/index.js';
import { FIXTURES } from '../golden/model-fixtures.js';
import { gpu, noGpuReason } from '../property/webgpu-helpers.js';
import { inMix, prompts, target } from './batch-helpers.js';

/**
 * Batch invariance on the WebGPU backend (the software adapter here and in CI): the engine steps through
 * `forwardBatchAsync`, one n-row matmul dispatch per weight, and a sequence's tokens must not depend on n.
 */
describe.skipIf(!gpu)(`BatchEngine on WebGPU${noGpuReason}`, () => {
  let model: Model;
  let be: WebGpuBackend;
  let alone: number[] = [];
  const req = (V: number): ReturnType<typeof target> => target(prompts([13], V, 3)[0]!, 7);

  beforeAll(async () => {
    be = createWebGpuBackend(gpu as NonNullable<typeof gpu>);
    model = loadModel(openModel(path.join(FIXTURES, 'gguf', 'tiny-coder-llama-Q4_K_M.gguf')), { backend: be });
    alone = (await inMix(model, req(model.config.vocab_size), [], 1, 0)).ids;
  });
  afterAll(() => model.dispose());

  test('[ob:batch-seed-invariance] the sampled request gives the same tokens alone and in a batch of 7', async () => {
    const V = model.config.vocab_size;
    expect(alone.length).toBeGreaterThan(3);
    const seven = await inMix(model, req(V), prompts([5, 20, 2, 19, 14, 8], V, 11), 7, 3, 4);
    expect([seven.peak, seven.ids]).toEqual([7, alone]);
  });

  test('[ob:batch-seed-invariance] the same tokens in a batch of 32', async () => {
    const V = model.config.vocab_size;
    const lengths = Array.from({ length: 31 }, (_, i) => 1 + ((i * 13) % 12));
    const many = await inMix(model, req(V), prompts(lengths, V, 19), 32, 1, 4);
    expect([many.peak, many.ids]).toEqual([32, alone]);
  });

  /** Prefills `lengths` prompts into `caches`, then runs `steps` batched steps; the logits of every step and the dispatches they took. */
  async function steps(caches: readonly KVCache[], lengths: number[], count: number): Promise<{ logits: number[][]; dispatches: number }> {
    const V = model.config.vocab_size;
    const ps = prompts(lengths, V, 29);
    for (const [i, p] of ps.entries()) await model.forwardAsync?.(p, 0, caches[i] as KVCache);
    const fed = ps.map((p) => p[0] as number);
    const logits: number[][] = [];
    const d0 = be.counters().dispatches;
    for (let s = 0; s < count; s++) logits.push(Array.from((await model.forwardBatchAsync?.(fed, caches)) ?? []));
    return { logits, dispatches: be.counters().dispatches - d0 };
  }

  test('[ob:batch-forward-rows] caches from one arena: each layer attends all rows in one dispatch, with the logits of caches of their own bit for bit; a cache grown out of its slot falls back row by row', async () => {
    const lengths = [3, 9, 1, 6, 12];
    const L = model.config.num_layers;
    const arena = model.createCacheArena?.(6, 16);
    expect(arena?.caches.length).toBe(6);
    const shuffled = [4, 0, 5, 2, 1].map((i) => arena?.caches[i] as KVCache);
    const own = lengths.map(() => model.createCache(16));
    const [a, b] = [await steps(shuffled, lengths, 3), await steps(own, lengths, 3)];
    expect(a.logits).toEqual(b.logits);
    // Five rows: four attendRow dispatches per layer saved in each of the 3 steps.
    expect(b.dispatches - a.dispatches).toBe(3 * L * 4);
    // A cache that grows past its slot's 16 positions moves to buffers of its own; the step takes rows one by one.
    const grown = arena?.caches[3] as KVCache;
    const c = await steps([grown, ...shuffled.slice(1)], [20, ...lengths.slice(1)], 1);
    const d = await steps([model.createCache(16), ...own.slice(1)], [20, ...lengths.slice(1)], 1);
    expect(c.logits).toEqual(d.logits);
    expect(c.dispatches).toBe(d.dispatches);
    arena?.dispose();
    for (const o of own) o.dispose();
  });
});

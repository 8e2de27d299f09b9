import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { readHfDir } from '../../src/formats/hf-dir/read.js';
import { createWebGpuBackend } from '../../src/kernels/webgpu/backend.js';
import { generate, loadModel } from '../../src/model/index.js';
import { argmax } from '../../src/model/sampling.js';
import { FIXTURES, loadReference } from '../golden/model-fixtures.js';
import { gpu, noGpuReason } from '../property/webgpu-helpers.js';

/**
 * Greedy decoding with the arg-max on the device (Model.forwardGreedyAsync): the same ids as the arg-max of
 * the read-back logits, transformers' greedy_32 continuation, one submission, no buffer creation and 4 bytes
 * read back per decoded token. On the CPU, forwardGreedy is the arg-max of forward and generate is unchanged.
 */
const NAME = 'tiny-coder-llama';
const hf = (): ReturnType<typeof readHfDir> => readHfDir(path.join(FIXTURES, 'models', NAME));
const ref = loadReference(NAME);

test('CPU: forwardGreedy is the arg-max of forward; generate gives greedy_32', () => {
  const model = loadModel(hf());
  const p = ref.prompts[0];
  if (!p) throw new Error('no prompt');
  const [a, b] = [model.createCache(64), model.createCache(64)];
  let x = model.forwardGreedy?.(p.ids, 0, a) ?? -1;
  expect(x).toBe(argmax(model.forward(p.ids, 0, b)));
  for (let i = 0; i < 4; i++) {
    const want = argmax(model.forward([x], a.length, b));
    x = model.forwardGreedy?.([x], a.length, a) ?? -1;
    expect(x).toBe(want);
  }
  expect(generate(model, p.ids, { maxTokens: 32 }).ids).toEqual(p.greedy_32);
});

const be = gpu ? createWebGpuBackend(gpu) : undefined;

describe.skipIf(!be)(`greedy decoding with the device arg-max${noGpuReason}`, () => {
  test('forwardGreedyAsync reproduces greedy_32 reading back 4 bytes a token, one submission, no new buffers', async () => {
    const g = be as NonNullable<typeof be>;
    const model = loadModel(hf(), { backend: g });
    const p = ref.prompts[0];
    if (!p || !model.forwardGreedyAsync) throw new Error('no prompt or no forwardGreedyAsync');
    const cache = model.createCache(p.ids.length + 32);
    const ids = [await model.forwardGreedyAsync(p.ids, 0, cache)];
    ids.push(await model.forwardGreedyAsync([ids[0] ?? 0], cache.length, cache));
    const c0 = g.counters();
    while (ids.length < 32) ids.push(await model.forwardGreedyAsync([ids[ids.length - 1] ?? 0], cache.length, cache));
    const c1 = g.counters();
    expect(ids).toEqual(p.greedy_32);
    const steps = 30;
    expect((c1.bytesRead - c0.bytesRead) / steps).toBe(4);
    expect((c1.submissions - c0.submissions) / steps).toBe(1);
    expect(c1.bufferCreations - c0.bufferCreations).toBe(0);
    model.dispose();
  });

  test('[ob:decoder-greedy-ahead] greedyAheadAsync: chunks of steps fed on the device give greedy_32, one read-back per chunk', async () => {
    const g = be as NonNullable<typeof be>;
    const model = loadModel(hf(), { backend: g });
    const p = ref.prompts[1] ?? ref.prompts[0];
    if (!p || !model.forwardGreedyAsync || !model.greedyAheadAsync) throw new Error('no prompt or no greedyAheadAsync');
    const cache = model.createCache(p.ids.length + 40);
    const ids = [await model.forwardGreedyAsync(p.ids, 0, cache)];
    for (const k of [1, 4, 9, 17]) {
      const c0 = g.counters();
      const got = (await model.greedyAheadAsync(ids[ids.length - 1] ?? 0, cache.length, cache, k)) ?? [];
      const c1 = g.counters();
      expect(got.length).toBe(k);
      // k floats read back once, whatever k
      expect(c1.bytesRead - c0.bytesRead).toBe(4 * k);
      ids.push(...got);
    }
    expect(ids.slice(0, 32)).toEqual(p.greedy_32);
    expect(cache.length).toBe(p.ids.length + 1 + 4 + 9 + 17);
    model.dispose();
  });

  test('[ob:decoder-greedy-ahead] generate on the synchronous WebGPU backend runs ahead and still stops, with the cache cut back', async () => {
    const { createSyncWebGpuBackend } = await import('../../src/kernels/webgpu/sync-backend.js');
    const sync = createSyncWebGpuBackend();
    expect(sync.ok).toBe(true);
    if (!sync.ok) return;
    try {
      const model = loadModel(hf(), { backend: sync.backend });
      for (const p of ref.prompts.slice(0, 3)) expect(generate(model, p.ids, { maxTokens: 32 }).ids).toEqual(p.greedy_32);
      const p = ref.prompts[0];
      if (!p) throw new Error('no prompt');
      // a stop token met inside a chunk: the ids end before it and the kept cache holds what the step-by-step loop writes
      const stop = p.greedy_32[10] ?? 0;
      const cache = model.createCache(p.ids.length + 32);
      const r = generate(model, p.ids, { maxTokens: 32, stopTokens: [stop], cache });
      const first = p.greedy_32.indexOf(stop);
      expect(r.ids).toEqual(p.greedy_32.slice(0, first));
      expect(cache.length).toBe(p.ids.length + first);
      model.dispose();
    } finally {
      sync.backend.close();
    }
  });
});

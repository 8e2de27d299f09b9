import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { readGgufBundle } from '../../src/formats/gguf/index.js';
import { createCpuBackend } from '../../src/kernels/cpu/index.js';
import { BatchEngine } from '../../src/model/batch-decoder.js';
import { generate, loadModel, type Model } from '../../src/model/index.js';
import { FIXTURES, loadReference } from '../golden/model-fixtures.js';
import { inMix, prompts, target } from './batch-helpers.js';

const gguf = (file: string): string => path.join(FIXTURES, 'gguf', file);
const q4 = loadModel(readGgufBundle(gguf('tiny-coder-llama-Q4_K_M.gguf')));
const q4threads = loadModel(readGgufBundle(gguf('tiny-coder-llama-Q4_K_M.gguf')), { backend: createCpuBackend({ threads: 2 }) });
const V = q4.config.vocab_size;

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

describe('forwardBatch (model-decoder-v1)', () => {
  for (const [name, model] of [['1 thread', q4], ['2 threads', q4threads]] as [string, Model][]) {
    test(`[ob:decoder-batch-invariance] [ob:batch-forward-rows] rows equal one-token forward passes bit for bit, caches of different lengths (${name})`, () => {
      const ps = prompts([3, 17, 1, 40, 9, 25, 5], V, 7);
      const single = ps.map((p) => { const c = model.createCache(8); model.forward(p, 0, c); return c; });
      const batched = ps.map((p) => { const c = model.createCache(8); model.forward(p, 0, c); return c; });
      for (let step = 0; step < 3; step++) {
        const toks = ps.map((_, i) => (11 * i + 5 * step + 3) % V);
        const got = model.forwardBatch?.(toks, batched) ?? new Float32Array(0);
        expect(got.length).toBe(ps.length * V);
        toks.forEach((t, i) => {
          const c = single[i]!;
          const want = model.forward([t], c.length, c);
          expect(bits(got.subarray(i * V, (i + 1) * V)), `row ${i} step ${step}`).toEqual(bits(want));
          expect(batched[i]!.length).toBe(c.length);
        });
      }
    });
  }

  test('[ob:batch-forward-rows] a cache given twice violates the contract', () => {
    const c = q4.createCache(4);
    q4.forward([5, 6], 0, c);
    expect(() => q4.forwardBatch?.([1, 2], [c, c])).toThrow(/distinct caches/);
  });
});

describe('BatchEngine (model-batch-decoder-v1)', () => {
  const [p] = prompts([13], V, 3);
  const req = target(p!, 24);
  const alone = generate(q4threads, req.promptIds, req).ids;

  test('[ob:batch-seed-invariance] the sampled request gives generate()\'s tokens alone (1 slot)', async () => {
    expect(alone.length).toBeGreaterThan(4);
    const r = await inMix(q4threads, req, [], 1, 0);
    expect(r.ids).toEqual(alone);
  });

  test('[ob:batch-seed-invariance] the same tokens in a batch of 7, joining at step 3 among prompts of other lengths', async () => {
    const r = await inMix(q4threads, req, prompts([5, 30, 2, 19, 44, 8], V, 11), 7, 3);
    expect(r.peak).toBe(7);
    expect(r.ids).toEqual(alone);
  });

  test('[ob:batch-seed-invariance] the same tokens in a batch of 32, joining at step 4', async () => {
    const lengths = Array.from({ length: 31 }, (_, i) => 1 + ((i * 13) % 50));
    const r = await inMix(q4threads, req, prompts(lengths, V, 19), 32, 4);
    expect(r.peak).toBe(32);
    expect(r.ids).toEqual(alone);
  });

  test('[ob:batch-seed-invariance] the same tokens when it waits in the queue for a slot (40 prompts, 7 slots, 1 thread)', async () => {
    const lengths = Array.from({ length: 40 }, (_, i) => 2 + ((i * 29) % 41));
    const r = await inMix(q4, req, prompts(lengths, V, 23), 7, 2);
    expect(r.peak).toBe(7);
    expect(r.ids).toEqual(alone);
  });

  test('[ob:batch-greedy-matches] greedy continuations decoded 4 at a time equal transformers\' greedy_32', async () => {
    for (const name of ['tiny-coder-llama', 'tiny-draft-llama']) {
      const model = loadModel(readGgufBundle(gguf(`${name}-f32.gguf`)));
      const engine = new BatchEngine(model, { parallel: 4, contextLength: 64 });
      const ref = loadReference(name);
      const got = await Promise.all(ref.prompts.map((pr) => engine.submit({ promptIds: pr.ids, maxTokens: 32 })));
      expect(ref.prompts.length).toBeGreaterThan(4);
      got.forEach((r, i) => expect(r.ids, `${name} prompt ${i}`).toEqual(ref.prompts[i]!.greedy_32));
      engine.close();
    }
  });

  test('[ob:batch-seed-invariance] logprobs equal the log-softmax of a full forward pass', async () => {
    const engine = new BatchEngine(q4, { parallel: 2, contextLength: 64 });
    const r = await engine.submit({ ...req, maxTokens: 6, logprobs: true });
    const ids = [...req.promptIds, ...r.ids];
    const all = q4.logitsAll(ids);
    r.ids.forEach((id, i) => {
      const row = all.subarray((req.promptIds.length - 1 + i) * V, (req.promptIds.length + i) * V);
      const max = Math.max(...row);
      const z = row.reduce((a, v) => a + Math.exp(v - max), 0);
      expect(r.logprobs?.[i]).toBeCloseTo(row[id]! - max - Math.log(z), 9);
    });
    engine.close();
  });
});

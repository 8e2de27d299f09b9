import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openModel } from '../../src/formats/open.js';
import { createWebGpuBackend } from '../../src/kernels/webgpu/backend.js';
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
  let alone: number[] = [];
  const req = (V: number): ReturnType<typeof target> => target(prompts([13], V, 3)[0]!, 7);

  beforeAll(async () => {
    model = loadModel(openModel(path.join(FIXTURES, 'gguf', 'tiny-coder-llama-Q4_K_M.gguf')), { backend: createWebGpuBackend(gpu as NonNullable<typeof gpu>) });
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
});

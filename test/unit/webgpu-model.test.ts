import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { openModel } from '../../src/formats/open.js';
import { readHfDir } from '../../src/formats/hf-dir/read.js';
import { createCpuBackend } from '../../src/kernels/cpu/index.js';
import { createWebGpuBackend } from '../../src/kernels/webgpu/backend.js';
import { createSyncWebGpuBackend } from '../../src/kernels/webgpu/sync-backend.js';
import { generate, loadModel } from '../../src/model/index.js';
import { FIXTURES, loadReference, maxAbsDiff, referenceLogits } from '../golden/model-fixtures.js';
import { gpu, noGpuReason } from '../property/webgpu-helpers.js';

/**
 * tiny-coder-llama end to end on WebGPU (the software adapter here and in CI). Against transformers the
 * tolerance is the CPU decoder's own (1e-4 absolute per logit: float32 both sides, only summation order
 * differs; measured ≈ 5e-6). Quantized GGUF files are compared with the CPU decoder on the same file at
 * 1e-4 absolute (logits are O(10); measured ≤ 2e-5): the weights decode bit for bit on both.
 */
const NAME = 'tiny-coder-llama';
const hf = (): ReturnType<typeof readHfDir> => readHfDir(path.join(FIXTURES, 'models', NAME));

// A skipped describe still runs its body (to collect the tests): the backend exists only with a device.
const gpuBackend = gpu ? createWebGpuBackend(gpu) : undefined;

describe.skipIf(!gpuBackend)(`tiny-coder-llama on WebGPU${noGpuReason}`, () => {
  const be = gpuBackend as NonNullable<typeof gpuBackend>;
  const ref = loadReference(NAME);
  const logitsOf = referenceLogits(NAME);

  test('[ob:webgpu-model-matches-transformers] logitsAllAsync of two prompts within 1e-4 of transformers', async () => {
    const model = loadModel(hf(), { backend: be });
    expect(model.backend).toBe('webgpu');
    for (const i of [0, 1]) {
      const got = await model.logitsAllAsync?.(ref.prompts[i]!.ids);
      expect(maxAbsDiff(got ?? new Float32Array(0), logitsOf(i))).toBeLessThan(1e-4);
    }
    model.dispose();
  });

  test('[ob:webgpu-model-matches-transformers] quantized GGUF (Q4_K_M, Q6_K, Q8_0) logits within 1e-4 of the CPU decoder on the same file', async () => {
    const ids = ref.prompts[0]!.ids.slice(0, 12);
    for (const q of ['Q4_K_M', 'Q6_K', 'Q8_0']) {
      const file = path.join(FIXTURES, 'gguf', `${NAME}-${q}.gguf`);
      const model = loadModel(openModel(file), { backend: be });
      const got = (await model.logitsAllAsync?.(ids)) ?? new Float32Array(0);
      // the exact (dequantized) CPU product, as the WebGPU kernels compute it (the default CPU path rounds activations to 8 bits)
      const want = loadModel(openModel(file), { backend: createCpuBackend({ threads: 1, integerDot: false }) }).logitsAll(ids);
      expect(maxAbsDiff(got, want), q).toBeLessThan(1e-4);
      model.dispose();
    }
  });

  test('forwardAsync on the CPU backend equals forward bit for bit (the additive async path)', async () => {
    const model = loadModel(hf());
    const ids = ref.prompts[0]!.ids;
    const got = (await model.forwardAsync?.(ids, 0, model.createCache())) ?? new Float32Array(0);
    expect(Array.from(got)).toEqual(Array.from(model.forward(ids, 0, model.createCache())));
  });

  test('[ob:webgpu-model-matches-transformers] [ob:webgpu-sync-proxy] the synchronous proxy (device in a worker) reproduces greedy_32 with the KV cache', () => {
    const sync = createSyncWebGpuBackend();
    expect(sync.ok).toBe(true);
    if (!sync.ok) return;
    const model = loadModel(hf(), { backend: sync.backend });
    const p = ref.prompts[1]!;
    expect(generate(model, p.ids, { maxTokens: 32 }).ids).toEqual(p.greedy_32);
    sync.backend.close();
  });
});

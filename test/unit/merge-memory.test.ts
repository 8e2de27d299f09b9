import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { writeModel } from '../../src/formats/open.js';
import { mergeModels } from '../../src/ops/merge.js';
import type { ArchConfig, ModelBundle } from '../../src/tensor/bundle.js';
import type { TensorRef } from '../../src/tensor/store.js';
import { tempDir } from '../helpers.js';

// 2 layers × 4 MLP/attention matrices of 2048 × 2048 floats (16 MiB each): 128 MiB per model.
const H = 2048;
const CONFIG: ArchConfig = {
  architecture: 'llama', hidden_size: H, num_layers: 2, num_heads: 16, num_kv_heads: 16, head_dim: 128, vocab_size: 8,
  intermediate_size: H, rope_theta: 10000, rms_norm_eps: 1e-5, max_position_embeddings: 64, tie_word_embeddings: true, attention_bias: false,
};
const MIB = 2 ** 20;
let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('apr-merge-memory-');
});
afterAll(() => tmp.cleanup());

function synthetic(path: string, scale: number): void {
  const refs = new Map<string, TensorRef>();
  for (let l = 0; l < 2; l++) {
    for (const m of ['self_attn.q_proj', 'self_attn.k_proj', 'mlp.up_proj', 'mlp.down_proj']) {
      const name = `model.layers.${l}.${m}.weight`;
      refs.set(name, { name, dtype: 'F32', shape: [H, H], byteLength: H * H * 4, read: () => new Uint8Array(Float32Array.from({ length: H * H }, (_v, i) => scale * ((i % 97) - 48)).buffer) });
    }
  }
  const bundle: ModelBundle = { config: CONFIG, metadata: {}, provenance: [], source: { path, format: 'memory' }, tensors: { names: () => [...refs.keys()], get: (n) => refs.get(n), close: () => undefined } };
  writeModel(bundle, path, 'apr');
}

it('streams: peak RSS growth stays within 12 × the largest tensor + 64 MiB (whole models would need ≥ 384 MiB) [ob:merge-streaming-memory]', () => {
  const a = join(tmp.dir, 'a.apr');
  const b = join(tmp.dir, 'b.apr');
  synthetic(a, 1);
  synthetic(b, 3);
  const start = process.memoryUsage.rss();
  const r = mergeModels({ models: [a, b], output: join(tmp.dir, 'out.apr'), strategy: 'linear' });
  expect(r.largest_tensor_f32_bytes).toBe(16 * MIB);
  const growth = r.peak_rss_bytes - start;
  expect(growth).toBeLessThanOrEqual(12 * r.largest_tensor_f32_bytes + 64 * MIB);
});

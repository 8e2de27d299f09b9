import { describe, expect, test } from 'vitest';
import type { ArchConfig } from '../../src/tensor/bundle.js';
import { createTrainableModel } from '../../src/train/model/index.js';
import { QWEN2_SMALL, randomModel } from '../unit/model-random.js';
import { lcg, modelGradCheck, param } from './train-grad-helpers.js';

/**
 * End to end: the gradient of L = Σ c·logits with respect to parameters of whole small random decoders
 * (every tensor kind: embedding, norms, q/k/v/o with Qwen2 biases, MLP, LM head; tied and untied heads),
 * against central differences of `logits()`. Same protocol and tolerance as train-grad.test.ts
 * (|analytic − fd| ≤ 1e-3 + 3e-2·max(|analytic|, |fd|)).
 */
const TOL = { atol: 1e-3, rtol: 3e-2 };

const LLAMA_TIED: ArchConfig = {
  architecture: 'llama', hidden_size: 64, num_layers: 2, num_heads: 4, num_kv_heads: 2, head_dim: 16, vocab_size: 50,
  intermediate_size: 128, rope_theta: 10000, rms_norm_eps: 1e-5, max_position_embeddings: 64, tie_word_embeddings: true, attention_bias: false,
};

const ids = [3, 17, 5, 5, 41, 0, 22, 9, 13];

describe('whole-model gradients', () => {
  for (const [label, config] of [['qwen2 (biases, untied)', QWEN2_SMALL], ['llama (tied head)', LLAMA_TIED]] as const) {
    test(`[ob:grad-matches-finite-difference] full finetune, ${label}: every parameter tensor`, () => {
      const m = createTrainableModel(randomModel(config, 11).bundle, { method: 'full' });
      const checked = m.parameters().map((p) => param(p.name, p));
      expect(checked.length).toBe(config === QWEN2_SMALL ? 2 * 12 + 3 : 2 * 9 + 2);
      const r = modelGradCheck(m, ids.map((i) => i % config.vocab_size), checked, { seed: 5, perTensor: 2, ...TOL });
      expect(r.failures).toEqual([]);
      expect(r.largest).toBeGreaterThan(0.05);
    });
  }

  for (const method of ['lora', 'qlora'] as const) {
    test(`[ob:grad-matches-finite-difference] ${method} on all seven projections with B ≠ 0: every A and B`, () => {
      const m = createTrainableModel(randomModel(LLAMA_TIED, 3).bundle, { method, rank: 4, alpha: 8, targets: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], seed: 1 });
      const rnd = lcg(9);
      for (const p of m.parameters()) if (p.name.includes('lora_B')) for (let i = 0; i < p.data.length; i++) p.data[i] = (rnd() - 0.5) * 0.4;
      expect(m.parameters().length).toBe(2 * 7 * 2);
      const r = modelGradCheck(m, ids, m.parameters().map((p) => param(p.name, p)), { seed: 8, perTensor: 3, ...TOL });
      expect(r.failures).toEqual([]);
      expect(r.largest).toBeGreaterThan(0.05);
    });
  }
});

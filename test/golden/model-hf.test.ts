import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { readHfDir } from '../../src/formats/hf-dir/read.js';
import { generate, loadModel } from '../../src/model/index.js';
import { FIXTURES, loadReference, maxAbsDiff, referenceLogits } from './model-fixtures.js';

/**
 * The decoder against transformers' own outputs for the two fixture models, loaded from their Hugging Face
 * folders. Tolerance 1e-4 absolute on every logit: both sides compute in float32, so only summation order
 * differs (measured max ≈ 3e-5).
 */
for (const name of ['tiny-coder-llama', 'tiny-draft-llama']) {
  describe(`${name} (HF folder) vs transformers`, () => {
    const model = loadModel(readHfDir(path.join(FIXTURES, 'models', name)));
    const ref = loadReference(name);
    const logitsOf = referenceLogits(name);
    const V = model.config.vocab_size;

    test('[ob:decoder-matches-transformers] every logit of every prompt within 1e-4', () => {
      let worst = 0;
      ref.prompts.forEach((p, i) => {
        const want = logitsOf(i);
        expect(want.length).toBe(p.ids.length * V);
        worst = Math.max(worst, maxAbsDiff(model.logitsAll(p.ids), want));
      });
      expect(worst).toBeLessThan(1e-4);
    });

    test('[ob:decoder-greedy-matches] greedy_32 with the KV cache equals the reference for all prompts', () => {
      for (const p of ref.prompts) {
        const r = generate(model, p.ids, { maxTokens: 32 });
        expect(r.ids).toEqual(p.greedy_32);
        expect(r.stopReason).toBe('length');
      }
    });

    test('[ob:decoder-cache-equivalence] one-token decoding reproduces the batched logits bit for bit', () => {
      const ids = ref.prompts[2]!.ids;
      const full = model.logitsAll(ids);
      const cache = model.createCache();
      ids.forEach((id, t) => {
        const step = model.forward([id], t, cache);
        expect(Array.from(step)).toEqual(Array.from(full.subarray(t * V, (t + 1) * V)));
      });
    });
  });
}

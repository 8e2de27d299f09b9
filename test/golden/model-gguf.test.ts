import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { readGgufBundle } from '../../src/formats/gguf/index.js';
import { generate, loadModel } from '../../src/model/index.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { FIXTURES, loadReference, maxAbsDiff, referenceLogits } from './model-fixtures.js';

const gguf = (file: string): string => path.join(FIXTURES, 'gguf', file);

/** The f32 GGUF files written by llama.cpp's converter reproduce transformers' outputs like the HF folders do. */
for (const name of ['tiny-coder-llama', 'tiny-draft-llama']) {
  describe(`${name}-f32.gguf vs transformers`, () => {
    const model = loadModel(readGgufBundle(gguf(`${name}-f32.gguf`)));
    const ref = loadReference(name);
    const logitsOf = referenceLogits(name);

    test('[ob:decoder-matches-transformers] every logit within 1e-4 (Q/K RoPE permutation undone by the reader)', () => {
      let worst = 0;
      ref.prompts.forEach((p, i) => (worst = Math.max(worst, maxAbsDiff(model.logitsAll(p.ids), logitsOf(i)))));
      expect(worst).toBeLessThan(1e-4);
    });

    test('[ob:decoder-greedy-matches] greedy_32 with the KV cache equals the reference', () => {
      for (const p of ref.prompts) expect(generate(model, p.ids, { maxTokens: 32 }).ids).toEqual(p.greedy_32);
    });
  });
}

/**
 * Quantized files keep their blocks in memory (no whole-model dequantization) and still behave like the model:
 * logits stay near the reference (bounded by the quantization error, not by round-off) and greedy decoding
 * produces text.
 */
const QUANTS: [string, string[], number][] = [
  // file suffix, block dtypes expected among the matrices, bound on max |logit − reference| over all prompts
  ['Q8_0', ['Q8_0'], 0.5],
  ['Q6_K', ['Q6_K'], 1.5],
  ['Q4_K_M', ['Q4_K', 'Q6_K'], 6],
  ['Q4_0', ['Q4_0'], 6],
];

describe('quantized GGUF fixtures', () => {
  const ref = loadReference('tiny-coder-llama');
  const logitsOf = referenceLogits('tiny-coder-llama');
  for (const [q, dtypes, bound] of QUANTS) {
    test(`tiny-coder-llama-${q}.gguf runs on its blocks`, () => {
      const bundle = readGgufBundle(gguf(`tiny-coder-llama-${q}.gguf`));
      const model = loadModel(bundle);
      const held = new Set(Object.values(model.weightDtypes));
      for (const d of dtypes) expect(held.has(d)).toBe(true);
      let worst = 0;
      let top1 = 0;
      ref.prompts.forEach((p, i) => {
        const got = model.logitsAll(p.ids);
        worst = Math.max(worst, maxAbsDiff(got, logitsOf(i)));
        const last = got.subarray((p.ids.length - 1) * 4096);
        if (last.indexOf(Math.max(...last)) === p.last_argmax) top1++;
      });
      expect(worst).toBeLessThan(bound);
      expect(top1).toBeGreaterThanOrEqual(5);
      const tok = loadTokenizer(bundle.tokenizer!);
      const out = generate(model, tok.encode('def fibonacci(n):', { addSpecialTokens: false }), { maxTokens: 24 });
      expect(out.ids.length).toBe(24);
      expect(tok.decode(out.ids).trim().length).toBeGreaterThan(10);
    });
  }
});

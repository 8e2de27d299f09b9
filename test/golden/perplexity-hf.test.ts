import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { perplexity } from '../../src/eval/perplexity.js';
import { readHfDir } from '../../src/formats/hf-dir/read.js';
import { loadModel } from '../../src/model/index.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { FIXTURES, loadReference } from './model-fixtures.js';

/**
 * The fixture protocol (README): heldout.py.txt encoded without special tokens, the first 32 non-overlapping
 * chunks of 256 tokens, mean NLL of tokens 1..255 of each chunk. Tolerance 0.05 % relative (the bound).
 */
const text = readFileSync(path.join(FIXTURES, 'reference', 'heldout.py.txt'), 'utf8');

for (const name of ['tiny-coder-llama', 'tiny-draft-llama']) {
  describe(`${name} held-out perplexity`, () => {
    test('[ob:perplexity-matches-reference] context 256, 32 chunks: within 0.05 % of transformers', () => {
      const bundle = readHfDir(path.join(FIXTURES, 'models', name));
      if (!bundle.tokenizer) throw new Error('fixture folder has no tokenizer');
      const ids = loadTokenizer(bundle.tokenizer).encode(text, { addSpecialTokens: false });
      const model = loadModel(bundle);
      const want = loadReference(name).heldout_ppl;
      const got = perplexity(model, ids, { context: 256, chunks: 32 });
      expect(got.tokens).toBe(want.tokens);
      expect(got.chunks).toBe(32);
      expect(Math.abs(got.perplexity / want.perplexity - 1)).toBeLessThan(5e-4);
      expect(Math.abs(got.mean_nll - want.mean_nll)).toBeLessThan(5e-4);
    });
  });
}

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openModel } from '../../src/formats/open.js';
import { openSafetensors } from '../../src/formats/safetensors/read.js';
import { createSession } from '../../src/model/session.js';
import { runPrompt } from '../../src/ops/generate.js';
import { importModel } from '../../src/ops/model-io.js';
import { fixture, tempDir } from '../helpers.js';

interface Reference {
  prompts: { text: string; ids: number[]; greedy_32: number[] }[];
}

const tmp = tempDir('apr-model-apr-');
afterAll(() => tmp.cleanup());

// The same model through the APR path (HF folder → apr import → .apr): every logit of every reference prompt
// within 1e-4 absolute of transformers (float32 round-off of 6 layers of 256-wide sums; the HF and GGUF paths
// are held to the same bound in test/golden/model-*.test.ts), and greedy_32 exact with the KV cache.
describe('decoder loaded from an APR file against transformers [ob:run-greedy-reference]', () => {
  for (const model of ['tiny-coder-llama', 'tiny-draft-llama']) {
    it(`${model}: logits within 1e-4, greedy_32 exact`, () => {
      const apr = join(tmp.dir, `${model}.apr`);
      importModel({ input: fixture('models', model), output: apr, golden: false });
      const session = createSession(openModel(apr));
      const ref = JSON.parse(readFileSync(fixture(`reference/${model}.reference.json`), 'utf8')) as Reference;
      const logits = openSafetensors(fixture(`reference/${model}.logits.safetensors`));
      try {
        ref.prompts.forEach((p, i) => {
          const t = logits.get(`prompt${i}.logits`);
          const bytes = t?.read() ?? new Uint8Array();
          const expected = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
          const got = session.model.logitsAll(p.ids);
          expect(got.length).toBe(expected.length);
          let worst = 0;
          for (let j = 0; j < got.length; j++) worst = Math.max(worst, Math.abs((got[j] ?? 0) - (expected[j] ?? 0)));
          expect(worst, `${model} prompt ${i}`).toBeLessThanOrEqual(1e-4);
          const out = runPrompt(session, { prompt: p.text, maxTokens: 32 });
          const stop = p.greedy_32.findIndex((id) => session.tokenizer.stopTokenIds.includes(id));
          expect(out.token_ids, p.text).toEqual(stop < 0 ? p.greedy_32 : p.greedy_32.slice(0, stop));
        });
      } finally {
        logits.close();
      }
    });
  }
});

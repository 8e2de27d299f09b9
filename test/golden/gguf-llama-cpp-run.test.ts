/**
 * GGUF files written by writeGgufBundle load and run in llama.cpp (llama-completion, greedy): one exported
 * from the HF folder gives the transformers reference text; one re-exported from the Q4_K_M fixture gives
 * the same text as the fixture itself. Runs when the llama.cpp tools are found (see gguf-llama-cpp-tools.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readGgufBundle, writeGgufBundle } from '../../src/formats/gguf/index.js';
import { readHfDir } from '../../src/formats/hf-dir/read.js';
import { FIX, bin, llamaGreedy, reason } from './gguf-llama-cpp-tools.js';

describe.skipIf(bin === undefined)('GGUF files written by writeGgufBundle run in llama.cpp', () => {
  const dir = mkdtempSync(join(tmpdir(), 'apr-llama-cpp-run-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const ref = JSON.parse(readFileSync(resolve(FIX, '../reference/tiny-coder-llama.reference.json'), 'utf8')) as { prompts: { text: string; greedy_32_text: string }[] };
  const prompt = ref.prompts[0]!;

  it(`from the HF folder: llama-completion's greedy text for ${JSON.stringify(prompt.text)} is the transformers reference`, () => {
    const bundle = readHfDir(resolve(FIX, '../models/tiny-coder-llama'));
    const path = join(dir, 'from-hf.gguf');
    writeGgufBundle(bundle, path);
    bundle.tensors.close();
    // llama-completion does not print trailing whitespace-only pieces, so compare without it.
    expect(llamaGreedy(path, prompt.text, 32).trimEnd()).toBe(prompt.greedy_32_text.trimEnd());
  });

  it('from the Q4_K_M GGUF (quantized tensors kept as is): the same greedy text as the original file', () => {
    const src = join(FIX, 'tiny-coder-llama-Q4_K_M.gguf');
    const bundle = readGgufBundle(src);
    const path = join(dir, 'from-q4km.gguf');
    writeGgufBundle(bundle, path);
    bundle.tensors.close();
    const expected = llamaGreedy(src, prompt.text, 32);
    expect(expected.length).toBeGreaterThan(20);
    expect(llamaGreedy(path, prompt.text, 32)).toBe(expected);
  });
});

if (bin === undefined) {
  describe('llama.cpp run', () => {
    it.skip(`skipped: ${reason}`, () => undefined);
  });
}

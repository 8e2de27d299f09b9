/**
 * LoRA adapters against llama.cpp itself (llama-completion --lora, greedy): apr's merge of llama.cpp's LoRA
 * GGUF into tiny-coder-llama gives llama.cpp's text and transformers+peft's reference text; a GGUF apr
 * writes from the PEFT folder is accepted by llama.cpp with the same result; two adapters at scale 0.5 give
 * the text of one at scale 1 in both. Runs when the llama.cpp tools are found (see gguf-llama-cpp-tools.ts).
 */
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeGgufLora } from '../../src/formats/gguf/lora-write.js';
import { openModel } from '../../src/formats/open.js';
import { readPeftAdapter } from '../../src/formats/peft/adapter.js';
import { mergeLora } from '../../src/formats/peft/merge.js';
import { openLoraAdapter } from '../../src/formats/peft/open.js';
import { withUnmergedLoras } from '../../src/model/lora-apply.js';
import { generate, loadModel } from '../../src/model/index.js';
import type { ModelBundle } from '../../src/tensor/bundle.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { tempDir } from '../helpers.js';
import { FIX, bin, llamaGreedy, reason } from './gguf-llama-cpp-tools.js';
import { loadReference } from './model-fixtures.js';

const BASE = join(FIX, 'tiny-coder-llama-f32.gguf');
const LORA = join(FIX, 'tiny-coder-llama-lora-email-f32.gguf');
const PEFT = resolve(FIX, '../adapters/tiny-coder-llama-lora-email');
/** The fixtures' first prompt, `def fibonacci(n):` (one prompt: each llama-completion run takes seconds here). */
const PROMPTS = loadReference('tiny-coder-llama+lora-email').prompts.slice(0, 1);
const greedyText = (model: string): string[] => (loadReference(model).prompts as { greedy_32_text?: string }[]).slice(0, PROMPTS.length).map((p) => p.greedy_32_text?.trimEnd() ?? '');
/** transformers+peft's merged text, and the base model's own (which the adapter changes). */
const MERGED_TEXT = greedyText('tiny-coder-llama+lora-email');
const BASE_TEXT = greedyText('tiny-coder-llama');

/** apr's greedy text (32 tokens) for each prompt, with the bundle's own tokenizer. */
function aprTexts(bundle: ModelBundle): string[] {
  const tokenizer = loadTokenizer(bundle.tokenizer!, { source: 'base', modelConfig: bundle.config });
  const model = loadModel(bundle);
  bundle.tensors.close();
  return PROMPTS.map((p) => tokenizer.decode(generate(model, p.ids, { maxTokens: 32 }).ids));
}

describe.skipIf(bin === undefined)('LoRA GGUF adapters in llama.cpp (llama-completion --lora, greedy, 32 tokens)', () => {
  const tmp = tempDir('apr-lora-llama-cpp-');
  afterAll(() => tmp.cleanup());
  // llama-completion does not print trailing whitespace-only pieces, so texts are compared without it.
  const llama = (extra: string[]): string[] => PROMPTS.map((p) => llamaGreedy(BASE, p.text, 32, extra).trimEnd());

  it("[ob:finetune-merge-gguf-lora] apr's merge of the LoRA GGUF gives llama.cpp's text and the PEFT reference text", () => {
    const base = openModel(BASE);
    const ours = aprTexts(mergeLora(base, openLoraAdapter(LORA, base.config))).map((t) => t.trimEnd());
    const theirs = llama(['--lora', LORA]);
    expect(ours).toEqual(theirs);
    expect(ours).toEqual(MERGED_TEXT);
    // and the adapter matters: the base model alone writes something else
    expect(MERGED_TEXT).not.toEqual(BASE_TEXT);
  });

  it('a GGUF apr wrote from the PEFT folder loads in llama.cpp and gives the same text', () => {
    const out = join(tmp.dir, 'apr-written-lora.gguf');
    const ad = readPeftAdapter(PEFT);
    writeGgufLora(out, ad, { base: { architecture: 'llama', num_heads: 8, num_kv_heads: 4 } });
    ad.tensors.close();
    expect(llama(['--lora', out])).toEqual(MERGED_TEXT);
  });

  it('two adapters at scale 0.5: apr run unmerged and llama.cpp --lora-scaled both give the text of one at scale 1', () => {
    const base = openModel(BASE);
    const ours = aprTexts(withUnmergedLoras(base, [0.5, 0.5].map((scale) => ({ adapter: openLoraAdapter(LORA, base.config), scale })))).map((t) => t.trimEnd());
    const theirs = llama(['--lora-scaled', `${LORA}:0.5,${LORA}:0.5`]);
    expect(theirs).toEqual(MERGED_TEXT);
    expect(ours).toEqual(theirs);
  });
});

if (bin === undefined) {
  describe('LoRA GGUF adapters in llama.cpp', () => {
    it.skip(`skipped: ${reason}`, () => undefined);
  });
}

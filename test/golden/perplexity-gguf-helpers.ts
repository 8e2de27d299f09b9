import { readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';
import { perplexity } from '../../src/eval/perplexity.js';
import { readGgufBundle } from '../../src/formats/gguf/index.js';
import { loadModel } from '../../src/model/index.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { FIXTURES } from './model-fixtures.js';

/**
 * llama.cpp's own figures for the fixture GGUF files (fixtures README): `llama-perplexity -f heldout.py.txt
 * -c 256 --chunks 64`, which scores the second half of each 256-token window (tokens 129..255). The
 * README gives them to three decimals.
 */
export const LLAMA_CPP_PPL: Record<string, number> = { f32: 9.319, Q8_0: 9.321, Q6_K: 9.346, Q4_K_M: 9.486, Q4_0: 9.625 };

const text = readFileSync(path.join(FIXTURES, 'reference', 'heldout.py.txt'), 'utf8');

export function llamaCppProtocol(quant: string): number {
  const bundle = readGgufBundle(path.join(FIXTURES, 'gguf', `tiny-coder-llama-${quant}.gguf`));
  if (!bundle.tokenizer) throw new Error('GGUF without tokenizer');
  const ids = loadTokenizer(bundle.tokenizer).encode(text, { addSpecialTokens: false });
  const r = perplexity(loadModel(bundle), ids, { context: 256, chunks: 64, scoreFrom: 129 });
  expect(r.tokens).toBe(64 * 127);
  return r.perplexity;
}

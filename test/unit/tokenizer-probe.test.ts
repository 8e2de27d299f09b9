import { it } from 'vitest';
import { loadTokenizer, tokenizerFromGgufVocab } from '../../src/tokenizer/index.js';
import { readGgufKv, vocabFromKv } from '../golden/tokenizer-gguf-kv.js';
import * as hfTokenizers from '@huggingface/tokenizers';
it('probe', () => {
  for (const name of ['qwen2', 'llama-spm']) {
    const t0 = performance.now();
    const v = vocabFromKv(readGgufKv(`/work/llama-cpp/src/models/ggml-vocab-${name}.gguf`));
    const t1 = performance.now();
    const spec = tokenizerFromGgufVocab(v);
    const t2 = performance.now();
    const obj = JSON.parse(spec.json);
    const t3 = performance.now();
    new (hfTokenizers as any).Tokenizer(obj, {});
    const t4 = performance.now();
    loadTokenizer(spec);
    const t5 = performance.now();
    console.log(name, 'kv', (t1-t0).toFixed(0), 'synth', (t2-t1).toFixed(0), 'parse', (t3-t2).toFixed(0), 'lib', (t4-t3).toFixed(0), 'load', (t5-t4).toFixed(0));
  }
});

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ggufVocabFromTokenizer, loadTokenizer, tokenizerFromGgufVocab } from '../../src/tokenizer/index.js';
import { readGgufKv, vocabFromKv } from './tokenizer-gguf-kv.js';

/**
 * llama.cpp ships vocabulary-only GGUF files with the expected ids of 47 test strings (`models/
 * ggml-vocab-*.gguf.{inp,out}`, written by Hugging Face tokenizers through convert_hf_to_gguf_update.py and
 * checked against llama.cpp by its test-tokenizer-0). These tests need a llama.cpp source tree
 * (`../shared/tools/build-llama-cpp.sh` puts one in `.llama-cpp/src`; APR_LLAMA_CPP_SRC overrides) and are
 * skipped without one.
 */
const candidates = [process.env['APR_LLAMA_CPP_SRC'], '.llama-cpp/src', '../llama-cpp/src'].filter((p): p is string => p !== undefined);
const root = candidates.map((p) => path.resolve(process.cwd(), p)).find((p) => existsSync(path.join(p, 'models/ggml-vocab-gpt-2.gguf')));
const models = root === undefined ? '' : path.join(root, 'models');

function cases(name: string): { text: string; ids: number[] }[] {
  const base = path.join(models, `ggml-vocab-${name}.gguf`);
  const inputs = readFileSync(`${base}.inp`, 'utf8').split('\n__ggml_vocab_test__\n');
  const outputs = readFileSync(`${base}.out`, 'utf8').split('\n');
  return inputs.map((text, i) => ({
    text,
    ids: (outputs[i] ?? '').trim().split(' ').filter((s) => s !== '').map(Number),
  }));
}

/**
 * Newer convert_hf_to_gguf.py marks added tokens that look special (`<|...|>`, `<｜...｜>`, `<pad>`) as control
 * (3); the deepseek-coder vocabulary predates that rule and has them as user-defined (4).
 */
const looksSpecial = (t: string): boolean =>
  t === '<pad>' || (t.startsWith('<|') && t.endsWith('|>')) || (t.startsWith('<\uff5c') && t.endsWith('\uff5c>'));

const VOCABS = ['gpt-2', 'qwen2', 'llama-bpe', 'llama-spm', 'phi-3', 'mpt', 'starcoder', 'falcon', 'deepseek-llm', 'deepseek-coder'];

describe.skipIf(root === undefined)('GGUF vocabularies of llama.cpp vs their reference tokenizations', () => {
  for (const name of VOCABS) {
    it(`ggml-vocab-${name}: the synthesised tokenizer encodes all test strings exactly [ob:tokenizer-gguf-equivalence]`, () => {
      const vocab = vocabFromKv(readGgufKv(path.join(models, `ggml-vocab-${name}.gguf`)));
      const spec = tokenizerFromGgufVocab(vocab);
      const tok = loadTokenizer(spec);
      const all = cases(name);
      expect(all.length).toBeGreaterThanOrEqual(40);
      for (const c of all) expect(tok.encode(c.text, { addSpecialTokens: false }), JSON.stringify(c.text)).toEqual(c.ids);

      // GGUF -> tokenizer.json -> GGUF: the keys convert_hf_to_gguf.py wrote come back.
      const back = ggufVocabFromTokenizer(spec, { vocabSize: vocab.tokens.length });
      expect(back.model).toBe(vocab.model);
      expect(back.tokens).toEqual(vocab.tokens);
      if (vocab.model === 'gpt2') {
        expect(back.token_type).toEqual(vocab.token_type?.map((t, i) => (t === 4 && looksSpecial(vocab.tokens[i] ?? '') ? 3 : t)));
        expect(back.merges).toEqual(vocab.merges);
      } else {
        // SentencePiece: scores are re-derived from the merge ranks; the encoding must not change.
        const again = loadTokenizer(tokenizerFromGgufVocab(back));
        for (const c of all) expect(again.encode(c.text, { addSpecialTokens: false }), JSON.stringify(c.text)).toEqual(c.ids);
      }
    });
  }

  /**
   * `\s` is Unicode White_Space in Oniguruma (Hugging Face) and llama.cpp, but JavaScript's `\s` adds U+FEFF
   * and lacks U+0085. Ids below were produced by llama.cpp's llama-tokenize (commit 80fb11a) on
   * ggml-vocab-gpt-2.gguf; with JavaScript's own `\s` the first four encode differently.
   */
  it('treats U+0085 as whitespace and U+FEFF as not, like Oniguruma and llama.cpp [ob:tokenizer-gguf-equivalence]', () => {
    const tok = loadTokenizer(tokenizerFromGgufVocab(vocabFromKv(readGgufKv(path.join(models, 'ggml-vocab-gpt-2.gguf')))));
    const cases: [string, number[]][] = [
      [' \u0085x', [220, 126, 227, 87]],
      [' \ufeff.', [27332, 119, 123, 13]],
      ["return 1\u0085's", [7783, 352, 126, 227, 338]],
      [' \u00e91a  \ufeffx', [38251, 16, 64, 220, 27332, 119, 123, 87]],
      ['x\ufeff=', [87, 171, 119, 123, 28]],
      ['a\u0085 b', [64, 126, 227, 275]],
      ['\ufeffdef f():\n\u0085  pass', [171, 119, 123, 4299, 277, 33529, 198, 126, 227, 220, 1208]],
    ];
    for (const [text, ids] of cases) expect(tok.encode(text, { addSpecialTokens: false }), JSON.stringify(text)).toEqual(ids);
  });
});

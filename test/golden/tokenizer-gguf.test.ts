import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TokenizerSpec } from '../../src/tensor/bundle.js';
import { ggufVocabFromTokenizer, loadTokenizer, tokenizerFromGgufVocab } from '../../src/tokenizer/index.js';
import { readGgufKv, vocabFromKv } from './tokenizer-gguf-kv.js';

const fixtures = path.resolve(process.cwd(), '../shared/fixtures');
const modelDir = path.join(fixtures, 'models/tiny-coder-llama');
const read = (p: string): string => readFileSync(p, 'utf8');

interface Reference {
  encode: { text: string; ids: number[]; decoded: string }[];
  chat_template_rendered: string;
  chat_ids: number[];
}
const reference = JSON.parse(read(path.join(fixtures, 'reference/tokenizer-reference.json'))) as Reference;
const ggufVocab = vocabFromKv(readGgufKv(path.join(fixtures, 'gguf/tiny-coder-llama-f32.gguf')));
const hfSpec: TokenizerSpec = {
  json: read(path.join(modelDir, 'tokenizer.json')),
  config: JSON.parse(read(path.join(modelDir, 'tokenizer_config.json'))) as Record<string, unknown>,
  chatTemplate: read(path.join(modelDir, 'chat_template.jinja')),
};

describe('GGUF vocabulary written by llama.cpp (tiny-coder-llama-f32.gguf)', () => {
  it('is the byte-level BPE the fixture README describes', () => {
    expect(ggufVocab.model).toBe('gpt2');
    expect(ggufVocab.pre).toBe('gpt-2');
    expect(ggufVocab.tokens).toHaveLength(4096);
    expect(ggufVocab.merges).toHaveLength(3837);
  });

  const tok = loadTokenizer(tokenizerFromGgufVocab(ggufVocab));

  for (const [i, e] of reference.encode.entries()) {
    it(`the synthesised tokenizer encodes reference string ${i} exactly like transformers [ob:tokenizer-reference-ids] [ob:tokenizer-gguf-equivalence]`, () => {
      expect(tok.encode(e.text, { addSpecialTokens: false })).toEqual(e.ids);
      expect(tok.decode(e.ids)).toBe(e.decoded);
    });
  }

  it('renders the GGUF chat template and encodes it to the reference chat_ids [ob:tokenizer-reference-ids]', () => {
    const rendered = tok.applyChatTemplate(
      [
        { role: 'system', content: 'You are a coder.' },
        { role: 'user', content: 'Add two numbers.' },
      ],
      { addGenerationPrompt: true },
    );
    expect(rendered).toBe(reference.chat_template_rendered);
    expect(tok.encode(rendered)).toEqual(reference.chat_ids);
  });

  it('takes special tokens, eos and stop tokens from token_type and the id keys', () => {
    expect([...tok.specialTokens.values()]).toEqual([0, 1, 2]);
    expect(tok.eosTokenId).toBe(0);
    expect(tok.padTokenId).toBe(0);
    expect(tok.bosTokenId).toBeUndefined();
    expect(tok.stopTokenIds).toEqual([0, 2]);
  });
});

describe('ggufVocabFromTokenizer(tiny-coder-llama tokenizer.json) vs what convert_hf_to_gguf.py wrote', () => {
  const mine = ggufVocabFromTokenizer(hfSpec, { vocabSize: 4096, modelConfig: { bos_token_id: null, eos_token_id: 0, pad_token_id: 0 } });

  it('has the same model, pre-tokenizer, tokens, token types and merges [ob:tokenizer-gguf-equivalence]', () => {
    expect(mine.model).toBe(ggufVocab.model);
    expect(mine.pre).toBe(ggufVocab.pre);
    expect(mine.tokens).toEqual(ggufVocab.tokens);
    expect(mine.token_type).toEqual(ggufVocab.token_type);
    expect(mine.merges).toEqual(ggufVocab.merges);
  });

  it('has the same special ids, add flags and chat template', () => {
    expect(mine.eos_token_id).toBe(ggufVocab.eos_token_id);
    expect(mine.padding_token_id).toBe(ggufVocab.padding_token_id);
    expect(mine.bos_token_id).toBe(ggufVocab.bos_token_id);
    expect(mine.unknown_token_id).toBe(ggufVocab.unknown_token_id);
    expect(mine.add_bos_token).toBe(ggufVocab.add_bos_token);
    expect(mine.add_eos_token).toBe(ggufVocab.add_eos_token);
    expect(mine.chat_template).toBe(ggufVocab.chat_template);
  });
});

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TokenizerSpec } from '../../src/tensor/bundle.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';

const fixtures = path.resolve(process.cwd(), '../shared/fixtures');
const modelDir = path.join(fixtures, 'models/tiny-coder-llama');
const read = (p: string): string => readFileSync(p, 'utf8');

interface Reference {
  encode: { text: string; ids: number[]; decoded: string }[];
  chat_template_rendered: string;
  chat_ids: number[];
}
const reference = JSON.parse(read(path.join(fixtures, 'reference/tokenizer-reference.json'))) as Reference;

function hfSpec(): TokenizerSpec {
  return {
    json: read(path.join(modelDir, 'tokenizer.json')),
    config: JSON.parse(read(path.join(modelDir, 'tokenizer_config.json'))) as Record<string, unknown>,
    chatTemplate: read(path.join(modelDir, 'chat_template.jinja')),
    generationConfig: JSON.parse(read(path.join(modelDir, 'generation_config.json'))) as Record<string, unknown>,
  };
}

describe('tokenizer vs transformers reference (tiny-coder-llama, byte-level BPE)', () => {
  const tok = loadTokenizer(hfSpec(), { modelConfig: { bos_token_id: null, eos_token_id: 0 } });

  it('has the 13 reference strings', () => {
    expect(reference.encode).toHaveLength(13);
  });

  for (const [i, e] of reference.encode.entries()) {
    it(`encodes and decodes reference string ${i} ${JSON.stringify(e.text).slice(0, 40)} exactly [ob:tokenizer-reference-ids]`, () => {
      const ids = tok.encode(e.text, { addSpecialTokens: false });
      expect(ids).toEqual(e.ids);
      expect(tok.decode(e.ids)).toBe(e.decoded);
    });
  }

  // The reference stores only the rendered text, not the conversation; the messages below are read back
  // from `chat_template_rendered` (system "You are a coder.", user "Add two numbers.", generation prompt on).
  const messages = [
    { role: 'system', content: 'You are a coder.' },
    { role: 'user', content: 'Add two numbers.' },
  ];

  it('renders the chat template as transformers did', () => {
    expect(tok.applyChatTemplate(messages, { addGenerationPrompt: true })).toBe(reference.chat_template_rendered);
  });

  it('renders the same text when the system message comes from systemPrompt', () => {
    const rendered = tok.applyChatTemplate(messages.slice(1), { addGenerationPrompt: true, systemPrompt: 'You are a coder.' });
    expect(rendered).toBe(reference.chat_template_rendered);
  });

  it('encodes the rendered conversation to the reference chat_ids [ob:tokenizer-reference-ids]', () => {
    const rendered = tok.applyChatTemplate(messages, { addGenerationPrompt: true });
    expect(tok.encode(rendered, { addSpecialTokens: false })).toEqual(reference.chat_ids);
    // add_special_tokens=True adds nothing for this tokenizer (no BOS): same ids.
    expect(tok.encode(rendered)).toEqual(reference.chat_ids);
  });

  it('knows the special tokens and stop tokens of the fixture README', () => {
    expect([...tok.specialTokens]).toEqual([['<|endoftext|>', 0], ['<|im_start|>', 1], ['<|im_end|>', 2]]);
    expect(tok.vocabSize).toBe(4096);
    expect(tok.bosTokenId).toBeUndefined();
    expect(tok.eosTokenId).toBe(0);
    expect(tok.padTokenId).toBe(0);
    expect(tok.stopTokenIds).toEqual([0, 2]);
    expect(tok.tokenToId('<|im_end|>')).toBe(2);
    expect(tok.idToToken(201)).toBe('\u010a');
  });

  it('drops special tokens with skipSpecialTokens', () => {
    const ids = reference.chat_ids;
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('system\nYou are a coder.\nuser\nAdd two numbers.\nassistant\n');
  });
});

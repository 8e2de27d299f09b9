import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TokenizerSpec } from '../../src/tensor/bundle.js';
import {
  CHATML_TEMPLATE,
  ggufVocabFromTokenizer,
  loadTokenizer,
  tokenizerFromGgufVocab,
  TokenizerError,
  type GgufVocab,
} from '../../src/tokenizer/index.js';
import { withUnicodeWhitespace } from '../../src/tokenizer/regex-compat.js';

const modelDir = path.resolve(process.cwd(), '../shared/fixtures/models/tiny-coder-llama');
const tokenizerJson = readFileSync(path.join(modelDir, 'tokenizer.json'), 'utf8');
const tokenizerConfig = JSON.parse(readFileSync(path.join(modelDir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
const base = (extra: Partial<TokenizerSpec> = {}): TokenizerSpec => ({ json: tokenizerJson, config: { ...tokenizerConfig }, ...extra });
const chat = [{ role: 'user', content: 'hi' }];

describe('loadTokenizer', () => {
  it('rejects a document that is not a tokenizer.json, naming the field', () => {
    expect(() => loadTokenizer({ json: '{not json' })).toThrow(TokenizerError);
    expect(() => loadTokenizer({ json: '{"model": 3}' })).toThrow(/tokenizer\.json: model: expected an object/);
  });

  it('decodes an empty id list to the empty string', () => {
    expect(loadTokenizer(base()).decode([])).toBe('');
  });

  it('keeps spaces before punctuation unless tokenizer_config asks for clean-up', () => {
    const text = "a , b . c 's";
    const plain = loadTokenizer(base());
    expect(plain.decode(plain.encode(text))).toBe(text);
    const cleaning = loadTokenizer(base({ config: { ...tokenizerConfig, clean_up_tokenization_spaces: true } }));
    expect(cleaning.decode(cleaning.encode(text))).toBe("a, b. c's");
  });

  it('decodeToken gives one token\'s text', () => {
    const tok = loadTokenizer(base());
    expect(tok.decodeToken(2)).toBe('<|im_end|>');
    expect(tok.decodeToken(67)).toBe('a');
    expect(tok.isSpecial(2)).toBe(true);
    expect(tok.isSpecial(67)).toBe(false);
  });
});

describe('stop tokens', () => {
  it('are the union of config.json, generation_config and tokenizer_config eos and the template end markers', () => {
    const tok = loadTokenizer(base({ generationConfig: { eos_token_id: [5, 0] } }), { modelConfig: { eos_token_id: 7 } });
    expect(tok.stopTokenIds).toEqual([0, 2, 5, 7]);
    expect(tok.eosTokenId).toBe(0);
  });

  it('fall back to generation_config and config.json ids when tokenizer_config names no eos', () => {
    const config = { ...tokenizerConfig, eos_token: undefined };
    const tok = loadTokenizer(base({ config, generationConfig: { eos_token_id: [9, 10], bos_token_id: 11 } }));
    expect(tok.eosTokenId).toBe(9);
    expect(tok.bosTokenId).toBe(11);
    // 0 (<|endoftext|>) and 2 (<|im_end|>) stay in as special end-of-turn markers.
    expect(tok.stopTokenIds).toEqual([0, 2, 9, 10]);
  });

  it('ignore end markers that are not special tokens', () => {
    const json = JSON.parse(tokenizerJson) as { added_tokens: { content: string; special: boolean }[] };
    for (const t of json.added_tokens) if (t.content === '<|im_end|>') t.special = false;
    const tok = loadTokenizer(base({ json: JSON.stringify(json) }));
    expect(tok.stopTokenIds).toEqual([0]);
  });
});

describe('applyChatTemplate', () => {
  it('fails with a clear error when there is no template, and renders ChatML only when asked', () => {
    const tok = loadTokenizer(base());
    expect(() => tok.applyChatTemplate(chat, { addGenerationPrompt: true })).toThrow(/chat_template: the tokenizer has no chat template/);
    expect(tok.applyChatTemplate(chat, { fallback: 'chatml', addGenerationPrompt: true })).toBe('<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n');
    expect(tok.applyChatTemplate(chat, { fallback: 'chatml', addGenerationPrompt: false })).toBe('<|im_start|>user\nhi<|im_end|>\n');
  });

  it('passes bos_token/eos_token like transformers and reads tokenizer_config chat_template (string or named list)', () => {
    const template = '{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}';
    const config = { ...tokenizerConfig, bos_token: '<|im_start|>', chat_template: [{ name: 'tool_use', template: 'x' }, { name: 'default', template }] };
    const tok = loadTokenizer(base({ config }));
    expect(tok.applyChatTemplate(chat, { addGenerationPrompt: false })).toBe('<|im_start|>[user]hi<|endoftext|>');
  });

  it('replaces an existing system message with systemPrompt', () => {
    const tok = loadTokenizer(base({ chatTemplate: CHATML_TEMPLATE }));
    const rendered = tok.applyChatTemplate([{ role: 'system', content: 'old' }, ...chat], { systemPrompt: 'new', addGenerationPrompt: false });
    expect(rendered).toBe('<|im_start|>system\nnew<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n');
  });

  it('reports a template that does not parse', () => {
    const tok = loadTokenizer(base({ chatTemplate: '{% for %}' }));
    expect(() => tok.applyChatTemplate(chat, { addGenerationPrompt: true })).toThrow(/does not parse as Jinja/);
  });
});

const tinyGpt2 = (): GgufVocab => ({
  model: 'gpt2',
  pre: 'gpt-2',
  tokens: ['<s>', 'a', 'b', 'ab', '\u0120', '\u0120a', '<tool>'],
  token_type: [3, 1, 1, 1, 1, 1, 4],
  merges: ['a b', '\u0120 a'],
  bos_token_id: 0,
  add_bos_token: true,
});

describe('tokenizerFromGgufVocab', () => {
  it('adds BOS when add_bos_token is set, and matches user-defined tokens in text', () => {
    const tok = loadTokenizer(tokenizerFromGgufVocab(tinyGpt2()));
    expect(tok.encode('ab a<tool>')).toEqual([0, 3, 5, 6]);
    expect(tok.encode('ab a', { addSpecialTokens: false })).toEqual([3, 5]);
    expect(tok.isSpecial(6)).toBe(false);
    expect(tok.bosTokenId).toBe(0);
  });

  it('rejects unsupported models and pre-tokenizers and inconsistent arrays, naming the key', () => {
    expect(() => tokenizerFromGgufVocab({ ...tinyGpt2(), model: 'bert' })).toThrow(/tokenizer\.ggml\.model: unsupported 'bert'/);
    expect(() => tokenizerFromGgufVocab({ ...tinyGpt2(), pre: 'tekken' })).toThrow(/tokenizer\.ggml\.pre: unsupported/);
    expect(() => tokenizerFromGgufVocab({ ...tinyGpt2(), token_type: [1] })).toThrow(/tokenizer\.ggml\.token_type/);
    expect(() => tokenizerFromGgufVocab({ ...tinyGpt2(), bos_token_id: 99 })).toThrow(/tokenizer\.ggml\.bos_token_id/);
    expect(() => tokenizerFromGgufVocab({ ...tinyGpt2(), merges: ['ab'] })).toThrow(/tokenizer\.ggml\.merges\[0\]/);
  });
});

describe('ggufVocabFromTokenizer', () => {
  it('pads to the model vocabulary with [PAD<i>] tokens of type 5 (unused)', () => {
    const v = ggufVocabFromTokenizer(base(), { vocabSize: 4100 });
    expect(v.tokens.slice(4095)).toEqual([v.tokens[4095], '[PAD4096]', '[PAD4097]', '[PAD4098]', '[PAD4099]']);
    expect(v.token_type?.slice(4096)).toEqual([5, 5, 5, 5]);
  });

  it('types added tokens as convert_hf_to_gguf.py does: special or <|...|> → control, others user-defined', () => {
    const json = JSON.parse(tokenizerJson) as { added_tokens: unknown[]; model: { vocab: Record<string, number> } };
    json.added_tokens.push({ id: 4096, content: '<tool>', special: false, normalized: false });
    json.added_tokens.push({ id: 4097, content: '<|fim|>', special: false, normalized: false });
    json.model.vocab['<tool>'] = 4096;
    json.model.vocab['<|fim|>'] = 4097;
    const v = ggufVocabFromTokenizer(base({ json: JSON.stringify(json) }));
    expect(v.token_type?.slice(0, 4)).toEqual([3, 3, 3, 1]);
    expect(v.token_type?.slice(4096)).toEqual([4, 3]);
  });

  it('writes a space inside a merge part as U+0120 and refuses unknown pre-tokenizers', () => {
    const json = JSON.parse(tokenizerJson) as { model: { merges: [string, string][] }; pre_tokenizer: unknown };
    json.model.merges[0] = ['a b', 'c'];
    expect(ggufVocabFromTokenizer(base({ json: JSON.stringify(json) })).merges?.[0]).toBe('a\u0120b c');
    json.pre_tokenizer = { type: 'Whitespace' };
    expect(() => ggufVocabFromTokenizer(base({ json: JSON.stringify(json) }))).toThrow(/pre_tokenizer: not one of/);
  });

  it('takes add_bos_token from tokenizer_config and bos/eos ids from config.json when tokenizer_config has none', () => {
    const v = ggufVocabFromTokenizer(base({ config: { add_bos_token: true } }), { modelConfig: { bos_token_id: 1, eos_token_id: 2 } });
    expect(v.add_bos_token).toBe(true);
    expect(v.bos_token_id).toBe(1);
    expect(v.eos_token_id).toBe(2);
  });
});

describe('regex \\s as Unicode White_Space', () => {
  // Unicode White_Space (PropList.txt; the same set as llama.cpp's unicode_set_whitespace).
  const whiteSpace = [0x9, 0xa, 0xb, 0xc, 0xd, 0x20, 0x85, 0xa0, 0x1680, ...Array.from({ length: 11 }, (_, i) => 0x2000 + i), 0x2028, 0x2029, 0x202f, 0x205f, 0x3000];

  it('matches exactly the White_Space code points among U+0000..U+FFFF, outside and inside classes', () => {
    const outside = new RegExp(`^${withUnicodeWhitespace('\\s')}$`, 'u');
    const negated = new RegExp(`^${withUnicodeWhitespace('\\S')}$`, 'u');
    const inClass = new RegExp(`^${withUnicodeWhitespace('[^\\s\\p{L}]')}$`, 'u');
    for (let cp = 0; cp <= 0xffff; cp++) {
      if (cp >= 0xd800 && cp <= 0xdfff) continue;
      const ch = String.fromCodePoint(cp);
      const ws = whiteSpace.includes(cp);
      if (outside.test(ch) !== ws || negated.test(ch) === ws) throw new Error(`U+${cp.toString(16)}`);
      if (ws && inClass.test(ch)) throw new Error(`class U+${cp.toString(16)}`);
    }
    expect(outside.test('\ufeff')).toBe(false);
    expect(outside.test('\u0085')).toBe(true);
  });

  it('leaves other escapes alone', () => {
    expect(withUnicodeWhitespace("'s|\\p{N}+|\\\\s")).toBe("'s|\\p{N}+|\\\\s");
  });
});

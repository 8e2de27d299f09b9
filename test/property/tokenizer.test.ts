import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ContractViolation } from '../../src/contract/index.js';
import { loadTokenizer, tokenizerFromGgufVocab, type Tokenizer } from '../../src/tokenizer/index.js';
import { readGgufKv, vocabFromKv } from '../golden/tokenizer-gguf-kv.js';

const fixtures = path.resolve(process.cwd(), '../shared/fixtures');
const modelDir = path.join(fixtures, 'models/tiny-coder-llama');
const hf = loadTokenizer({
  json: readFileSync(path.join(modelDir, 'tokenizer.json'), 'utf8'),
  config: JSON.parse(readFileSync(path.join(modelDir, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>,
});
const fromGguf = loadTokenizer(tokenizerFromGgufVocab(vocabFromKv(readGgufKv(path.join(fixtures, 'gguf/tiny-coder-llama-f32.gguf')))));
const tokenizers: [string, Tokenizer][] = [
  ['tokenizer.json', hf],
  ['GGUF vocabulary', fromGguf],
];

const SPECIAL_TEXT = ['<|endoftext|>', '<|im_start|>', '<|im_end|>'];
/** Fragments that exercise merges, whitespace runs, CRLF, multi-byte and astral characters. */
const FRAGMENTS = ['def ', 'return', '    ', '\t', '\n', '\r\n', ' ', "'s", '__', '0x', '123', 'é', 'ö', '—', '你好', '🙂', '🐍', '\u0301', '\u200d', 'ß', '<|', '|>', 'im_end'];

const text = fc
  .oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.string({ unit: 'grapheme', maxLength: 40 }),
    fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 20 }).map((parts) => parts.join('')),
  )
  .filter((s) => !/\p{Cs}/u.test(s) && !SPECIAL_TEXT.some((t) => s.includes(t)));

describe.each(tokenizers)('byte-level BPE tokenizer (%s)', (_name, tok) => {
  it('decode(encode(s)) = s for unicode strings without special-token text [ob:tokenizer-roundtrip]', () => {
    fc.assert(
      fc.property(text, (s) => {
        expect(tok.decode(tok.encode(s, { addSpecialTokens: false }))).toBe(s);
      }),
      { numRuns: 400 },
    );
  });

  it('streamed pieces concatenate to the whole decode of encoded text [ob:tokenizer-stream-decode]', () => {
    fc.assert(
      fc.property(text, (s) => {
        const ids = tok.encode(s, { addSpecialTokens: false });
        const stream = tok.createStreamDecoder();
        const pieces = ids.map((id) => stream.push(id));
        pieces.push(stream.flush());
        expect(pieces.join('')).toBe(tok.decode(ids));
        // No piece ends inside a character: a streamed piece never ends with U+FFFD unless s has one.
        if (!s.includes('\uFFFD')) expect(pieces.every((p) => !p.endsWith('\uFFFD'))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('streamed pieces concatenate to the whole decode of arbitrary id sequences [ob:tokenizer-stream-decode]', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: tok.vocabSize - 1 }), { maxLength: 30 }), (ids) => {
        const stream = tok.createStreamDecoder();
        const streamed = ids.map((id) => stream.push(id)).join('') + stream.flush();
        expect(streamed).toBe(tok.decode(ids));
      }),
      { numRuns: 300 },
    );
  });
});

describe('tokenizer-bpe-v1 contract clauses', () => {
  it('rejects a non-string encode input and out-of-vocabulary decode ids', () => {
    expect(() => hf.encode(42 as unknown as string)).toThrow(ContractViolation);
    expect(() => hf.decode([4096])).toThrow(ContractViolation);
    expect(() => hf.decode([1.5])).toThrow(ContractViolation);
    expect(() => hf.decode([-1])).toThrow(ContractViolation);
  });

  it('streams an emoji split over byte tokens as one piece when it completes', () => {
    // 🙂 is four byte-level tokens in this vocabulary (reference ids 175 256 250 227 after the space).
    const ids = hf.encode('🙂', { addSpecialTokens: false });
    expect(ids.length).toBeGreaterThan(1);
    const stream = hf.createStreamDecoder();
    const pieces = ids.map((id) => stream.push(id));
    expect(pieces.slice(0, -1).every((p) => p === '')).toBe(true);
    expect(pieces[pieces.length - 1]).toBe('🙂');
    expect(stream.flush()).toBe('');
  });
});

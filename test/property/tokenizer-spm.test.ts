import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadTokenizer, tokenizerFromGgufVocab, type GgufVocab } from '../../src/tokenizer/index.js';

/**
 * An independent port of llama.cpp's SentencePiece tokenizer (llm_tokenizer_spm_session in llama-vocab.cpp):
 * text → ' ' prefix → spaces to U+2581 → code points; repeatedly merge the adjacent pair whose concatenation
 * is the highest-scoring token (leftmost on ties); symbols that are not tokens become <0xXX> byte tokens.
 */
function llamaCppSpm(text: string, tokens: readonly string[], scores: readonly number[]): number[] {
  if (text === '') return [];
  const id = new Map(tokens.map((t, i) => [t, i]));
  const symbols = Array.from(` ${text}`.replaceAll(' ', '\u2581'));
  for (;;) {
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i + 1 < symbols.length; i++) {
      const t = id.get(`${symbols[i]}${symbols[i + 1]}`);
      if (t !== undefined && (scores[t] ?? 0) > bestScore) {
        best = i;
        bestScore = scores[t] ?? 0;
      }
    }
    if (best < 0) break;
    symbols.splice(best, 2, `${symbols[best]}${symbols[best + 1]}`);
  }
  return symbols.flatMap((s) => {
    const t = id.get(s);
    if (t !== undefined) return [t];
    return [...new TextEncoder().encode(s)].map((b) => id.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`) ?? -1);
  });
}

const CHARS = ['a', 'b', 'c', '\u2581', 'é'];
const bytes = Array.from({ length: 256 }, (_, b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);

/** A random SentencePiece vocabulary: specials, bytes, single characters and random multi-character pieces with distinct scores. */
const vocabArb = fc
  .uniqueArray(fc.array(fc.constantFrom(...CHARS), { minLength: 2, maxLength: 5 }).map((cs) => cs.join('')), { minLength: 5, maxLength: 60 })
  .chain((pieces) => fc.tuple(fc.constant(pieces), fc.shuffledSubarray([...Array(pieces.length).keys()], { minLength: pieces.length, maxLength: pieces.length })))
  .map(([pieces, order]): GgufVocab => {
    const tokens = ['<unk>', '<s>', '</s>', ...bytes, ...CHARS.filter((c) => c !== 'é'), ...pieces];
    const base = 3 + bytes.length + CHARS.length - 1;
    const scores = tokens.map((_, i) => (i < base ? 0 : -1 - (order[i - base] ?? 0)));
    const token_type = tokens.map((_, i) => (i === 0 ? 2 : i < 3 ? 3 : i < 3 + bytes.length ? 6 : 1));
    return { model: 'llama', pre: 'default', tokens, scores, token_type, bos_token_id: 1, eos_token_id: 2, unknown_token_id: 0 };
  });

const textArb = fc.array(fc.constantFrom('a', 'b', 'c', ' ', 'é', 'ü', '🙂'), { maxLength: 24 }).map((cs) => cs.join(''));

describe('GGUF SentencePiece (llama) vocabulary → byte-fallback BPE', () => {
  it('encodes like llama.cpp\'s SPM algorithm for random vocabularies and texts [ob:tokenizer-gguf-equivalence]', () => {
    fc.assert(
      fc.property(vocabArb, fc.array(textArb, { minLength: 1, maxLength: 8 }), (vocab, texts) => {
        const tok = loadTokenizer(tokenizerFromGgufVocab(vocab));
        for (const t of texts) {
          expect(tok.encode(t, { addSpecialTokens: false }), JSON.stringify(t)).toEqual(llamaCppSpm(t, vocab.tokens, vocab.scores ?? []));
        }
      }),
      { numRuns: 150 },
    );
  });

  it('adds BOS by default and round-trips text [ob:tokenizer-roundtrip]', () => {
    fc.assert(
      fc.property(vocabArb, textArb, (vocab, t) => {
        const tok = loadTokenizer(tokenizerFromGgufVocab(vocab));
        const ids = tok.encode(t);
        expect(ids[0]).toBe(1);
        expect(tok.decode(ids, { skipSpecialTokens: true })).toBe(t);
      }),
      { numRuns: 100 },
    );
  });
});

import { defineContract } from '../contract/index.js';
import type { Tokenizer } from '../tokenizer/index.js';

export interface TokenizeResult {
  ids: number[];
  tokens: string[];
  count: number;
  decoded: string;
}

export const tokenizeContract = defineContract<{ tokenizer: Tokenizer; text: string }, TokenizeResult>({
  id: 'op-tokenize-v1',
  equation: 'tokenize',
  spec: 'tokenize(t) = (ids, tokens) with decode(ids) = t for text without special-token markup',
  pre: [['text is a string', ({ text }) => typeof text === 'string']],
  post: [
    ['one token string per id', (_i, r) => r.tokens.length === r.ids.length && r.count === r.ids.length],
    ['ids inside the vocabulary', ({ tokenizer }, r) => r.ids.every((id) => id >= 0 && id < tokenizer.vocabSize)],
  ],
});

/** `apr tokenize`: ids and token strings of a text (special-token text becomes the special token). */
export function tokenizeText(tokenizer: Tokenizer, text: string): TokenizeResult {
  return tokenizeContract.run({ tokenizer, text }, () => {
    const ids = tokenizer.encode(text, { addSpecialTokens: false });
    return { ids, tokens: ids.map((id) => tokenizer.idToToken(id) ?? ''), count: ids.length, decoded: tokenizer.decode(ids) };
  });
}

import { defineContract } from '../contract/index.js';

/** One call of the codec: what the pre/postconditions of `tokenizer-bpe-v1` see. */
export type CodecCall =
  | { op: 'encode'; text: unknown; vocabSize: number }
  | { op: 'decode'; ids: readonly unknown[]; vocabSize: number };

const isId = (id: unknown, vocabSize: number): boolean =>
  typeof id === 'number' && Number.isInteger(id) && id >= 0 && id < vocabSize;

/**
 * encode: Σ* → V*, decode: V* → Σ*. For byte-level BPE, decode(encode(s)) = s for every string s that
 * contains no special-token text, and streaming decode concatenates to the whole decode.
 */
export const tokenizerCodecContract = defineContract<CodecCall, number[] | string>({
  id: 'tokenizer-bpe-v1',
  equation: 'bpe_codec',
  spec: 'decode(encode(s)) = s for s ∈ Σ* without special-token text; encode(s) ∈ [0, |V|)*',
  pre: [
    ['encode input is a string', (c) => c.op !== 'encode' || typeof c.text === 'string'],
    ['decode input is token ids in [0, |V|)', (c) => c.op !== 'decode' || c.ids.every((id) => isId(id, c.vocabSize))],
  ],
  post: [
    [
      'encode yields token ids in [0, |V|)',
      (c, out) => c.op !== 'encode' || (Array.isArray(out) && out.every((id) => isId(id, c.vocabSize))),
    ],
    ['decode yields a string', (c, out) => c.op !== 'decode' || typeof out === 'string'],
  ],
});

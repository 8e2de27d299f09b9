/** Preference pairs in trl's format: one `{"prompt", "chosen", "rejected"}` object per JSONL line. */
import { FormatError } from '../../formats/errors.js';
import { readJsonl, stringField } from '../data/jsonl.js';

/** What pair tokenization needs from a tokenizer. */
export interface PairTokenizer {
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  readonly eosTokenId: number | undefined;
}

export interface PreferencePair {
  readonly prompt: string;
  readonly chosen: string;
  readonly rejected: string;
}

/** A pair as token sequences: prompt + response for each side, scored from `from` (the prompt's length). */
export interface TokenizedPair {
  readonly chosen: readonly number[];
  readonly rejected: readonly number[];
  readonly chosenFrom: number;
  readonly rejectedFrom: number;
}

export function readPreferencePairs(path: string): PreferencePair[] {
  return readJsonl(path).map((rec) => ({ prompt: stringField(rec, 'prompt'), chosen: stringField(rec, 'chosen'), rejected: stringField(rec, 'rejected') }));
}

/**
 * prompt ++ response (++ EOS), as trl builds it: prompt and response encoded apart (no special tokens) and
 * concatenated. Over `maxSeqLen` the prompt keeps its last half of the budget and the response is cut.
 */
function join(prompt: readonly number[], response: readonly number[], maxSeqLen: number): { ids: number[]; from: number } {
  const p = prompt.length + 1 > maxSeqLen ? prompt.slice(prompt.length - Math.floor(maxSeqLen / 2)) : prompt;
  const ids = [...p, ...response].slice(0, maxSeqLen);
  return { ids, from: Math.max(1, p.length) };
}

export function tokenizePair(path: string, line: number, pair: PreferencePair, tokenizer: PairTokenizer, maxSeqLen: number): TokenizedPair {
  const enc = (s: string): number[] => tokenizer.encode(s, { addSpecialTokens: false });
  const eos = tokenizer.eosTokenId === undefined ? [] : [tokenizer.eosTokenId];
  const prompt = enc(pair.prompt);
  const c = join(prompt, [...enc(pair.chosen), ...eos], maxSeqLen);
  const r = join(prompt, [...enc(pair.rejected), ...eos], maxSeqLen);
  if (c.ids.length <= c.from || r.ids.length <= r.from) throw new FormatError(path, `line ${line}`, 'empty chosen or rejected response after tokenization');
  return { chosen: c.ids, rejected: r.ids, chosenFrom: c.from, rejectedFrom: r.from };
}

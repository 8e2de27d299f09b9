/**
 * Preference pairs in trl's formats, one object per JSONL line: standard `{"prompt", "chosen", "rejected"}`
 * strings, or conversational (`chat-pairs.ts`): `{"prompt": [messages], "chosen": [messages], "rejected":
 * [messages]}`, or `{"chosen", "rejected"}` whose shared leading messages are the prompt.
 */
import { FormatError } from '../../formats/errors.js';
import { type JsonlRecord, readJsonl, stringField } from '../data/jsonl.js';
import { type ChatPairTokenizer, type PairIds, chatPairIds } from './chat-pairs.js';

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

/** Both sides joined to the prompt; an empty side is a FormatError at `file`/`field`. */
function pairOf(ids: PairIds, maxSeqLen: number, file: string, field: string): TokenizedPair {
  const c = join(ids.prompt, ids.chosen, maxSeqLen);
  const r = join(ids.prompt, ids.rejected, maxSeqLen);
  if (c.ids.length <= c.from || r.ids.length <= r.from) throw new FormatError(file, field, 'empty chosen or rejected response after tokenization');
  return { chosen: c.ids, rejected: r.ids, chosenFrom: c.from, rejectedFrom: r.from };
}

/** Standard pair: the three strings encoded apart, EOS appended to each response (trl adds it to non-chat data only). */
function textIds(pair: PreferencePair, tokenizer: PairTokenizer): PairIds {
  const enc = (s: string): number[] => tokenizer.encode(s, { addSpecialTokens: false });
  const eos = tokenizer.eosTokenId === undefined ? [] : [tokenizer.eosTokenId];
  return { prompt: enc(pair.prompt), chosen: [...enc(pair.chosen), ...eos], rejected: [...enc(pair.rejected), ...eos] };
}

export function tokenizePair(path: string, line: number, pair: PreferencePair, tokenizer: PairTokenizer, maxSeqLen: number): TokenizedPair {
  return pairOf(textIds(pair, tokenizer), maxSeqLen, path, `line ${line}`);
}

function recordIds(rec: JsonlRecord, tokenizer: ChatPairTokenizer): PairIds {
  if (Array.isArray(rec.value['chosen'])) return chatPairIds(rec, tokenizer);
  return textIds({ prompt: stringField(rec, 'prompt'), chosen: stringField(rec, 'chosen'), rejected: stringField(rec, 'rejected') }, tokenizer);
}

/**
 * Reads and tokenizes every pair of a preference JSONL, so that a bad line stops the run before training. A line
 * whose `chosen` is an array is conversational and goes through the chat template; otherwise the three fields
 * are strings.
 */
export function loadPreferencePairs(path: string, tokenizer: ChatPairTokenizer, maxSeqLen: number): TokenizedPair[] {
  return readJsonl(path).map((rec) => pairOf(recordIds(rec, tokenizer), maxSeqLen, rec.where, 'chosen'));
}

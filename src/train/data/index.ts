import { FormatError } from '../../formats/errors.js';
import { Rng } from '../../model/rng.js';
import { type DataTokenizer, type TokenExample, completionExamples, instructExample } from './examples.js';
import { chatExample } from './chat.js';
import { type JsonlRecord, readJsonl } from './jsonl.js';

export { readJsonl, type JsonlRecord } from './jsonl.js';
export { completionExamples, instructExample, type DataTokenizer, type TokenExample } from './examples.js';
export { chatExample, messagesField, renderChat, tokenizeSpans, type RenderedChat } from './chat.js';

export type DataTask = 'instruct' | 'completion';

export interface DataOptions {
  readonly task: DataTask;
  readonly maxSeqLen: number;
  /** Fraction of the records held out for validation (0 = none). */
  readonly valSplit: number;
  readonly seed: number;
  /** `{"messages"}` records: loss only on the assistant turns (default true; trl's SFTConfig default is false). */
  readonly assistantOnlyLoss?: boolean;
  /** Instruct records: loss only on the response (default true, as trl's `completion_only_loss=None`). */
  readonly completionOnlyLoss?: boolean;
}

export interface Dataset {
  readonly train: TokenExample[];
  readonly val: TokenExample[];
  /** Records (lines) read. */
  readonly records: number;
  /** Records that left no trainable token (instruct or chat data whose first target lies beyond max-seq-len). */
  readonly dropped: number;
  /** Target tokens of the training set. */
  readonly trainTokens: number;
}

/**
 * The held-out records: a seeded shuffle of the record indices, the last round(n·valSplit) of it held out
 * (at least one when valSplit > 0 and n ≥ 2, never all). Splitting records, not chunks, keeps one text's
 * chunks on one side.
 */
export function splitRecords<T>(items: readonly T[], valSplit: number, seed: number): { train: T[]; val: T[] } {
  const n = items.length;
  let k = Math.round(n * valSplit);
  if (valSplit > 0 && n >= 2) k = Math.min(n - 1, Math.max(1, k));
  else if (n < 2) k = 0;
  const rng = new Rng(seed);
  const order = Array.from({ length: n }, (_v, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [order[i], order[j]] = [order[j] ?? 0, order[i] ?? 0];
  }
  const held = new Set(order.slice(n - k));
  return { train: items.filter((_v, i) => !held.has(i)), val: items.filter((_v, i) => held.has(i)) };
}

/** The examples of one record: a conversation (`messages`, under either task), an instruct pair, or text chunks. */
function recordExamples(r: JsonlRecord, tok: DataTokenizer, o: DataOptions): TokenExample[] | undefined {
  if ('messages' in r.value) {
    const e = chatExample(r, tok, { maxSeqLen: o.maxSeqLen, assistantOnlyLoss: o.assistantOnlyLoss ?? true });
    return e ? [e] : undefined;
  }
  if (o.task === 'completion') return completionExamples(r, tok, o.maxSeqLen);
  const e = instructExample(r, tok, o.maxSeqLen, o.completionOnlyLoss ?? true);
  return e ? [e] : undefined;
}

function toExamples(records: readonly JsonlRecord[], tok: DataTokenizer, o: DataOptions): { examples: TokenExample[]; dropped: number } {
  const examples: TokenExample[] = [];
  let dropped = 0;
  for (const r of records) {
    const e = recordExamples(r, tok, o);
    if (e) examples.push(...e);
    else dropped++;
  }
  return { examples, dropped };
}

/** Reads a JSONL data file, splits it (seeded, by record) and tokenizes both parts. */
export function loadDataset(path: string, tok: DataTokenizer, o: DataOptions): Dataset {
  if (!Number.isInteger(o.maxSeqLen) || o.maxSeqLen < 2) throw new FormatError(path, 'max-seq-len', `must be an integer ≥ 2, got ${o.maxSeqLen}`);
  const records = readJsonl(path);
  const split = splitRecords(records, o.valSplit, o.seed);
  const train = toExamples(split.train, tok, o);
  const val = toExamples(split.val, tok, o);
  if (train.examples.length === 0) throw new FormatError(path, 'records', 'no training example left (each needs at least one target token within max-seq-len)');
  let trainTokens = 0;
  for (const e of train.examples) for (const m of e.mask) trainTokens += m;
  return { train: train.examples, val: val.examples, records: records.length, dropped: train.dropped + val.dropped, trainTokens };
}

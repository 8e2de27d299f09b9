import type { TokenizerSpec } from '../../tensor/bundle.js';
import { type AddedTokenJson, type TokenizerJson, isObject, mergePairs, parseTokenizerJson } from '../../tokenizer/tokenizer-json.js';
import { MergeConfigError, type TokenizerSource } from './config.js';

/**
 * The output vocabulary of a merge with `tokenizer_source` / `tokenizer:` (mergekit/tokenizer/build.py):
 *
 * - `base`: the base model's tokenizer, stripped of tokens whose id is past its embedding rows;
 * - `union`: the stripped base tokenizer, then (as added tokens, in this order) every other model's ordinary
 *   tokens that the base lacks (models in config order, each by ascending id; mergekit takes them in hash
 *   order), then every model's added tokens that are still missing (the first model's settings win);
 * - a model: that model's tokenizer, unchanged.
 * `tokenizer.tokens` entries not in the vocabulary are appended last. A new token gets the next id after the
 * tokenizer's model vocabulary and added tokens, as `tokenizers`' add_tokens assigns it.
 */
export interface VocabView {
  type: string;
  /** The tokenizer model's vocabulary: token → id. */
  model: Map<string, number>;
  /** Added tokens by ascending id. */
  added: AddedTokenJson[];
}

export function readVocab(json: string, source: string): VocabView {
  const doc = parseTokenizerJson(json, source);
  const raw = doc.model['vocab'];
  const model = new Map<string, number>();
  if (Array.isArray(raw)) raw.forEach((e, i) => model.set(String(Array.isArray(e) ? e[0] : e), i));
  else if (isObject(raw)) for (const [k, v] of Object.entries(raw)) model.set(k, Number(v));
  const added = (doc.added_tokens ?? []).filter((t) => typeof t.id === 'number' && typeof t.content === 'string').sort((a, b) => a.id - b.id);
  return { type: String(doc.model.type ?? ''), model, added };
}

/** transformers' get_vocab(): model tokens and added tokens (an added token's id wins), ids below `size` only. */
function fullVocab(v: VocabView, size = Infinity): Map<string, number> {
  const ids = new Map<string, number>();
  for (const [t, id] of v.model) if (id < size) ids.set(t, id);
  for (const a of v.added) if (a.id < size) ids.set(a.content, a.id);
  return ids;
}

/** A model taking part in the merge: its identity, tokenizer and embedding rows (config vocab_size). */
export interface ReferencedVocab {
  key: string;
  label: string;
  spec: TokenizerSpec | undefined;
  size: number;
}

export interface VocabPlan {
  /** Output tokens with their ids, by ascending id. */
  entries: readonly (readonly [string, number])[];
  /** Output embedding rows: the vocabulary size, padded to `pad_to_multiple_of`. */
  rows: number;
  /** Per model (by key): output id → the model's row, −1 where the model lacks the token. */
  perms: ReadonlyMap<string, Int32Array>;
  /** Per model: its own vocabulary (for `kind: model_token` sources). */
  originals: ReadonlyMap<string, ReadonlyMap<string, number>>;
  tokenizer: TokenizerSpec;
}

export interface VocabRequest {
  configPath: string;
  base: ReferencedVocab;
  /** Every referenced model, the base first. */
  models: readonly ReferencedVocab[];
  source: TokenizerSource;
  /** The tokenizer of `source` when it names a model. */
  sourceSpec?: TokenizerSpec;
  addTokens: readonly string[];
  padToMultipleOf?: number;
}

/** A tokenizer being edited: its document, its vocabulary and the next free id. */
class EditableTokenizer {
  readonly ids: Map<string, number>;
  readonly addedContents: Set<string>;
  changed = false;
  private next: number;

  constructor(readonly doc: TokenizerJson) {
    const v = readVocab(JSON.stringify(doc), 'tokenizer.json');
    this.ids = fullVocab(v);
    this.addedContents = new Set(v.added.map((a) => a.content));
    const maxAdded = Math.max(-1, ...v.added.map((a) => a.id));
    this.next = maxAdded >= v.model.size ? maxAdded + 1 : Math.max(v.model.size, maxAdded + 1);
  }

  /** `add_tokens`: a new token gets the next id; a known one is only re-registered as added (settings of `token`). */
  add(token: Omit<AddedTokenJson, 'id'>): void {
    if (this.addedContents.has(token.content)) return;
    const id = this.ids.get(token.content) ?? this.next++;
    this.doc.added_tokens = [...(this.doc.added_tokens ?? []), { id, ...token }];
    this.ids.set(token.content, id);
    this.addedContents.add(token.content);
    this.changed = true;
  }
}

const ORDINARY = { single_word: false, lstrip: false, rstrip: false, normalized: true, special: false } as const;

/** get_stripped_tokenizer: drops tokens whose id is past the model's embedding rows (BPE only, as mergekit). */
function stripped(spec: TokenizerSpec, size: number, label: string, configPath: string): { doc: TokenizerJson; changed: boolean } {
  const doc = parseTokenizerJson(spec.json, `${label} tokenizer.json`);
  const v = readVocab(spec.json, label);
  const unused = new Set([...fullVocab(v)].filter(([, id]) => id >= size).map(([t]) => t));
  if (unused.size === 0) return { doc, changed: false };
  if (v.type !== 'BPE') throw new MergeConfigError(configPath, 'tokenizer_source', `${label}: ${unused.size} token(s) past vocab_size ${size} in a ${v.type} tokenizer (only BPE tokenizers can be stripped, as in mergekit)`);
  doc.added_tokens = (doc.added_tokens ?? []).filter((a) => a.id < size);
  const vocab = doc.model['vocab'] as Record<string, number>;
  doc.model['vocab'] = Object.fromEntries(Object.entries(vocab).filter(([t]) => !unused.has(t)));
  const merges = (doc.model['merges'] ?? []) as unknown[];
  const pairs = mergePairs(merges, `${label} tokenizer.json`);
  doc.model['merges'] = merges.filter((_m, i) => !(pairs[i] ?? []).some((t) => unused.has(t)));
  return { doc, changed: true };
}

function viewOf(m: ReferencedVocab, base: ReferencedVocab): VocabView {
  return readVocab((m.spec ?? base.spec)?.json ?? '{"model":{}}', m.label);
}

/** build_union_tokenizer: the base's tokens, then the others' ordinary tokens, then everyone's added tokens. */
function addUnion(out: EditableTokenizer, req: VocabRequest): void {
  const addedByContent = new Map<string, AddedTokenJson>();
  const views = req.models.map((m) => ({ m, v: viewOf(m, req.base) }));
  for (const { m, v } of views) for (const a of v.added) if (a.id < m.size && !addedByContent.has(a.content)) addedByContent.set(a.content, a);
  for (const { m, v } of views) {
    const ordinary = [...v.model].filter(([t, id]) => id < m.size && !addedByContent.has(t)).sort((a, b) => a[1] - b[1]);
    for (const [t] of ordinary) if (!out.ids.has(t)) out.add({ content: t, ...ORDINARY });
  }
  for (const { id: _id, ...token } of addedByContent.values()) out.add(token);
}

function outputTokenizer(req: VocabRequest): { spec: TokenizerSpec; tok: EditableTokenizer } {
  const from = typeof req.source === 'object' ? req.sourceSpec : req.base.spec;
  if (!from) throw new MergeConfigError(req.configPath, 'tokenizer_source', `${typeof req.source === 'object' ? req.source.model : req.base.label} has no tokenizer`);
  const { doc, changed } = typeof req.source === 'object' ? { doc: parseTokenizerJson(from.json, 'tokenizer.json'), changed: false } : stripped(from, req.base.size, req.base.label, req.configPath);
  const tok = new EditableTokenizer(doc);
  tok.changed = changed;
  if (req.source === 'union') addUnion(tok, req);
  for (const t of req.addTokens) if (!tok.ids.has(t)) tok.add({ content: t, ...ORDINARY });
  const json = tok.changed ? JSON.stringify(doc, null, 2) : from.json;
  return { spec: { ...from, json, ...(from.config ? { config: configWithAdded(from.config, doc) } : {}) }, tok };
}

/** tokenizer_config.json's `added_tokens_decoder`, when it has one, lists the added tokens of the output. */
function configWithAdded(config: Record<string, unknown>, doc: TokenizerJson): Record<string, unknown> {
  if (!isObject(config['added_tokens_decoder'])) return config;
  const decoder: Record<string, unknown> = {};
  for (const { id, ...rest } of doc.added_tokens ?? []) decoder[String(id)] = rest;
  return { ...config, added_tokens_decoder: decoder };
}

/** Output id → the model's row (−1 when the model lacks the token or its row is past vocab_size). */
function permutation(entries: readonly (readonly [string, number])[], rows: number, own: ReadonlyMap<string, number>): Int32Array {
  const p = new Int32Array(rows).fill(-1);
  for (const [t, id] of entries) p[id] = own.get(t) ?? -1;
  return p;
}

/** The output vocabulary, its tokenizer, and each model's row permutation. */
export function planVocabulary(req: VocabRequest): VocabPlan {
  const { spec, tok } = outputTokenizer(req);
  const entries = [...tok.ids].sort((a, b) => a[1] - b[1]);
  const count = Math.max(entries.length, (entries[entries.length - 1]?.[1] ?? -1) + 1);
  const pad = req.padToMultipleOf;
  const rows = pad && count % pad ? count + pad - (count % pad) : count;
  const perms = new Map<string, Int32Array>();
  const originals = new Map<string, ReadonlyMap<string, number>>();
  for (const m of req.models) {
    // the base's stripped vocabulary is its vocabulary below vocab_size, as for every other model
    const own = fullVocab(viewOf(m, req.base), m.size);
    perms.set(m.key, permutation(entries, rows, own));
    originals.set(m.key, own);
  }
  return { entries, rows, perms, originals, tokenizer: spec };
}

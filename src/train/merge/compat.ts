import { FormatError } from '../../formats/errors.js';
import type { ModelBundle, TokenizerSpec } from '../../tensor/bundle.js';
import { canDequantize } from '../../tensor/codecs/index.js';

/** A model taking part in a merge. */
export interface MergeInput {
  path: string;
  bundle: ModelBundle;
}

interface VocabView {
  type: string;
  vocab: Map<string, number>;
  added: Map<number, string>;
}

function vocabView(spec: TokenizerSpec): VocabView | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(spec.json);
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const d = doc as { model?: { type?: string; vocab?: unknown }; added_tokens?: { id?: number; content?: string }[] };
  const vocab = new Map<string, number>();
  const raw = d.model?.vocab;
  if (Array.isArray(raw)) raw.forEach((e, i) => vocab.set(String(Array.isArray(e) ? e[0] : e), i));
  else if (typeof raw === 'object' && raw !== null) for (const [k, v] of Object.entries(raw)) vocab.set(k, Number(v));
  const added = new Map<number, string>();
  for (const t of d.added_tokens ?? []) if (typeof t.id === 'number') added.set(t.id, String(t.content));
  return { type: String(d.model?.type ?? ''), vocab, added };
}

/** The first difference between two tokenizers' vocabularies, or undefined when they agree token for token. */
function vocabularyDifference(a: TokenizerSpec, b: TokenizerSpec): string | undefined {
  const va = vocabView(a);
  const vb = vocabView(b);
  if (!va || !vb) return undefined;
  if (va.type !== vb.type) return `tokenizer model ${vb.type} differs from ${va.type}`;
  if (va.vocab.size !== vb.vocab.size) return `${vb.vocab.size} tokens where the reference has ${va.vocab.size}`;
  for (const [tok, id] of va.vocab) {
    if (vb.vocab.get(tok) !== id) return `token ${JSON.stringify(tok)} has id ${String(vb.vocab.get(tok))}, the reference ${id}`;
  }
  for (const [id, content] of va.added) {
    if (vb.added.has(id) && vb.added.get(id) !== content) return `added token ${id} is ${JSON.stringify(vb.added.get(id))}, the reference ${JSON.stringify(content)}`;
  }
  return undefined;
}

function shapeText(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

function checkDtype(m: MergeInput, name: string): void {
  const t = m.bundle.tensors.get(name);
  if (t && !canDequantize(t.dtype)) throw new FormatError(m.path, name, `dtype ${t.dtype} cannot be dequantized for merging`);
}

/** Same tensor names and shapes as the reference. */
function checkTensors(ref: MergeInput, m: MergeInput): void {
  const names = ref.bundle.tensors.names();
  for (const name of names) {
    const a = ref.bundle.tensors.get(name);
    const b = m.bundle.tensors.get(name);
    if (!b) throw new FormatError(m.path, name, `missing: the tensor is in ${ref.path} but not in this model`);
    if (a && (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i]))) {
      throw new FormatError(m.path, name, `shape ${shapeText(b.shape)} does not match ${shapeText(a.shape)} in ${ref.path}`);
    }
    checkDtype(m, name);
  }
  const refNames = new Set(names);
  const extra = m.bundle.tensors.names().find((n) => !refNames.has(n));
  if (extra !== undefined) throw new FormatError(m.path, extra, `extra tensor: not in ${ref.path}`);
}

function checkVocabulary(ref: MergeInput, m: MergeInput): void {
  if (m.bundle.config.vocab_size !== ref.bundle.config.vocab_size) {
    throw new FormatError(m.path, 'vocab_size', `${m.bundle.config.vocab_size} does not match ${ref.bundle.config.vocab_size} in ${ref.path}`);
  }
  const diff = ref.bundle.tokenizer && m.bundle.tokenizer ? vocabularyDifference(ref.bundle.tokenizer, m.bundle.tokenizer) : undefined;
  if (diff) throw new FormatError(m.path, 'tokenizer', `vocabulary differs from ${ref.path}: ${diff}`);
}

/**
 * Refuses models that cannot be merged with the reference (the base, or the first model): a tensor missing
 * or extra, a shape that differs, a dtype with no decoder, or a different vocabulary. Errors name the tensor.
 */
export function checkMergeable(ref: MergeInput, others: readonly MergeInput[]): void {
  for (const name of ref.bundle.tensors.names()) checkDtype(ref, name);
  for (const m of others) {
    checkTensors(ref, m);
    checkVocabulary(ref, m);
  }
}

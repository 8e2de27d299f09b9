import { FormatError } from '../../formats/errors.js';
import type { ModelBundle, TokenizerSpec } from '../../tensor/bundle.js';
import { canDequantize } from '../../tensor/codecs/index.js';
import { readVocab } from './vocab.js';

/** A model taking part in a merge. */
export interface MergeInput {
  path: string;
  bundle: ModelBundle;
}

/** Options of the compatibility checks. */
export interface CompatOptions {
  /** The vocabularies are merged (tokenizer_source): embedding rows may differ, vocabularies need not agree. */
  vocabMerged?: boolean;
}

const EMBEDS = new Set(['model.embed_tokens.weight', 'lm_head.weight']);

function vocabOf(spec: TokenizerSpec): ReturnType<typeof readVocab> | undefined {
  try {
    return readVocab(spec.json, 'tokenizer.json');
  } catch {
    return undefined; // an unreadable tokenizer is reported by the tokenizer stage of apr check, not here
  }
}

/** The first difference between two tokenizers' vocabularies, or undefined when they agree token for token. */
function vocabularyDifference(a: TokenizerSpec, b: TokenizerSpec): string | undefined {
  const va = vocabOf(a);
  const vb = vocabOf(b);
  if (!va || !vb) return undefined;
  if (va.type !== vb.type) return `tokenizer model ${vb.type} differs from ${va.type}`;
  if (va.model.size !== vb.model.size) return `${vb.model.size} tokens where the reference has ${va.model.size}`;
  for (const [tok, id] of va.model) {
    if (vb.model.get(tok) !== id) return `token ${JSON.stringify(tok)} has id ${String(vb.model.get(tok))}, the reference ${id}`;
  }
  const added = new Map(vb.added.map((t) => [t.id, t.content]));
  for (const { id, content } of va.added) {
    if (added.has(id) && added.get(id) !== content) return `added token ${id} is ${JSON.stringify(added.get(id))}, the reference ${JSON.stringify(content)}`;
  }
  return undefined;
}

function shapeText(s: readonly number[]): string {
  return `[${s.join(', ')}]`;
}

/** Same shape; embedding rows may differ when the vocabularies are merged. */
function sameShape(name: string, a: readonly number[], b: readonly number[], opts: CompatOptions): boolean {
  if (a.length !== b.length) return false;
  return a.every((d, i) => d === b[i] || (i === 0 && opts.vocabMerged === true && EMBEDS.has(name)));
}

function checkDtype(m: MergeInput, name: string): void {
  const t = m.bundle.tensors.get(name);
  if (t && !canDequantize(t.dtype)) throw new FormatError(m.path, name, `dtype ${t.dtype} cannot be dequantized for merging`);
}

/** Same tensor names and shapes as the reference. */
function checkTensors(ref: MergeInput, m: MergeInput, opts: CompatOptions): void {
  const names = ref.bundle.tensors.names();
  for (const name of names) {
    const a = ref.bundle.tensors.get(name);
    const b = m.bundle.tensors.get(name);
    if (!b) throw new FormatError(m.path, name, `missing: the tensor is in ${ref.path} but not in this model`);
    if (a && !sameShape(name, a.shape, b.shape, opts)) throw new FormatError(m.path, name, `shape ${shapeText(b.shape)} does not match ${shapeText(a.shape)} in ${ref.path}`);
    checkDtype(m, name);
  }
  const refNames = new Set(names);
  const extra = m.bundle.tensors.names().find((n) => !refNames.has(n));
  if (extra !== undefined) throw new FormatError(m.path, extra, `extra tensor: not in ${ref.path}`);
}

/** Same embedding rows and the same vocabulary as the reference (the output keeps the reference's tokenizer). */
export function checkVocabulary(ref: MergeInput, m: MergeInput): void {
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
export function checkMergeable(ref: MergeInput, others: readonly MergeInput[], opts: CompatOptions = {}): void {
  for (const name of ref.bundle.tensors.names()) checkDtype(ref, name);
  for (const m of others) {
    checkTensors(ref, m, opts);
    if (!opts.vocabMerged) checkVocabulary(ref, m);
  }
}

/** One output tensor's inputs: each present, decodable, and of the first input's shape. */
export function checkTensorInputs(inputs: readonly { model: MergeInput; name: string }[], opts: CompatOptions): void {
  const first = inputs[0];
  const ref = first ? first.model.bundle.tensors.get(first.name) : undefined;
  for (const { model, name } of inputs) {
    const t = model.bundle.tensors.get(name);
    if (!t) throw new FormatError(model.path, name, 'missing tensor');
    checkDtype(model, name);
    if (ref && first && !sameShape(name, ref.shape, t.shape, opts)) throw new FormatError(model.path, name, `shape ${shapeText(t.shape)} does not match ${shapeText(ref.shape)} of ${first.name} in ${first.model.path}`);
  }
}

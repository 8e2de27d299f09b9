/** Distillation and alignment need one vocabulary: the same token string must carry the same id. */
import { FormatError } from '../../formats/errors.js';
import type { TokenizerSpec } from '../../tensor/bundle.js';

/** token → id of a tokenizer.json: the model's vocab plus its added tokens. */
export function vocabOf(spec: TokenizerSpec): Map<string, number> {
  const json = JSON.parse(spec.json) as { model?: { vocab?: unknown }; added_tokens?: unknown };
  const out = new Map<string, number>();
  const vocab = json.model?.vocab;
  if (Array.isArray(vocab)) {
    // Unigram vocabularies are [piece, score] lists: the id is the index.
    vocab.forEach((entry, id) => out.set(String(Array.isArray(entry) ? entry[0] : entry), id));
  } else if (typeof vocab === 'object' && vocab !== null) {
    for (const [tok, id] of Object.entries(vocab)) if (typeof id === 'number') out.set(tok, id);
  }
  if (Array.isArray(json.added_tokens)) {
    for (const t of json.added_tokens as { content?: unknown; id?: unknown }[]) {
      if (typeof t.content === 'string' && typeof t.id === 'number') out.set(t.content, t.id);
    }
  }
  return out;
}

/** The first difference between two vocabularies, or undefined when they agree exactly. */
export function vocabDifference(a: Map<string, number>, b: Map<string, number>): string | undefined {
  if (a.size !== b.size) return `${a.size} tokens vs ${b.size}`;
  for (const [tok, id] of a) {
    const other = b.get(tok);
    if (other !== id) return `token ${JSON.stringify(tok)} is id ${id} vs ${other === undefined ? 'absent' : `id ${other}`}`;
  }
  return undefined;
}

/** Throws a one-line FormatError unless `other` has exactly the reference's vocabulary. */
export function requireSameVocab(refPath: string, ref: TokenizerSpec | undefined, otherPath: string, other: TokenizerSpec | undefined): void {
  if (!ref) throw new FormatError(refPath, 'tokenizer', 'the model carries no tokenizer');
  if (!other) throw new FormatError(otherPath, 'tokenizer', 'the model carries no tokenizer');
  const diff = vocabDifference(vocabOf(ref), vocabOf(other));
  if (diff) throw new FormatError(otherPath, 'tokenizer.json vocab', `differs from ${refPath}'s (${diff}); both models must share one tokenizer`);
}

/** The subset of Hugging Face's `tokenizer.json` document that this layer reads and writes. */

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  normalized?: boolean;
  special?: boolean;
}

export type JsonObject = Record<string, unknown>;

export interface BpeModelJson {
  type: 'BPE';
  dropout?: number | null;
  unk_token?: string | null;
  continuing_subword_prefix?: string | null;
  end_of_word_suffix?: string | null;
  fuse_unk?: boolean;
  byte_fallback?: boolean;
  ignore_merges?: boolean;
  vocab: Record<string, number>;
  merges: (string | [string, string])[];
}

export interface TokenizerJson {
  version?: string;
  truncation?: unknown;
  padding?: unknown;
  added_tokens?: AddedTokenJson[];
  normalizer?: JsonObject | null;
  pre_tokenizer?: JsonObject | null;
  post_processor?: JsonObject | null;
  decoder?: JsonObject | null;
  model: JsonObject & { type?: string };
}

/** A tokenizer source that cannot be used: names the source and the field, one line. */
export class TokenizerError extends Error {
  readonly source: string;
  readonly field: string;

  constructor(source: string, field: string, message: string) {
    super(`${source}: ${field}: ${message}`);
    this.name = 'TokenizerError';
    this.source = source;
    this.field = field;
  }
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function parseTokenizerJson(text: string, source = 'tokenizer.json'): TokenizerJson {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new TokenizerError(source, '(document)', `not valid JSON (${(e as Error).message})`);
  }
  if (!isObject(doc)) throw new TokenizerError(source, '(document)', 'expected a JSON object');
  const model = doc['model'];
  if (!isObject(model)) throw new TokenizerError(source, 'model', 'expected an object');
  const added = doc['added_tokens'];
  if (added !== undefined && added !== null && !Array.isArray(added)) {
    throw new TokenizerError(source, 'added_tokens', 'expected an array');
  }
  return doc as unknown as TokenizerJson;
}

/** A BPE model's merges as pairs, whichever of the two serialisations ("a b" or ["a", "b"]) the file uses. */
export function mergePairs(merges: readonly unknown[], source = 'tokenizer.json'): [string, string][] {
  return merges.map((m, i) => {
    if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
      return [m[0], m[1]];
    }
    if (typeof m === 'string') {
      const at = m.indexOf(' ', 1);
      if (at > 0) return [m.slice(0, at), m.slice(at + 1)];
    }
    throw new TokenizerError(source, `model.merges[${i}]`, 'expected "a b" or ["a", "b"]');
  });
}

/** The `content` of a special-token entry of tokenizer_config.json: a string or an AddedToken object. */
export function tokenContent(entry: unknown): string | undefined {
  if (typeof entry === 'string') return entry;
  if (isObject(entry) && typeof entry['content'] === 'string') return entry['content'];
  return undefined;
}

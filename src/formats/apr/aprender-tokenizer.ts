/**
 * aprender/realizar decode tokens from flat `tokenizer.*` metadata keys rather than tokenizer.json. The
 * writer derives them from the embedded tokenizer.json so those tools can read our files; our reader
 * ignores them when `tokenizer.json` is present (they are a projection of it).
 */
export const APRENDER_TOKENIZER_KEYS = ['tokenizer.vocabulary', 'tokenizer.vocab_size', 'tokenizer.merges', 'tokenizer.bos_token_id', 'tokenizer.eos_token_id'] as const;

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Token strings indexed by id, from model.vocab plus added_tokens; undefined unless ids are exactly 0..n-1. */
function vocabularyOf(tok: Json): string[] | undefined {
  const model = tok['model'];
  if (!isObject(model) || !isObject(model['vocab'])) return undefined;
  const byId = new Map<number, string>();
  for (const [piece, id] of Object.entries(model['vocab'])) if (typeof id === 'number') byId.set(id, piece);
  if (Array.isArray(tok['added_tokens'])) {
    for (const t of tok['added_tokens'] as unknown[]) if (isObject(t) && typeof t['id'] === 'number' && typeof t['content'] === 'string') byId.set(t['id'], t['content']);
  }
  const vocab: string[] = [];
  for (let id = 0; id < byId.size; id++) {
    const piece = byId.get(id);
    if (piece === undefined) return undefined;
    vocab.push(piece);
  }
  return vocab;
}

/** BPE merges as "a b" strings (tokenizer.json has them either as strings or as [a, b] pairs). */
function mergesOf(tok: Json): string[] | undefined {
  const model = tok['model'];
  if (!isObject(model) || !Array.isArray(model['merges'])) return undefined;
  const out: string[] = [];
  for (const m of model['merges'] as unknown[]) {
    if (typeof m === 'string') out.push(m);
    else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') out.push(`${m[0]} ${m[1]}`);
    else return undefined;
  }
  return out;
}

function firstId(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (Array.isArray(v) && typeof v[0] === 'number') return v[0];
  return undefined;
}

/** The aprender keys for a tokenizer.json text; {} when it is not a vocabulary-based model we understand. */
export function aprenderTokenizerKeys(tokenizerJson: string, bos: unknown, eos: unknown): Json {
  let tok: unknown;
  try {
    tok = JSON.parse(tokenizerJson);
  // Stryker disable next-line BlockStatement: an emptied catch leaves tok undefined, which the isObject check below turns into the same {}
  } catch {
    return {};
  }
  if (!isObject(tok)) return {};
  const out: Json = {};
  const vocab = vocabularyOf(tok);
  if (vocab) {
    out['tokenizer.vocabulary'] = vocab;
    out['tokenizer.vocab_size'] = vocab.length;
  }
  const merges = mergesOf(tok);
  if (merges && merges.length > 0) out['tokenizer.merges'] = merges;
  const bosId = firstId(bos);
  const eosId = firstId(eos);
  if (bosId !== undefined) out['tokenizer.bos_token_id'] = bosId;
  if (eosId !== undefined) out['tokenizer.eos_token_id'] = eosId;
  return out;
}

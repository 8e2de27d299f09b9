import type { TokenizerSpec } from '../tensor/bundle.js';
import type { GgufVocab } from './gguf-vocab-types.js';
import { knownPre, preFamily, preTokenizerJson } from './pre-tokenizers.js';
import { TokenizerError, type AddedTokenJson, type JsonObject, type TokenizerJson } from './tokenizer-json.js';

export type { GgufVocab } from './gguf-vocab-types.js';
export { ggufVocabFromTokenizer, type GgufExportOptions } from './gguf-vocab-export.js';

/** llama.cpp's token types (gguf TokenType). */
export const TOKEN_TYPE = { NORMAL: 1, UNKNOWN: 2, CONTROL: 3, USER_DEFINED: 4, UNUSED: 5, BYTE: 6 } as const;

const SOURCE = 'gguf';

/**
 * A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json) that encodes as llama.cpp encodes with
 * these `tokenizer.ggml.*` keys. 'gpt2' becomes a byte-level BPE whose pre-tokenizer is the regex of
 * `tokenizer.ggml.pre`; 'llama' (SentencePiece) becomes a byte-fallback BPE whose merges are ranked by the
 * token scores, which is llama.cpp's SPM algorithm (merge the adjacent pair whose concatenation is the
 * highest-scoring token). Control (3) and unknown (2) tokens become special added tokens, user-defined
 * (4) ones non-special added tokens.
 */
export function tokenizerFromGgufVocab(v: GgufVocab): TokenizerSpec {
  checkVocab(v);
  const json = v.model === 'gpt2' ? gpt2Json(v) : spmJson(v);
  json.added_tokens = addedTokens(v);
  const config: Record<string, unknown> = { clean_up_tokenization_spaces: false };
  const name = (id: number | undefined): string | null => (id !== undefined ? (v.tokens[id] ?? null) : null);
  config['bos_token'] = name(v.bos_token_id);
  config['eos_token'] = name(v.eos_token_id);
  config['unk_token'] = name(v.unknown_token_id);
  config['pad_token'] = name(v.padding_token_id);
  config['add_bos_token'] = addBos(v);
  config['add_eos_token'] = v.add_eos_token ?? false;
  if (v.chat_template !== undefined) config['chat_template'] = v.chat_template;
  const spec: TokenizerSpec = { json: JSON.stringify(json), config };
  if (v.chat_template !== undefined) spec.chatTemplate = v.chat_template;
  return spec;
}

function checkVocab(v: GgufVocab): void {
  if (v.model !== 'gpt2' && v.model !== 'llama') {
    throw new TokenizerError(SOURCE, 'tokenizer.ggml.model', `unsupported '${v.model}' (expected 'gpt2' or 'llama')`);
  }
  if (v.tokens.length === 0) throw new TokenizerError(SOURCE, 'tokenizer.ggml.tokens', 'empty');
  if (v.token_type !== undefined && v.token_type.length !== v.tokens.length) {
    throw new TokenizerError(SOURCE, 'tokenizer.ggml.token_type', `${v.token_type.length} entries for ${v.tokens.length} tokens`);
  }
  if (v.scores !== undefined && v.scores.length !== v.tokens.length) {
    throw new TokenizerError(SOURCE, 'tokenizer.ggml.scores', `${v.scores.length} entries for ${v.tokens.length} tokens`);
  }
  for (const [field, id] of [
    ['bos_token_id', v.bos_token_id],
    ['eos_token_id', v.eos_token_id],
    ['unknown_token_id', v.unknown_token_id],
    ['padding_token_id', v.padding_token_id],
  ] as const) {
    if (id !== undefined && (!Number.isInteger(id) || id < 0 || id >= v.tokens.length)) {
      throw new TokenizerError(SOURCE, `tokenizer.ggml.${field}`, `${id} is not a token id (vocabulary of ${v.tokens.length})`);
    }
  }
}

/** llama.cpp's defaults: SPM adds BOS, BPE does not except the llama3 family; the GGUF key overrides. */
function addBos(v: GgufVocab): boolean {
  if (v.add_bos_token !== undefined) return v.add_bos_token;
  const pre = knownPre(v.pre);
  return v.model === 'llama' || (pre !== undefined && preFamily(pre).addBos === true);
}

function vocabObject(tokens: readonly string[]): Record<string, number> {
  const vocab: Record<string, number> = {};
  // llama.cpp's text-to-id map keeps the last id of a duplicated text; so does this assignment.
  tokens.forEach((t, i) => (vocab[t] = i));
  return vocab;
}

function addedTokens(v: GgufVocab): AddedTokenJson[] {
  const out: AddedTokenJson[] = [];
  (v.token_type ?? []).forEach((type, id) => {
    const special = type === TOKEN_TYPE.CONTROL || type === TOKEN_TYPE.UNKNOWN;
    if (!special && type !== TOKEN_TYPE.USER_DEFINED) return;
    const content = v.tokens[id] ?? '';
    out.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special });
  });
  return out;
}

function postProcessor(v: GgufVocab): JsonObject | null {
  const bos = addBos(v) && v.bos_token_id !== undefined ? v.tokens[v.bos_token_id] : undefined;
  const eos = v.add_eos_token === true && v.eos_token_id !== undefined ? v.tokens[v.eos_token_id] : undefined;
  if (bos === undefined && eos === undefined) return null;
  const single: JsonObject[] = [];
  const specials: JsonObject = {};
  const add = (content: string, id: number | undefined): void => {
    single.push({ SpecialToken: { id: content, type_id: 0 } });
    specials[content] = { id: content, ids: [id], tokens: [content] };
  };
  if (bos !== undefined) add(bos, v.bos_token_id);
  single.push({ Sequence: { id: 'A', type_id: 0 } });
  if (eos !== undefined) add(eos, v.eos_token_id);
  const pair = [...single, ...single.map((s) => ('Sequence' in s ? { Sequence: { id: 'B', type_id: 1 } } : s))];
  return { type: 'TemplateProcessing', single, pair, special_tokens: specials };
}

function gpt2Json(v: GgufVocab): TokenizerJson {
  const pre = knownPre(v.pre);
  if (pre === undefined) {
    throw new TokenizerError(SOURCE, 'tokenizer.ggml.pre', `unsupported pre-tokenizer '${v.pre ?? ''}' (known: gpt-2, qwen2, llama-bpe, starcoder, falcon, deepseek-llm, deepseek-coder, default and their aliases)`);
  }
  if (v.merges === undefined) throw new TokenizerError(SOURCE, 'tokenizer.ggml.merges', "missing (required for 'gpt2')");
  const merges = v.merges.map((m, i): [string, string] => {
    const at = m.indexOf(' ', 1);
    if (at < 0) throw new TokenizerError(SOURCE, `tokenizer.ggml.merges[${i}]`, `'${m}' is not "a b"`);
    return [m.slice(0, at), m.slice(at + 1)];
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    normalizer: null,
    pre_tokenizer: preTokenizerJson(pre),
    post_processor: postProcessor(v) ?? { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: bpeModel(vocabObject(v.tokens), merges, { ignore_merges: preFamily(pre).ignoreMerges === true }),
  };
}

function bpeModel(vocab: Record<string, number>, merges: [string, string][], extra: JsonObject): JsonObject {
  return {
    type: 'BPE',
    dropout: null,
    unk_token: null,
    continuing_subword_prefix: null,
    end_of_word_suffix: null,
    fuse_unk: false,
    byte_fallback: false,
    ignore_merges: false,
    ...extra,
    vocab,
    merges,
  };
}

const SPACE = '\u2581';

function spmJson(v: GgufVocab): TokenizerJson {
  const prefix = v.add_space_prefix ?? true;
  const unk = v.unknown_token_id ?? v.token_type?.indexOf(TOKEN_TYPE.UNKNOWN);
  const unkToken = unk !== undefined && unk >= 0 ? v.tokens[unk] : undefined;
  const replace = { type: 'Replace', pattern: { String: ' ' }, content: SPACE };
  const decoders: JsonObject[] = [
    { type: 'Replace', pattern: { String: SPACE }, content: ' ' },
    { type: 'ByteFallback' },
    { type: 'Fuse' },
  ];
  if (prefix) decoders.push({ type: 'Strip', content: ' ', start: 1, stop: 0 });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    normalizer: prefix ? { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: SPACE }, replace] } : replace,
    pre_tokenizer: null,
    post_processor: postProcessor(v),
    decoder: { type: 'Sequence', decoders },
    model: bpeModel(vocabObject(v.tokens), mergesFromScores(v.tokens, v.scores), {
      unk_token: unkToken ?? null,
      fuse_unk: true,
      byte_fallback: v.tokens.includes('<0x00>'),
    }),
  };
}

/**
 * BPE merges that reproduce llama.cpp's SPM tokenizer: every split of a token into two parts that can be
 * adjacent symbols (a token, or a single character) is a merge, ranked by the score of the joined token
 * (highest first). llama.cpp breaks equal scores by position (leftmost first); a merge list cannot express
 * equal ranks, so equal scores are ranked by token id, then by the length of the left part.
 */
function mergesFromScores(tokens: readonly string[], scores: readonly number[] | undefined): [string, string][] {
  const known = new Set(tokens);
  const found: { l: string; r: string; score: number; id: number }[] = [];
  tokens.forEach((piece, id) => {
    const chars = Array.from(piece);
    const score = scores?.[id] ?? 0;
    if (chars.length < 2 || Number.isNaN(score)) return;
    for (let k = 1; k < chars.length; k++) {
      const l = chars.slice(0, k).join('');
      const r = chars.slice(k).join('');
      if ((k === 1 || known.has(l)) && (k === chars.length - 1 || known.has(r))) found.push({ l, r, score, id });
    }
  });
  found.sort((a, b) => b.score - a.score || a.id - b.id || b.l.length - a.l.length);
  return found.map((m) => [m.l, m.r]);
}

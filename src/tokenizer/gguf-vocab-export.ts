import type { TokenizerSpec } from '../tensor/bundle.js';
import type { GgufVocab } from './gguf-vocab-types.js';
import { preNameOf } from './pre-tokenizers.js';
import {
  isObject,
  mergePairs,
  parseTokenizerJson,
  tokenContent,
  TokenizerError,
  type AddedTokenJson,
  type JsonObject,
  type TokenizerJson,
} from './tokenizer-json.js';
import { chatTemplateOf } from './chat-template.js';

export interface GgufExportOptions {
  /** The model's vocabulary size (config.json `vocab_size`); ids past the tokenizer's become `[PAD<i>]`. */
  vocabSize?: number;
  /** config.json special ids, used where tokenizer_config.json names none (as gguf-py's SpecialVocab does). */
  modelConfig?: { bos_token_id?: unknown; eos_token_id?: unknown; pad_token_id?: unknown; unk_token_id?: unknown };
}

const SOURCE = 'tokenizer.json';
const BYTE_TOKEN = /^<0x[0-9A-Fa-f]{2}>$/;

/**
 * The `tokenizer.ggml.*` keys that llama.cpp's convert_hf_to_gguf.py writes for this Hugging Face tokenizer:
 * tokens in id order (gaps up to `vocabSize` as `[PAD<i>]`, type 5), token types (1 normal, 3 control for
 * special added tokens and tokens that look special, 4 user-defined, 6 byte), merges as "a b" (a space
 * inside a part written as U+0120), the pre-tokenizer name, special ids, add_bos/add_eos and chat template.
 * Byte-level BPE becomes model 'gpt2'; byte-fallback BPE without a byte-level pre-tokenizer (Llama 2,
 * Mistral) becomes 'llama' with scores derived from the merge ranks (convert_hf_to_gguf.py writes -1000
 * for every token there, which loses the merge order; ranks keep llama.cpp's encoding equal to this one).
 */
export function ggufVocabFromTokenizer(spec: TokenizerSpec, opts: GgufExportOptions = {}): GgufVocab {
  const json = parseTokenizerJson(spec.json);
  const model = json.model;
  if (model.type !== 'BPE') {
    throw new TokenizerError(SOURCE, 'model.type', `'${String(model.type)}' cannot be written as a GGUF vocabulary (BPE only)`);
  }
  const config = spec.config ?? {};
  const spm = isSpm(json);
  const { tokens, types } = tokenList(json, config, spm, opts.vocabSize);
  const merges = mergePairs(Array.isArray(model['merges']) ? model['merges'] : [], SOURCE);
  const v: GgufVocab = { model: spm ? 'llama' : 'gpt2', tokens, token_type: types };
  if (spm) {
    v.pre = 'default';
    v.scores = scoresFromMerges(tokens, merges);
    v.add_space_prefix = addsSpacePrefix(json);
  } else {
    const pre = preNameOf(json.pre_tokenizer, model['ignore_merges'] === true);
    if (pre === undefined) {
      throw new TokenizerError(SOURCE, 'pre_tokenizer', 'not one of the byte-level pre-tokenizers this writer knows (gpt-2, qwen2, llama-bpe, starcoder, falcon, deepseek, default)');
    }
    v.pre = pre;
    v.merges = merges.map(([a, b]) => `${a.replaceAll(' ', '\u0120')} ${b.replaceAll(' ', '\u0120')}`);
  }
  Object.assign(v, specialIds(json, config, opts.modelConfig ?? {}, tokens.length));
  Object.assign(v, addFlags(json, config, v));
  const template = chatTemplateOf(spec);
  if (template !== undefined) v.chat_template = template;
  return v;
}

function isSpm(json: TokenizerJson): boolean {
  const text = JSON.stringify([json.pre_tokenizer ?? null, json.decoder ?? null]);
  return json.model['byte_fallback'] === true && !text.includes('"ByteLevel"');
}

function addsSpacePrefix(json: TokenizerJson): boolean {
  const text = JSON.stringify([json.normalizer ?? null, json.pre_tokenizer ?? null]);
  return text.includes('"Prepend"') || (text.includes('"Metaspace"') && !text.includes('"prepend_scheme":"never"'));
}

/** convert_hf_to_gguf.py's does_token_look_special. */
function looksSpecial(t: string): boolean {
  return (
    ['<pad>', '<mask>', '<2mass>', '[@BOS@]'].includes(t) ||
    (t.startsWith('<|') && t.endsWith('|>')) ||
    (t.startsWith('<\uff5c') && t.endsWith('\uff5c>')) ||
    (t.startsWith('<unused') && t.endsWith('>'))
  );
}

/** Token text by id: model.vocab, overridden by added_tokens (which the returned map also lists). */
function tokensById(json: TokenizerJson): { byId: Map<number, string>; added: Map<number, AddedTokenJson> } {
  const vocab = json.model['vocab'];
  if (!isObject(vocab)) throw new TokenizerError(SOURCE, 'model.vocab', 'expected an object');
  const byId = new Map<number, string>();
  for (const [t, id] of Object.entries(vocab)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new TokenizerError(SOURCE, `model.vocab["${t}"]`, 'expected a non-negative integer id');
    byId.set(id, t);
  }
  const added = new Map<number, AddedTokenJson>();
  for (const a of json.added_tokens ?? []) {
    added.set(a.id, a);
    byId.set(a.id, a.content);
  }
  return { byId, added };
}

function tokenList(json: TokenizerJson, config: Record<string, unknown>, spm: boolean, vocabSize: number | undefined): { tokens: string[]; types: number[] } {
  const { byId, added } = tokensById(json);
  const unk = tokenContent(config['unk_token']) ?? (typeof json.model['unk_token'] === 'string' ? json.model['unk_token'] : undefined);
  let maxId = -1;
  for (const id of byId.keys()) maxId = Math.max(maxId, id);
  const n = Math.max(vocabSize ?? 0, maxId + 1);
  const tokens: string[] = [];
  const types: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = byId.get(i);
    if (t === undefined) {
      tokens.push(`[PAD${i}]`);
      types.push(5);
      continue;
    }
    const type = spm ? spmType(t, added.get(i), unk) : gpt2Type(t, added.get(i));
    tokens.push(type === 4 && !spm ? t.replaceAll('\u2581', ' ') : t);
    types.push(type);
  }
  return { tokens, types };
}

function gpt2Type(t: string, a: AddedTokenJson | undefined): number {
  if (a === undefined) return 1;
  return a.special === true || looksSpecial(t) ? 3 : 4;
}

function spmType(t: string, a: AddedTokenJson | undefined, unk: string | undefined): number {
  if (t === unk) return 2;
  if (BYTE_TOKEN.test(t)) return 6;
  if (a === undefined) return 1;
  return a.special === true ? 3 : 4;
}

/** Score of a token = -(1 + rank of the first merge that forms it); tokens that no merge forms score 0. */
function scoresFromMerges(tokens: readonly string[], merges: readonly [string, string][]): number[] {
  const rank = new Map<string, number>();
  merges.forEach(([a, b], i) => {
    if (!rank.has(a + b)) rank.set(a + b, i);
  });
  return tokens.map((t) => {
    const r = rank.get(t);
    return r === undefined ? 0 : -(r + 1);
  });
}

function idOf(json: TokenizerJson, content: string | undefined): number | undefined {
  if (content === undefined) return undefined;
  return (json.added_tokens ?? []).find((a) => a.content === content)?.id;
}

function specialIds(json: TokenizerJson, config: Record<string, unknown>, modelConfig: Record<string, unknown>, n: number): Partial<GgufVocab> {
  const out: Partial<GgufVocab> = {};
  const pick = (key: 'bos' | 'eos' | 'unk' | 'pad'): number | undefined => {
    let id = idOf(json, tokenContent(config[`${key}_token`]));
    if (id === undefined) {
      const fromModel = modelConfig[`${key}_token_id`];
      id = typeof fromModel === 'number' && Number.isInteger(fromModel) ? fromModel : undefined;
    }
    return id !== undefined && id >= 0 && id < n ? id : undefined;
  };
  const bos = pick('bos');
  const eos = pick('eos');
  const unk = pick('unk');
  const pad = pick('pad');
  if (bos !== undefined) out.bos_token_id = bos;
  if (eos !== undefined) out.eos_token_id = eos;
  if (unk !== undefined) out.unknown_token_id = unk;
  if (pad !== undefined) out.padding_token_id = pad;
  return out;
}

/** add_bos/add_eos: from a TemplateProcessing post-processor, overridden by tokenizer_config's add_*_token. */
function addFlags(json: TokenizerJson, config: Record<string, unknown>, v: GgufVocab): Partial<GgufVocab> {
  const out: Partial<GgufVocab> = {};
  const single = templateSingle(json.post_processor);
  if (single.length > 1) {
    const first = single[0];
    const last = single[single.length - 1];
    if (first !== undefined && v.bos_token_id !== undefined) out.add_bos_token = first === v.tokens[v.bos_token_id];
    if (last !== undefined && v.eos_token_id !== undefined) out.add_eos_token = last === v.tokens[v.eos_token_id];
  }
  if (typeof config['add_bos_token'] === 'boolean') out.add_bos_token = config['add_bos_token'];
  if (typeof config['add_eos_token'] === 'boolean') out.add_eos_token = config['add_eos_token'];
  return out;
}

/** The `single` template of a TemplateProcessing post-processor (possibly inside a Sequence) as ids: special token content or undefined for the sequence. */
function templateSingle(pp: JsonObject | null | undefined): (string | undefined)[] {
  if (!isObject(pp)) return [];
  const list = pp['type'] === 'Sequence' && Array.isArray(pp['processors']) ? pp['processors'] : [pp];
  for (const p of list) {
    if (!isObject(p) || p['type'] !== 'TemplateProcessing' || !Array.isArray(p['single'])) continue;
    return p['single'].map((item) => {
      const st = isObject(item) ? item['SpecialToken'] : undefined;
      return isObject(st) && typeof st['id'] === 'string' ? st['id'] : undefined;
    });
  }
  return [];
}

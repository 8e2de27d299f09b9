import { isObject, type JsonObject } from './tokenizer-json.js';

/**
 * llama.cpp's byte-level pre-tokenizers (`tokenizer.ggml.pre`) as Hugging Face pre_tokenizer JSON, and back.
 * The regexes are those of llama.cpp's llama-vocab.cpp (commit 80fb11a) in their original tokenizer.json
 * spelling; each Split is `Isolated`, which is how llama.cpp's unicode_regex_split keeps both the matched
 * and the unmatched pieces.
 */

const GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
const QWEN2_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
const LLAMA3_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** llama.cpp's LLAMA_VOCAB_PRE_TYPE_DEFAULT: four regexes applied one after the other. */
const DEFAULT_REGEXES = [
  '[\\p{P}\\$\\+<=>\\^~\\|]+',
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)",
  '\\p{N}+',
  '[0-9][0-9][0-9]',
];

const PRE_ALIASES: Record<string, 'gpt-2' | 'qwen2' | 'llama-bpe' | 'default'> = {
  'gpt-2': 'gpt-2',
  'phi-2': 'gpt-2',
  mpt: 'gpt-2',
  olmo: 'gpt-2',
  qwen2: 'qwen2',
  'deepseek-r1-qwen': 'qwen2',
  stablelm2: 'qwen2',
  'llama-bpe': 'llama-bpe',
  llama3: 'llama-bpe',
  'llama-v3': 'llama-bpe',
  smaug: 'llama-bpe',
  dbrx: 'llama-bpe',
  default: 'default',
};

export type KnownPre = 'gpt-2' | 'qwen2' | 'llama-bpe' | 'default';

/** The canonical llama.cpp pre-tokenizer family of a `tokenizer.ggml.pre` name, or undefined when unknown. */
export function knownPre(name: string | undefined): KnownPre | undefined {
  return PRE_ALIASES[name ?? 'default'];
}

const split = (regex: string): JsonObject => ({
  type: 'Split',
  pattern: { Regex: regex },
  behavior: 'Isolated',
  invert: false,
});
const byteLevel = (useRegex: boolean): JsonObject => ({
  type: 'ByteLevel',
  add_prefix_space: false,
  trim_offsets: useRegex,
  use_regex: useRegex,
});

/** The Hugging Face pre_tokenizer that splits text as llama.cpp does for this pre-tokenizer family. */
export function preTokenizerJson(pre: KnownPre): JsonObject {
  switch (pre) {
    case 'gpt-2':
      return byteLevel(true);
    case 'qwen2':
      return { type: 'Sequence', pretokenizers: [split(QWEN2_REGEX), byteLevel(false)] };
    case 'llama-bpe':
      return { type: 'Sequence', pretokenizers: [split(LLAMA3_REGEX), byteLevel(false)] };
    case 'default':
      return { type: 'Sequence', pretokenizers: [...DEFAULT_REGEXES.map(split), byteLevel(false)] };
  }
}

function splitRegexes(pre: JsonObject): string[] | undefined {
  const parts = pre['type'] === 'Sequence' ? pre['pretokenizers'] : [pre];
  if (!Array.isArray(parts)) return undefined;
  const regexes: string[] = [];
  for (const p of parts) {
    if (!isObject(p)) return undefined;
    if (p['type'] === 'ByteLevel') {
      if (p['use_regex'] !== false) regexes.push(GPT2_REGEX);
      continue;
    }
    const pattern = p['pattern'];
    if (p['type'] !== 'Split' || !isObject(pattern) || typeof pattern['Regex'] !== 'string') return undefined;
    regexes.push(pattern['Regex']);
  }
  return regexes;
}

const sameList = (a: readonly string[], b: readonly string[]): boolean =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** llama.cpp spells `(?i:'s|...)` as `(?:'[sS]|...)` (std::regex has no inline flags); both mean the same. */
const LLAMA_CPP_CONTRACTIONS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";
const unadapt = (regex: string): string =>
  regex.startsWith(LLAMA_CPP_CONTRACTIONS)
    ? `(?i:'s|'t|'re|'ve|'m|'ll|'d)${regex.slice(LLAMA_CPP_CONTRACTIONS.length)}`
    : regex;

/**
 * The llama.cpp pre-tokenizer name for a byte-level tokenizer.json pre_tokenizer, as convert_hf_to_gguf.py
 * would record it, or undefined when the layout is none of the known families. convert_hf_to_gguf.py
 * identifies the pre-tokenizer by hashing the ids of a probe text; comparing the regexes themselves
 * identifies the same families without running the tokenizer.
 */
export function preNameOf(pre: unknown): KnownPre | undefined {
  if (!isObject(pre)) return undefined;
  const regexes = splitRegexes(pre)?.map(unadapt);
  if (regexes === undefined) return undefined;
  if (sameList(regexes, [GPT2_REGEX])) return 'gpt-2';
  if (sameList(regexes, [QWEN2_REGEX])) return 'qwen2';
  if (sameList(regexes, [LLAMA3_REGEX])) return 'llama-bpe';
  if (sameList(regexes, DEFAULT_REGEXES)) return 'default';
  return undefined;
}

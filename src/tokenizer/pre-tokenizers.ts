import { isObject, type JsonObject } from './tokenizer-json.js';

/**
 * llama.cpp's byte-level pre-tokenizers (`tokenizer.ggml.pre`) as Hugging Face pre_tokenizer JSON, and back.
 * The regexes are those of llama.cpp's llama-vocab.cpp (commit 80fb11a) in their original tokenizer.json
 * spelling; each Split is `Isolated`, which is how llama.cpp's unicode_regex_split keeps both the matched
 * and the unmatched pieces.
 */

export const GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
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
const GPT2_NO_TAIL = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
const CJK = '[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+';
const DEEPSEEK_LLM_LETTERS =
  '\\s?[A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134\u2139\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\u{10400}-\u{1044f}\u{104b0}-\u{104d3}\u{104d8}-\u{104fb}\u{10c80}-\u{10cb2}\u{10cc0}-\u{10cf2}\u{118a0}-\u{118df}\u{1e900}-\u{1e943}]+';

interface Family {
  /** Split regexes applied in turn (Isolated), then the byte-level mapping. */
  regexes: string[];
  /** llama.cpp's ignore_merges: a pre-token that is itself a vocabulary token is not split by BPE. */
  ignoreMerges?: boolean;
  /** llama.cpp adds BOS by default for this family when the GGUF has no add_bos_token key. */
  addBos?: boolean;
}

const FAMILIES = {
  'gpt-2': { regexes: [GPT2_REGEX] },
  qwen2: { regexes: [QWEN2_REGEX] },
  'llama-bpe': { regexes: [LLAMA3_REGEX], ignoreMerges: true, addBos: true },
  /** Same regex as llama3 without ignore_merges (dbrx, smaug, chatglm4). */
  'llama3-regex': { regexes: [LLAMA3_REGEX] },
  starcoder: { regexes: ['\\p{N}', GPT2_NO_TAIL] },
  falcon: { regexes: ['[\\p{P}\\$\\+<=>\\^~\\|`]+', GPT2_NO_TAIL, '[0-9][0-9][0-9]'] },
  'deepseek-llm': { regexes: ['[\\r\\n]', DEEPSEEK_LLM_LETTERS, '\\s?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+', '\\s+$', CJK, '\\p{N}+'] },
  'deepseek-coder': { regexes: ['[\\r\\n]', '\\s?\\p{L}+', '\\s?\\p{P}+', CJK, '\\p{N}'] },
  default: { regexes: DEFAULT_REGEXES },
} satisfies Record<string, Family>;

export type KnownPre = keyof typeof FAMILIES;

/** llama.cpp's tokenizer.ggml.pre names (llama-vocab.cpp) for each family above. */
const PRE_ALIASES: Record<string, KnownPre> = {
  default: 'default',
  ...Object.fromEntries(
    ['gpt-2', 'phi-2', 'mpt', 'olmo', 'jais', 'exaone4', 'mellum', 'gigachat', 'a.x-4.0', 'jina-es', 'jina-de', 'jina-v2-es', 'jina-v2-de'].map((n) => [n, 'gpt-2']),
  ),
  ...Object.fromEntries(['qwen2', 'deepseek-r1-qwen', 'stablelm2', 'megrez', 'kormo', 'f2llmv2'].map((n) => [n, 'qwen2'])),
  ...Object.fromEntries(['llama-bpe', 'llama3', 'llama-v3', 'falcon3', 'falcon-h1', 'pixtral', 'midm-2.0', 'lfm2'].map((n) => [n, 'llama-bpe'])),
  ...Object.fromEntries(['dbrx', 'smaug-bpe', 'chatglm-bpe', 'glm4'].map((n) => [n, 'llama3-regex'])),
  ...Object.fromEntries(['starcoder', 'refact', 'command-r', 'smollm', 'codeshell', 'exaone', 'minerva-7b'].map((n) => [n, 'starcoder'])),
  falcon: 'falcon',
  'deepseek-llm': 'deepseek-llm',
  'deepseek-coder': 'deepseek-coder',
};

/** The llama.cpp pre-tokenizer family of a `tokenizer.ggml.pre` name (missing = 'default'), or undefined when unknown. */
export function knownPre(name: string | undefined): KnownPre | undefined {
  return PRE_ALIASES[name ?? 'default'];
}

export function preFamily(pre: KnownPre): Family {
  return FAMILIES[pre];
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
  if (pre === 'gpt-2') return byteLevel(true);
  return { type: 'Sequence', pretokenizers: [...FAMILIES[pre].regexes.map(split), byteLevel(false)] };
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

/** The tokenizer.ggml.pre name convert_hf_to_gguf.py writes for each family. */
const WRITTEN_NAME: Record<KnownPre, string> = {
  'gpt-2': 'gpt-2',
  qwen2: 'qwen2',
  'llama-bpe': 'llama-bpe',
  'llama3-regex': 'smaug-bpe',
  starcoder: 'starcoder',
  falcon: 'falcon',
  'deepseek-llm': 'deepseek-llm',
  'deepseek-coder': 'deepseek-coder',
  default: 'default',
};

/**
 * The llama.cpp pre-tokenizer name for a byte-level tokenizer.json pre_tokenizer (and the BPE model's
 * ignore_merges, which separates llama3 from smaug), as convert_hf_to_gguf.py would record it, or
 * undefined when the layout is none of the known families. convert_hf_to_gguf.py identifies the
 * pre-tokenizer by hashing the ids of a probe text; comparing the regexes themselves identifies the same
 * families without running the tokenizer.
 */
export function preNameOf(pre: unknown, ignoreMerges: boolean): string | undefined {
  if (!isObject(pre)) return undefined;
  const regexes = splitRegexes(pre)?.map(unadapt);
  if (regexes === undefined) return undefined;
  if (sameList(regexes, [LLAMA3_REGEX])) return ignoreMerges ? 'llama-bpe' : 'smaug-bpe';
  const found = (Object.keys(FAMILIES) as KnownPre[]).find((name) => sameList(regexes, FAMILIES[name].regexes));
  return found === undefined ? undefined : WRITTEN_NAME[found];
}

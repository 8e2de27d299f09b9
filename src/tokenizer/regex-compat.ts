import { GPT2_REGEX } from './pre-tokenizers.js';
import { isObject, type JsonObject, type TokenizerJson } from './tokenizer-json.js';

/**
 * Unicode White_Space, which is what `\s` means to Oniguruma (Hugging Face tokenizers) and to llama.cpp.
 * JavaScript's `\s` differs in two code points: it includes U+FEFF (BOM) and excludes U+0085 (NEL), so a
 * text with either would be pre-tokenized differently. Literal characters, so that the library's
 * Oniguruma-to-JS rewriting leaves them alone.
 */
const WHITE_SPACE = '\t\n\u000b\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000';

/** The regex with `\s` (and `\S` outside character classes) spelled as Unicode White_Space. */
export function withUnicodeWhitespace(regex: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < regex.length; i++) {
    const c = regex[i] ?? '';
    if (c === '\\') {
      const next = regex[i + 1] ?? '';
      i++;
      if (next === 's') out += inClass ? WHITE_SPACE : `[${WHITE_SPACE}]`;
      else if (next === 'S' && !inClass) out += `[^${WHITE_SPACE}]`;
      else out += c + next;
      continue;
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    out += c;
  }
  return out;
}

function adaptPattern(step: JsonObject): JsonObject {
  const pattern = step['pattern'];
  if (!isObject(pattern) || typeof pattern['Regex'] !== 'string') return step;
  return { ...step, pattern: { Regex: withUnicodeWhitespace(pattern['Regex']) } };
}

/** One pre-tokenizer step, as the list of steps that behave like Hugging Face's under JavaScript regexes. */
function adaptPreStep(step: unknown): unknown[] {
  if (!isObject(step)) return [step];
  if (step['type'] === 'Sequence' && Array.isArray(step['pretokenizers'])) {
    return [{ ...step, pretokenizers: step['pretokenizers'].flatMap(adaptPreStep) }];
  }
  if (step['type'] === 'Split') return [adaptPattern(step)];
  // ByteLevel's built-in GPT-2 regex uses JavaScript's \s: split with the corrected regex first.
  if (step['type'] === 'ByteLevel' && step['use_regex'] !== false && step['add_prefix_space'] !== true) {
    return [
      { type: 'Split', pattern: { Regex: withUnicodeWhitespace(GPT2_REGEX) }, behavior: 'Isolated', invert: false },
      { ...step, use_regex: false },
    ];
  }
  return [step];
}

function adaptNormalizer(n: unknown): unknown {
  if (!isObject(n)) return n;
  if (n['type'] === 'Sequence' && Array.isArray(n['normalizers'])) return { ...n, normalizers: n['normalizers'].map(adaptNormalizer) };
  return n['type'] === 'Replace' ? adaptPattern(n) : n;
}

/** A copy of the tokenizer.json whose regexes mean under JavaScript what they mean under Oniguruma. */
export function adaptForJavaScript(json: TokenizerJson): TokenizerJson {
  const pre = json.pre_tokenizer === undefined || json.pre_tokenizer === null ? [] : adaptPreStep(json.pre_tokenizer);
  const out: TokenizerJson = { ...json, normalizer: adaptNormalizer(json.normalizer ?? null) as JsonObject | null };
  if (pre.length === 1) out.pre_tokenizer = pre[0] as JsonObject;
  else if (pre.length > 1) out.pre_tokenizer = { type: 'Sequence', pretokenizers: pre };
  return out;
}

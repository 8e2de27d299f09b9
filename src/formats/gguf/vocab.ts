/** `tokenizer.ggml.*` KV pairs ↔ the GgufVocab interface of src/tokenizer. */
import type { GgufVocab } from '../../tokenizer/gguf-vocab-types.js';
import { FormatError } from '../errors.js';
import type { KvReader } from './arch-config.js';
import type { GgufValue } from './types.js';

const P = 'tokenizer.ggml.';

function strings(r: KvReader, key: string): string[] | undefined {
  const v = r.get(key);
  if (v === undefined) return undefined;
  if (v.type !== 'array' || v.itemType !== 'string') throw new FormatError(r.file, key, `expected an array of strings, got ${v.type}`);
  return v.value;
}

function numbers(r: KvReader, key: string): number[] | undefined {
  const v = r.get(key);
  if (v === undefined) return undefined;
  if (v.type !== 'array' || v.itemType === 'string' || v.itemType === 'bool' || v.itemType === 'array') throw new FormatError(r.file, key, 'expected an array of numbers');
  return v.value.map(Number);
}

function bool(r: KvReader, key: string): boolean | undefined {
  const v = r.get(key);
  if (v === undefined) return undefined;
  if (v.type !== 'bool') throw new FormatError(r.file, key, `expected a bool, got ${v.type}`);
  return v.value;
}

function setIf<K extends keyof GgufVocab>(v: GgufVocab, key: K, value: GgufVocab[K] | undefined): void {
  if (value !== undefined) v[key] = value;
}

/** The vocabulary, or undefined when the file has no `tokenizer.ggml.model`. */
export function vocabFromKv(r: KvReader): GgufVocab | undefined {
  const model = r.string(`${P}model`);
  if (model === undefined) return undefined;
  const tokens = strings(r, `${P}tokens`);
  if (tokens === undefined) throw new FormatError(r.file, `${P}tokens`, 'missing (tokenizer.ggml.model is set)');
  const v: GgufVocab = { model, tokens };
  setIf(v, 'pre', r.string(`${P}pre`));
  setIf(v, 'token_type', numbers(r, `${P}token_type`));
  setIf(v, 'merges', strings(r, `${P}merges`));
  setIf(v, 'scores', numbers(r, `${P}scores`));
  for (const k of ['bos_token_id', 'eos_token_id', 'unknown_token_id', 'padding_token_id'] as const) {
    const id = r.int(`${P}${k}`);
    if (id !== undefined && (id < 0 || id >= tokens.length)) throw new FormatError(r.file, `${P}${k}`, `token id ${id} is outside the ${tokens.length}-token vocabulary`);
    setIf(v, k, id);
  }
  setIf(v, 'add_bos_token', bool(r, `${P}add_bos_token`));
  setIf(v, 'add_eos_token', bool(r, `${P}add_eos_token`));
  setIf(v, 'chat_template', r.string('tokenizer.chat_template'));
  for (const [name, len] of [['token_type', v.token_type?.length], ['scores', v.scores?.length]] as const) {
    if (len !== undefined && len !== tokens.length) throw new FormatError(r.file, `${P}${name}`, `${len} entries for ${tokens.length} tokens`);
  }
  return v;
}

/** KV pairs for a vocabulary, in the order gguf-py's writer emits them. */
export function vocabKeys(v: GgufVocab): [string, GgufValue][] {
  const out: [string, GgufValue][] = [[`${P}model`, { type: 'string', value: v.model }]];
  if (v.pre !== undefined) out.push([`${P}pre`, { type: 'string', value: v.pre }]);
  out.push([`${P}tokens`, { type: 'array', itemType: 'string', value: v.tokens }]);
  if (v.scores) out.push([`${P}scores`, { type: 'array', itemType: 'f32', value: v.scores }]);
  if (v.token_type) out.push([`${P}token_type`, { type: 'array', itemType: 'i32', value: v.token_type }]);
  if (v.merges) out.push([`${P}merges`, { type: 'array', itemType: 'string', value: v.merges }]);
  for (const k of ['bos_token_id', 'eos_token_id', 'unknown_token_id', 'padding_token_id'] as const) {
    const id = v[k];
    if (id !== undefined) out.push([`${P}${k}`, { type: 'u32', value: id }]);
  }
  if (v.add_bos_token !== undefined) out.push([`${P}add_bos_token`, { type: 'bool', value: v.add_bos_token }]);
  if (v.add_eos_token !== undefined) out.push([`${P}add_eos_token`, { type: 'bool', value: v.add_eos_token }]);
  return out;
}

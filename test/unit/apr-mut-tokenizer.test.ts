/**
 * aprender's flat tokenizer keys (src/formats/apr/aprender-tokenizer.ts) and the metadata object the writer
 * builds around them (src/formats/apr/metadata.ts buildMetadata/encodeMetadata), checked against their
 * definitions: vocabulary = token strings indexed by id 0..n-1 (model.vocab plus added_tokens), merges as
 * "a b" strings, bos/eos = the first id, and {} for anything that is not a vocabulary-based tokenizer.json.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readApr, writeApr } from '../../src/formats/apr/index.js';
import { APRENDER_TOKENIZER_KEYS, aprenderTokenizerKeys } from '../../src/formats/apr/aprender-tokenizer.js';
import { buildMetadata, encodeMetadata } from '../../src/formats/apr/metadata.js';
import type { ModelBundle } from '../../src/tensor/bundle.js';
import { MemoryTensorStore } from '../../src/tensor/store.js';

const keys = (json: unknown, bos?: unknown, eos?: unknown): Record<string, unknown> =>
  aprenderTokenizerKeys(typeof json === 'string' ? json : JSON.stringify(json), bos, eos);

describe('aprenderTokenizerKeys: a tiny hand-made tokenizer', () => {
  it('gives the vocabulary by id (added_tokens included), its size, the merges as "a b" and the first bos/eos ids', () => {
    const tok = { model: { type: 'BPE', vocab: { a: 0, b: 1, ab: 2 }, merges: [['a', 'b'], 'b a'] }, added_tokens: [{ id: 3, content: '<eos>', special: true }] };
    expect(keys(tok, 1, [3, 2])).toStrictEqual({
      'tokenizer.vocabulary': ['a', 'b', 'ab', '<eos>'],
      'tokenizer.vocab_size': 4,
      'tokenizer.merges': ['a b', 'b a'],
      'tokenizer.bos_token_id': 1,
      'tokenizer.eos_token_id': 3,
    });
    expect([...APRENDER_TOKENIZER_KEYS]).toEqual(['tokenizer.vocabulary', 'tokenizer.vocab_size', 'tokenizer.merges', 'tokenizer.bos_token_id', 'tokenizer.eos_token_id']);
  });

  it('an added token replaces the vocab entry of the same id; non-numeric vocab ids are skipped', () => {
    expect(keys({ model: { vocab: { a: 0, b: 1 } }, added_tokens: [{ id: 1, content: '<B>' }] })).toStrictEqual({ 'tokenizer.vocabulary': ['a', '<B>'], 'tokenizer.vocab_size': 2 });
    expect(keys({ model: { vocab: { a: 0, x: '1', c: 1 } } })).toStrictEqual({ 'tokenizer.vocabulary': ['a', 'c'], 'tokenizer.vocab_size': 2 });
    expect(keys({ model: { vocab: {} } })).toStrictEqual({ 'tokenizer.vocabulary': [], 'tokenizer.vocab_size': 0 });
  });

  it('ignores malformed added_tokens entries one by one', () => {
    const base = { model: { vocab: { a: 0 } } };
    const only = { 'tokenizer.vocabulary': ['a'], 'tokenizer.vocab_size': 1 };
    expect(keys({ ...base, added_tokens: [{ id: '1', content: 'x' }] })).toStrictEqual(only);
    expect(keys({ ...base, added_tokens: [{ id: 1, content: 5 }] })).toStrictEqual(only);
    expect(keys({ ...base, added_tokens: [{ content: 'x' }] })).toStrictEqual(only);
    expect(keys({ ...base, added_tokens: [{ id: 1 }] })).toStrictEqual(only);
    expect(keys({ ...base, added_tokens: [null, 'x', 7, [1, 'x']] })).toStrictEqual(only);
    expect(keys({ ...base, added_tokens: { id: 1, content: 'x' } })).toStrictEqual(only);
    expect(keys({ ...base, added_tokens: [{ id: 1, content: 'x' }] })).toStrictEqual({ 'tokenizer.vocabulary': ['a', 'x'], 'tokenizer.vocab_size': 2 });
  });

  it('gives no vocabulary unless the ids are exactly 0..n-1, or when model/vocab is not an object', () => {
    expect(keys({ model: { vocab: { a: 0, c: 2 } } }, 0)).toStrictEqual({ 'tokenizer.bos_token_id': 0 });
    expect(keys({ model: { vocab: { a: 1, b: 2 } } })).toStrictEqual({});
    expect(keys({ model: { vocab: ['a', 'b'] } })).toStrictEqual({});
    expect(keys({ model: { vocab: [0, 1] } })).toStrictEqual({});
    expect(keys({ model: { vocab: null } })).toStrictEqual({});
    expect(keys({ model: { vocab: 'a' } })).toStrictEqual({});
    expect(keys({ model: null, added_tokens: [{ id: 0, content: 'x' }] }, 2)).toStrictEqual({ 'tokenizer.bos_token_id': 2 });
    expect(keys({ model: [{ vocab: { a: 0 } }] })).toStrictEqual({});
    expect(keys({ model: 'BPE' })).toStrictEqual({});
    expect(keys({ vocab: { a: 0 }, merges: ['a b'] })).toStrictEqual({});
  });

  it('merges: strings kept, pairs joined with one space; any other element drops all merges; none when empty', () => {
    const m = (merges: unknown): unknown => keys({ model: { merges } })['tokenizer.merges'];
    expect(m(['a b', ['c', 'd'], ['e f', 'g']])).toEqual(['a b', 'c d', 'e f g']);
    expect(m([])).toBeUndefined();
    expect(m(['a b', ['c']])).toBeUndefined();
    expect(m(['a b', ['c', 'd', 'e']])).toBeUndefined();
    expect(m([['c', 1]])).toBeUndefined();
    expect(m([[1, 'c']])).toBeUndefined();
    expect(m(['a b', 5])).toBeUndefined();
    expect(m(['a b', null])).toBeUndefined();
    expect(m('a b')).toBeUndefined();
    expect(m({ 0: 'a b' })).toBeUndefined();
    expect(keys({ model: { vocab: { a: 0 }, merges: [['a', 1]] } })).toStrictEqual({ 'tokenizer.vocabulary': ['a'], 'tokenizer.vocab_size': 1 });
    expect(keys({ model: null, merges: ['a b'] })).toStrictEqual({});
  });

  it('bos/eos: a number, or the first element of an array of numbers; anything else is left out', () => {
    const ids = (bos: unknown, eos: unknown): Record<string, unknown> => keys({ model: 1 }, bos, eos);
    expect(ids(0, 0)).toStrictEqual({ 'tokenizer.bos_token_id': 0, 'tokenizer.eos_token_id': 0 });
    expect(ids([7, 8], [9])).toStrictEqual({ 'tokenizer.bos_token_id': 7, 'tokenizer.eos_token_id': 9 });
    expect(ids(5, undefined)).toStrictEqual({ 'tokenizer.bos_token_id': 5 });
    expect(ids(undefined, 6)).toStrictEqual({ 'tokenizer.eos_token_id': 6 });
    expect(ids(['x'], ['y'])).toStrictEqual({});
    expect(ids([], null)).toStrictEqual({});
    expect(ids('1', { 0: 1 })).toStrictEqual({});
  });

  it('returns {} for text that is not JSON or not a JSON object, whatever bos/eos are', () => {
    for (const text of ['{', 'not json', '[1]', '[{"model":{"vocab":{"a":0}}}]', 'null', '5', '"abc"', 'true']) {
      expect(aprenderTokenizerKeys(text, 1, 2), text).toStrictEqual({});
    }
  });
});

const TOK_JSON = JSON.stringify({ model: { type: 'BPE', vocab: { h: 0, i: 1, hi: 2 }, merges: ['h i'] }, added_tokens: [{ id: 3, content: '</s>' }] });

function bundle(opts: { tokenizer?: Partial<NonNullable<ModelBundle['tokenizer']>> | false; metadata?: Record<string, unknown> } = {}): ModelBundle {
  const store = new MemoryTensorStore();
  store.add('w', 'F32', [2], new Uint8Array(8));
  const b: ModelBundle = {
    config: {
      architecture: 'llama', hidden_size: 8, num_layers: 1, num_heads: 2, num_kv_heads: 1, head_dim: 4, vocab_size: 4, intermediate_size: 16,
      rope_theta: 10000, rms_norm_eps: 1e-5, max_position_embeddings: 64, tie_word_embeddings: true, attention_bias: false, bos_token_id: 0, eos_token_id: [3],
    },
    tensors: store,
    metadata: opts.metadata ?? {},
    provenance: [],
    source: { path: '<memory>', format: 'memory' },
  };
  if (opts.tokenizer !== false) b.tokenizer = { json: TOK_JSON, ...(opts.tokenizer ?? {}) };
  return b;
}

const build = (b: ModelBundle, aprenderKeys = true): Record<string, unknown> =>
  buildMetadata({ bundle: b, integrity: { w: 'sha256:x' }, provenance: [], paramCount: 2, totalSize: 8, aprenderKeys });

const CONFIG_ORDER = ['architecture', 'hidden_size', 'num_layers', 'num_heads', 'num_kv_heads', 'head_dim', 'vocab_size', 'intermediate_size', 'rope_theta', 'rms_norm_eps', 'max_position_embeddings', 'tie_word_embeddings', 'attention_bias', 'bos_token_id', 'eos_token_id'];

describe('buildMetadata: key set and order, tokenizer keys, extras', () => {
  it('a bundle whose tokenizer has only tokenizer.json: no chat_template/tokenizer_config/generation_config keys', () => {
    const meta = build(bundle());
    expect(Object.keys(meta)).toEqual(['model_type', ...CONFIG_ORDER, 'param_count', 'total_size', 'tokenizer.json', ...APRENDER_TOKENIZER_KEYS, 'integrity', 'provenance']);
    expect(meta['tokenizer.vocabulary']).toEqual(['h', 'i', 'hi', '</s>']);
    expect(meta['tokenizer.merges']).toEqual(['h i']);
    expect(meta['tokenizer.bos_token_id']).toBe(0);
    expect(meta['tokenizer.eos_token_id']).toBe(3);
    expect(Object.keys(build(bundle(), false))).toEqual(['model_type', ...CONFIG_ORDER, 'param_count', 'total_size', 'tokenizer.json', 'integrity', 'provenance']);
  });

  it('every tokenizer part, and extras sorted after it; owned keys in bundle.metadata never override', () => {
    const meta = build(bundle({
      tokenizer: { chatTemplate: 'T', config: { k: 1 }, generationConfig: { g: 2 } },
      metadata: { zeta: 1, alpha: 2, hidden_size: 999, chat_template: 'X', 'tokenizer.vocabulary': ['bad'], 'tokenizer.json': 'bad', integrity: 'bad', provenance: 'bad', param_count: 1, model_type: 'x' },
    }));
    expect(Object.keys(meta)).toEqual([
      'model_type', ...CONFIG_ORDER, 'param_count', 'total_size', 'chat_template', 'tokenizer.json', 'tokenizer_config', 'generation_config', ...APRENDER_TOKENIZER_KEYS,
      'alpha', 'zeta', 'integrity', 'provenance',
    ]);
    expect(meta['hidden_size']).toBe(8);
    expect(meta['chat_template']).toBe('T');
    expect(meta['tokenizer.json']).toBe(TOK_JSON);
    expect(meta['tokenizer.vocabulary']).toEqual(['h', 'i', 'hi', '</s>']);
    expect(meta['tokenizer_config']).toEqual({ k: 1 });
    expect(meta['generation_config']).toEqual({ g: 2 });
    expect(meta['param_count']).toBe(2);
    expect(meta['model_type']).toBe('llama');
  });

  it('without a tokenizer, tokenizer-named keys of bundle.metadata are ordinary extras', () => {
    const meta = build(bundle({ tokenizer: false, metadata: { 'tokenizer.vocabulary': ['v'], chat_template: 'C', hidden_size: 1 } }));
    expect(Object.keys(meta)).toEqual(['model_type', ...CONFIG_ORDER, 'param_count', 'total_size', 'chat_template', 'tokenizer.vocabulary', 'integrity', 'provenance']);
    expect(meta['tokenizer.vocabulary']).toEqual(['v']);
    expect(meta['hidden_size']).toBe(8);
  });

  it('aprender-typed keys: strings must be strings, counts non-negative integers (exact messages)', () => {
    expect(() => build(bundle({ metadata: { name: 'n', description: 'd', license: 'mit', rope_type: 0, num_experts: 8 } }))).not.toThrow();
    expect(() => build(bundle({ metadata: { name: 5 } }))).toThrow(new Error("APR metadata key 'name' must be a string (aprender reads it as one)"));
    expect(() => build(bundle({ metadata: { chat_format: null } }))).toThrow("APR metadata key 'chat_format' must be a string (aprender reads it as one)");
    for (const bad of [-1, 1.5, '2', null, 2 ** 53]) {
      expect(() => build(bundle({ metadata: { rope_type: bad } })), String(bad)).toThrow(new Error("APR metadata key 'rope_type' must be a non-negative integer (aprender reads it as one)"));
    }
    expect(() => build(bundle({ metadata: { moe_intermediate_size: -3 } }))).toThrow("APR metadata key 'moe_intermediate_size' must be a non-negative integer");
  });

  it('an invalid config names the first zod issue: "APR: invalid config: <path> <message>"', () => {
    const b = bundle();
    (b.config as unknown as Record<string, unknown>)['hidden_size'] = -8;
    expect(() => build(b)).toThrow(new Error('APR: invalid config: hidden_size Too small: expected number to be >0'));
  });
});

describe('encodeMetadata: compact JSON; bigint to number only when exact; typed arrays to arrays', () => {
  const text = (v: Record<string, unknown>): string => Buffer.from(encodeMetadata(v)).toString('utf8');
  it('bigints within ±(2^53−1) become numbers, others throw naming the key', () => {
    expect(text({ a: 2n ** 53n - 1n, b: -(2n ** 53n) + 1n, c: [1n] })).toBe('{"a":9007199254740991,"b":-9007199254740991,"c":[1]}');
    expect(() => encodeMetadata({ big: 2n ** 53n })).toThrow(new Error("APR metadata key 'big': 9007199254740992 does not fit a JSON number exactly"));
    expect(() => encodeMetadata({ neg: -(2n ** 53n) })).toThrow(new Error("APR metadata key 'neg': -9007199254740992 does not fit a JSON number exactly"));
  });
  it('typed arrays become arrays of numbers', () => {
    expect(text({ f: Float32Array.of(0.5, -2), i: BigInt64Array.of(-3n, 4n), u: Uint8Array.of(7) })).toBe('{"f":[0.5,-2],"i":[-3,4],"u":[7]}');
  });
  it('a 64-bit typed array element beyond ±(2^53−1) throws naming the key, as a plain bigint does (it was rounded silently)', () => {
    expect(() => encodeMetadata({ u: BigUint64Array.of(1n, 2n ** 60n + 1n) })).toThrow(new Error("APR metadata key 'u': 1152921504606846977 does not fit a JSON number exactly"));
    expect(() => encodeMetadata({ i: BigInt64Array.of(-(2n ** 53n)) })).toThrow(new Error("APR metadata key 'i': -9007199254740992 does not fit a JSON number exactly"));
  });
});

describe('the written file carries the aprender keys (default) and the reader ignores them', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'apr-mut-tok-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const metaOf = (p: string): Record<string, unknown> => {
    const b = readFileSync(p);
    return JSON.parse(b.subarray(64, 64 + b.readUInt32LE(20)).toString('utf8')) as Record<string, unknown>;
  };

  it('default on: the stored JSON has the five keys with the values of the definition', () => {
    const p = path.join(dir, 'on.apr');
    writeApr(bundle(), p);
    const meta = metaOf(p);
    expect(meta['tokenizer.vocabulary']).toEqual(['h', 'i', 'hi', '</s>']);
    expect(meta['tokenizer.vocab_size']).toBe(4);
    expect(meta['tokenizer.merges']).toEqual(['h i']);
    expect(meta['tokenizer.bos_token_id']).toBe(0);
    expect(meta['tokenizer.eos_token_id']).toBe(3);
    const apr = readApr(p);
    expect(apr.metadata).toStrictEqual({});
    expect(apr.tokenizer).toStrictEqual({ json: TOK_JSON });
    apr.tensors.close();
  });

  it('aprenderTokenizerKeys: false leaves them out; true is the same as the default', () => {
    const off = path.join(dir, 'off.apr');
    writeApr(bundle(), off, { aprenderTokenizerKeys: false });
    expect(Object.keys(metaOf(off)).filter((k) => k.startsWith('tokenizer.') && k !== 'tokenizer.json')).toEqual([]);
    const on = path.join(dir, 'on2.apr');
    writeApr(bundle(), on, { aprenderTokenizerKeys: true });
    expect(Object.keys(metaOf(on)).filter((k) => k.startsWith('tokenizer.') && k !== 'tokenizer.json')).toEqual([...APRENDER_TOKENIZER_KEYS]);
  });

  it('without a tokenizer, tokenizer.* keys in the metadata round-trip as extras', () => {
    const p = path.join(dir, 'notok.apr');
    writeApr(bundle({ tokenizer: false, metadata: { 'tokenizer.vocabulary': ['q'], name: 'm' } }), p);
    const apr = readApr(p);
    expect(apr.metadata).toStrictEqual({ name: 'm', 'tokenizer.vocabulary': ['q'] });
    expect(apr.tokenizer).toBeUndefined();
    apr.tensors.close();
  });
});

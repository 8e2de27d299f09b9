import { describe, expect, it } from 'vitest';
import { formatErrorMessage } from '../helpers.js';
import { KvReader, archConfigFromGguf, archKeys, archTailKeys } from '../../src/formats/gguf/arch-config.js';
import { readGguf } from '../../src/formats/gguf/index.js';
import { ggufNameFromHf, hfNameFromGguf, permuteRopeRows, ropePermutationHeads } from '../../src/formats/gguf/names.js';
import { shiftNormBytes } from '../../src/formats/gguf/norm-shift.js';
import type { GgufTensorInfo, GgufValue } from '../../src/formats/gguf/types.js';
import { vocabFromKv, vocabKeys } from '../../src/formats/gguf/vocab.js';
import type { GgufVocab } from '../../src/tokenizer/gguf-vocab-types.js';

const FIXTURE = '../shared/fixtures/gguf/tiny-coder-llama-f32.gguf';
const fixture = readGguf(FIXTURE);
fixture.close();

const P = 'tokenizer.ggml.';
const u32 = (value: number): GgufValue => ({ type: 'u32', value });
const strs = (value: string[]): GgufValue => ({ type: 'array', itemType: 'string', value });
const reader = (entries: [string, GgufValue][]): KvReader => new KvReader('f.gguf', new Map(entries));
const message = formatErrorMessage;

describe('tokenizer.ggml.* → GgufVocab', () => {
  it("reads llama.cpp's converter output field by field", () => {
    const v = vocabFromKv(new KvReader(FIXTURE, fixture.kv))!;
    expect([v.model, v.pre, v.tokens.length, v.tokens.slice(0, 4), v.token_type?.slice(0, 4), v.merges?.[0], v.eos_token_id, v.padding_token_id]).toEqual(
      ['gpt2', 'gpt-2', 4096, ['<|endoftext|>', '<|im_start|>', '<|im_end|>', '!'], [3, 3, 3, 1], 'Ġ Ġ', 0, 0],
    );
    expect(v.chat_template?.startsWith('{% for message in messages %}')).toBe(true);
    expect([v.scores, v.bos_token_id, v.add_bos_token]).toEqual([undefined, undefined, undefined]);
  });

  it('vocabKeys gives back the tokenizer keys of the llama.cpp file, in its order', () => {
    const v = vocabFromKv(new KvReader(FIXTURE, fixture.kv))!;
    const want = [...fixture.kv].filter(([k]) => k.startsWith(P));
    expect(vocabKeys(v)).toEqual(want);
  });

  it("vocabKeys writes every field with gguf-py's types and order", () => {
    const v: GgufVocab = { model: 'llama', pre: 'default', tokens: ['<s>', 'a'], scores: [0, -1.5], token_type: [3, 1], merges: ['a a'], bos_token_id: 0, eos_token_id: 1, unknown_token_id: 0, padding_token_id: 1, add_bos_token: true, add_eos_token: false };
    expect(vocabKeys(v)).toEqual([
      [`${P}model`, { type: 'string', value: 'llama' }],
      [`${P}pre`, { type: 'string', value: 'default' }],
      [`${P}tokens`, strs(['<s>', 'a'])],
      [`${P}scores`, { type: 'array', itemType: 'f32', value: [0, -1.5] }],
      [`${P}token_type`, { type: 'array', itemType: 'i32', value: [3, 1] }],
      [`${P}merges`, strs(['a a'])],
      [`${P}bos_token_id`, u32(0)], [`${P}eos_token_id`, u32(1)], [`${P}unknown_token_id`, u32(0)], [`${P}padding_token_id`, u32(1)],
      [`${P}add_bos_token`, { type: 'bool', value: true }], [`${P}add_eos_token`, { type: 'bool', value: false }],
    ]);
    expect(vocabKeys({ model: 'gpt2', tokens: ['x'] })).toEqual([[`${P}model`, { type: 'string', value: 'gpt2' }], [`${P}tokens`, strs(['x'])]]);
  });

  it('reads every optional field, converting 64-bit ids and scores to numbers', () => {
    const v = vocabFromKv(reader([
      [`${P}model`, { type: 'string', value: 'llama' }], [`${P}tokens`, strs(['<unk>', '<s>', 'x'])],
      [`${P}scores`, { type: 'array', itemType: 'f32', value: [0, 0.5, -1] }], [`${P}token_type`, { type: 'array', itemType: 'u64', value: [2n, 3n, 1n] }],
      [`${P}bos_token_id`, { type: 'u64', value: 1n }], [`${P}unknown_token_id`, { type: 'i32', value: 0 }], [`${P}eos_token_id`, u32(2)],
      [`${P}add_bos_token`, { type: 'bool', value: true }], [`${P}add_eos_token`, { type: 'bool', value: false }],
    ]));
    expect(v).toStrictEqual({ model: 'llama', tokens: ['<unk>', '<s>', 'x'], scores: [0, 0.5, -1], token_type: [2, 3, 1], bos_token_id: 1, eos_token_id: 2, unknown_token_id: 0, add_bos_token: true, add_eos_token: false });
    expect(vocabFromKv(reader([[`${P}tokens`, strs(['a'])]]))).toBeUndefined();
  });

  it('rejects malformed vocabulary keys naming the key', () => {
    const base = (extra: [string, GgufValue][], tokens: GgufValue = strs(['a', 'b', 'c'])): string =>
      message(() => vocabFromKv(reader([[`${P}model`, { type: 'string', value: 'gpt2' }], [`${P}tokens`, tokens], ...extra])));
    expect(message(() => vocabFromKv(reader([[`${P}model`, { type: 'string', value: 'gpt2' }]])))).toBe(`f.gguf: ${P}tokens: missing (tokenizer.ggml.model is set)`);
    expect(base([], { type: 'array', itemType: 'i32', value: [1] })).toBe(`f.gguf: ${P}tokens: expected an array of strings, got array`);
    expect(base([], u32(3))).toBe(`f.gguf: ${P}tokens: expected an array of strings, got u32`);
    expect(base([[`${P}merges`, { type: 'string', value: 'a b' }]])).toBe(`f.gguf: ${P}merges: expected an array of strings, got string`);
    for (const bad of [strs(['1', '2', '3']), { type: 'array', itemType: 'bool', value: [true, true, true] }, { type: 'array', itemType: 'array', value: [] }, u32(1)] as GgufValue[]) {
      expect(base([[`${P}token_type`, bad]])).toBe(`f.gguf: ${P}token_type: expected an array of numbers`);
      expect(base([[`${P}scores`, bad]])).toBe(`f.gguf: ${P}scores: expected an array of numbers`);
    }
    expect(base([[`${P}add_bos_token`, u32(1)]])).toBe(`f.gguf: ${P}add_bos_token: expected a bool, got u32`);
    expect(base([[`${P}add_eos_token`, u32(0)]])).toBe(`f.gguf: ${P}add_eos_token: expected a bool, got u32`);
    expect(base([[`${P}pre`, u32(0)]])).toBe(`f.gguf: ${P}pre: expected a string, got u32`);
    expect(base([['tokenizer.chat_template', u32(0)]])).toBe('f.gguf: tokenizer.chat_template: expected a string, got u32');
    for (const k of ['bos_token_id', 'eos_token_id', 'unknown_token_id', 'padding_token_id']) {
      expect(base([[`${P}${k}`, u32(3)]])).toBe(`f.gguf: ${P}${k}: token id 3 is outside the 3-token vocabulary`);
      expect(base([[`${P}${k}`, { type: 'i32', value: -1 }]])).toBe(`f.gguf: ${P}${k}: token id -1 is outside the 3-token vocabulary`);
      expect(vocabFromKv(reader([[`${P}model`, { type: 'string', value: 'gpt2' }], [`${P}tokens`, strs(['a', 'b', 'c'])], [`${P}${k}`, u32(2)]]))?.[k as 'bos_token_id']).toBe(2);
    }
    expect(base([[`${P}scores`, { type: 'array', itemType: 'f32', value: [1, 2] }]])).toBe(`f.gguf: ${P}scores: 2 entries for 3 tokens`);
    expect(base([[`${P}token_type`, { type: 'array', itemType: 'i32', value: [1, 1, 1, 1] }]])).toBe(`f.gguf: ${P}token_type: 4 entries for 3 tokens`);
  });
});

/** A minimal llama header: hidden 16, 4 heads, 2 layers. */
function llamaKv(extra: [string, GgufValue][] = [], drop: string[] = []): Map<string, GgufValue> {
  const kv = new Map<string, GgufValue>([
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['llama.embedding_length', u32(16)], ['llama.attention.head_count', u32(4)], ['llama.block_count', u32(2)],
    ['llama.feed_forward_length', u32(32)], ['llama.context_length', u32(64)],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: Math.fround(1.5e-5) }],
  ]);
  for (const k of drop) kv.delete(k);
  for (const [k, v] of extra) kv.set(k, v);
  return kv;
}
const info = (name: string, dims: number[]): GgufTensorInfo => ({ name, ggmlType: 'F32', dims, offset: 0, byteLength: 0 });

describe('<arch>.* keys ↔ ArchConfig', () => {
  it('KvReader: integers of every width, floats as the shortest decimal, and which keys were used', () => {
    const r = reader([['a', { type: 'u64', value: 7n }], ['b', { type: 'i64', value: -3n }], ['c', { type: 'i16', value: -2 }], ['d', { type: 'f32', value: Math.fround(1.5e-5) }], ['e', { type: 'f64', value: 0.1 }]]);
    expect([r.int('a'), r.int('b'), r.int('c'), r.int('zz'), r.float('d'), r.float('e'), r.float('zz')]).toEqual([7, -3, -2, undefined, 0.000015, 0.1, undefined]);
    expect([...r.used].sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    // float32(1000.00134) = 1000.0013427734375 needs all 9 significant digits to round-trip (1000.0013 is another float).
    expect(reader([['x', { type: 'f32', value: Math.fround(1000.00134) }]]).float('x')).toBe(1000.00134);
    expect(message(() => reader([]).int('k', true))).toBe('f.gguf: k: missing');
    expect(message(() => reader([['k', { type: 'f32', value: 2 }]]).int('k'))).toBe('f.gguf: k: expected an integer, got f32');
    expect(message(() => reader([['k', { type: 'f64', value: 2 }]]).int('k'))).toBe('f.gguf: k: expected an integer, got f64');
    expect(message(() => reader([['k', { type: 'string', value: '2' }]]).int('k'))).toBe('f.gguf: k: expected an integer, got string');
    expect(message(() => reader([['k', { type: 'u64', value: 1n << 60n }]]).int('k'))).toBe('f.gguf: k: expected an integer, got u64');
    expect(message(() => reader([['k', u32(1)]]).float('k'))).toBe('f.gguf: k: expected a float, got u32');
  });

  it('reads a config with the documented fallbacks', () => {
    const c = archConfigFromGguf(new KvReader('f.gguf', llamaKv()), [info('output.weight', [16, 13]), info('token_embd.weight', [16, 11])], undefined);
    expect([c.architecture, c.hidden_size, c.num_heads, c.num_kv_heads, c.head_dim, c.num_layers, c.intermediate_size, c.max_position_embeddings, c.rms_norm_eps, c.rope_theta, c.vocab_size]).toEqual(['llama', 16, 4, 4, 4, 2, 32, 64, 0.000015, 10000, 11]);
    expect([c.tie_word_embeddings, c.attention_bias, c.bos_token_id, c.eos_token_id]).toEqual([false, false, null, null]);
    const d = archConfigFromGguf(new KvReader('f.gguf', llamaKv([['llama.attention.key_length', u32(8)], ['llama.vocab_size', u32(9)], [`${P}bos_token_id`, u32(1)], [`${P}eos_token_id`, u32(2)]])), [info('blk.0.attn_q.bias', [16])], 12);
    expect([d.head_dim, d.vocab_size, d.tie_word_embeddings, d.attention_bias, d.bos_token_id, d.eos_token_id]).toEqual([8, 9, true, true, 1, 2]);
    expect(archConfigFromGguf(new KvReader('f.gguf', llamaKv()), [info('token_embd.weight', [16, 11])], 12).vocab_size).toBe(12);
  });

  it('names the missing or invalid key', () => {
    const fail = (kv: Map<string, GgufValue>, tensors: GgufTensorInfo[] = [info('token_embd.weight', [16, 11])]): string => message(() => archConfigFromGguf(new KvReader('f.gguf', kv), tensors, undefined));
    for (const k of ['llama.embedding_length', 'llama.attention.head_count', 'llama.block_count', 'llama.feed_forward_length', 'llama.context_length', 'llama.attention.layer_norm_rms_epsilon']) {
      expect(fail(llamaKv([], [k]))).toBe(`f.gguf: ${k}: missing`);
    }
    expect(fail(llamaKv([['general.architecture', { type: 'string', value: 'gpt2' }]]))).toBe('f.gguf: general.architecture: unsupported architecture "gpt2" (supported: llama, qwen2, qwen3, phi3, gemma2, gemma3)');
    expect(fail(llamaKv([], ['general.architecture']))).toBe('f.gguf: general.architecture: unsupported architecture undefined (supported: llama, qwen2, qwen3, phi3, gemma2, gemma3)');
    expect(fail(llamaKv(), [])).toMatch(/^f\.gguf: llama\.vocab_size: /);
    const schema = fail(llamaKv([['llama.block_count', u32(0)]]));
    expect(schema).toMatch(/^f\.gguf: llama\.num_layers: \S/);
    expect(schema).not.toMatch(/: invalid$/);
  });

  it("archKeys / archTailKeys reproduce llama.cpp's <arch>.* keys of the fixture, in order", () => {
    const r = new KvReader(FIXTURE, fixture.kv);
    const c = archConfigFromGguf(r, fixture.tensors, 4096);
    const norm = ([k, v]: [string, GgufValue]): [string, string, number] => [k, v.type, v.type === 'f32' ? Math.fround(v.value) : Number(v.value)];
    const keys = [...fixture.kv.keys()];
    const want = (from: string, n: number): [string, string, number][] => keys.slice(keys.indexOf(from), keys.indexOf(from) + n).map((k) => norm([k, fixture.kv.get(k)!]));
    expect(archKeys(c).map(norm)).toEqual(want('llama.block_count', 10));
    expect(archTailKeys(c).map(norm)).toEqual(want('llama.vocab_size', 2));
    expect(archKeys({ ...c, architecture: 'phi3' }).map(([k]) => k)).toEqual(['block_count', 'context_length', 'embedding_length', 'feed_forward_length', 'attention.head_count', 'attention.head_count_kv', 'rope.freq_base', 'attention.layer_norm_rms_epsilon'].map((k) => `phi3.${k}`));
  });
});

describe('HF ↔ GGUF tensor names and the RoPE row permutation', () => {
  it('phi3 replaces the llama pairs that share a GGUF or an HF name, and keeps the rest', () => {
    expect(ggufNameFromHf('model.layers.2.mlp.gate_up_proj.weight', 'phi3')).toBe('blk.2.ffn_up.weight');
    expect(ggufNameFromHf('model.layers.2.mlp.up_proj.weight', 'phi3')).toBeUndefined();
    expect(hfNameFromGguf('blk.2.ffn_up.weight', 'phi3')).toBe('model.layers.2.mlp.gate_up_proj.weight');
    expect(ggufNameFromHf('model.layers.2.input_layernorm.weight', 'phi3')).toBe('blk.2.attn_norm.weight');
    expect(ggufNameFromHf('model.layers.2.self_attn.qkv_proj.weight', 'phi3')).toBe('blk.2.attn_qkv.weight');
    expect(ggufNameFromHf('model.layers.0.pre_feedforward_layernorm.weight', 'gemma2')).toBe('blk.0.ffn_norm.weight');
    expect(ggufNameFromHf('model.layers.0.post_attention_layernorm.weight', 'gemma2')).toBe('blk.0.post_attention_norm.weight');
    expect(ggufNameFromHf('model.layers.0.t.weight', 'nonexistent')).toBeUndefined();
  });

  it('names must match whole', () => {
    for (const n of ['xblk.0.attn_q.weight', 'blk.0.attn_q.weightx']) expect(hfNameFromGguf(n)).toBeUndefined();
    for (const n of ['xmodel.layers.0.self_attn.q_proj.weight', 'model.layers.0.self_attn.q_proj.weightx', 'model.layers.0.foo.weight']) expect(ggufNameFromHf(n)).toBeUndefined();
    expect(ropePermutationHeads('model.layers.0.self_attn.q_proj.weight_scale', 4, 2)).toBeUndefined();
    expect(ropePermutationHeads('model.layers.0.self_attn.k_proj.weight_scale', 4, 2)).toBeUndefined();
    expect([ropePermutationHeads('model.layers.0.self_attn.q_proj.bias', 4, 2), ropePermutationHeads('model.layers.0.self_attn.k_proj.weight', 4, 2)]).toEqual([4, 2]);
  });

  it('permutes rows as numpy reshape(n_head, 2, half).swapaxes(1, 2) does, and back', () => {
    // 12 rows, 2 heads: head_dim 6, half 3. GGUF row h·6 + 2b + a holds HF row h·6 + 3a + b.
    const rows = Uint8Array.from({ length: 12 }, (_, i) => i);
    const gguf = [0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11];
    expect(Array.from(permuteRopeRows(rows, 12, 2, 'hf-to-gguf'))).toEqual(gguf);
    const back = new Array<number>(12);
    gguf.forEach((hf, g) => (back[hf] = g));
    expect(Array.from(permuteRopeRows(rows, 12, 2, 'gguf-to-hf'))).toEqual(back);
    expect(() => permuteRopeRows(new Uint8Array(6), 6, 2, 'hf-to-gguf')).toThrow('RoPE permutation: 6 rows do not split into 2 heads of an even size');
    expect(() => permuteRopeRows(new Uint8Array(10), 4, 1, 'hf-to-gguf')).toThrow('RoPE permutation: 10 bytes do not split into 4 rows');
  });

  it("Gemma's norm shift adds or subtracts 1 in float32, whatever the stored dtype", () => {
    const f16 = Uint8Array.from([0x00, 0x3c, 0x00, 0xb8]); // 1.0, -0.5
    expect(Array.from(new Float32Array(shiftNormBytes('F16', [2], f16, -1).slice().buffer))).toEqual([0, -1.5]);
    expect(Array.from(new Float32Array(shiftNormBytes('F16', [2], f16, 1).slice().buffer))).toEqual([2, 0.5]);
  });
});

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatErrorMessage } from '../helpers.js';
import { readGguf, readGgufBundle, writeGguf, type GgufValue } from '../../src/formats/gguf/index.js';
import type { GgufTensorInput } from '../../src/formats/gguf/write.js';

const dir = mkdtempSync(join(tmpdir(), 'apr-gguf-mut-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FIXTURE = '../shared/fixtures/gguf/tiny-coder-llama-f32.gguf';
const u32 = (value: number): GgufValue => ({ type: 'u32', value });
const str = (value: string): GgufValue => ({ type: 'string', value });

/** llama with hidden 12, 2 heads (head_dim 6, half 3), 1 layer. */
function llamaKv(extra: [string, GgufValue][] = []): Map<string, GgufValue> {
  return new Map<string, GgufValue>([
    ['general.architecture', str('llama')],
    ['llama.embedding_length', u32(12)], ['llama.attention.head_count', u32(2)], ['llama.block_count', u32(1)],
    ['llama.feed_forward_length', u32(8)], ['llama.context_length', u32(16)], ['llama.vocab_size', u32(4)],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: Math.fround(1e-5) }],
    ...extra,
  ]);
}
/** An F32 tensor of `rows` rows of `cols` whose row r holds the value r. */
function rowsTensor(name: string, rows: number, cols: number): GgufTensorInput {
  const a = new Float32Array(rows * cols).map((_, i) => Math.floor(i / cols));
  return { name, ggmlType: 'F32', dims: [cols, rows], read: () => new Uint8Array(a.buffer) };
}
function write(name: string, kv: Map<string, GgufValue>, tensors: GgufTensorInput[]): string {
  const path = join(dir, name);
  writeGguf(path, kv, tensors);
  return path;
}
const message = formatErrorMessage;

describe('GGUF → bundle', () => {
  it('undoes the Q row permutation as numpy swapaxes does (head_dim 6)', () => {
    const path = write('perm.gguf', llamaKv(), [rowsTensor('blk.0.attn_q.weight', 12, 2)]);
    const b = readGgufBundle(path);
    const q = b.tensors.get('model.layers.0.self_attn.q_proj.weight')!;
    // GGUF row h·6 + 2j + a holds HF row h·6 + 3a + j: HF row f comes from GGUF row g.
    const rows = Array.from(new Float32Array(q.read().slice().buffer)).filter((_, i) => i % 2 === 0);
    expect(rows).toEqual([0, 2, 4, 1, 3, 5, 6, 8, 10, 7, 9, 11]);
    expect(q.shape).toEqual([12, 2]);
    b.tensors.close();
    expect(() => q.read()).toThrow(/read after close/);
  });

  it('rejects Q/K rows that do not split into RoPE heads, and two tensors with one HF name', () => {
    const bad = write('rows.gguf', llamaKv(), [rowsTensor('blk.0.attn_q.weight', 6, 2)]);
    expect(message(() => readGgufBundle(bad))).toBe(`${bad}: tensor 'blk.0.attn_q.weight'.dims: 6 rows do not split into 2 RoPE heads`);
    const dup = write('dup.gguf', llamaKv(), [rowsTensor('token_embd.weight', 4, 12), rowsTensor('model.embed_tokens.weight', 4, 12)]);
    expect(message(() => readGgufBundle(dup))).toBe(`${dup}: tensor 'model.embed_tokens.weight': maps to 'model.embed_tokens.weight', already present`);
  });

  it('rejects a LoRA adapter and reports tokenizer errors as FormatErrors of the file', () => {
    const adapter = write('adapter.gguf', llamaKv([['general.type', str('adapter')]]), []);
    expect(message(() => readGgufBundle(adapter))).toBe(`${adapter}: general.type: a LoRA adapter, not a model (apply it with apr run <base> --lora, or merge it with apr finetune <base> --adapter <it> --merge)`);
    const model = write('model.gguf', llamaKv([['general.type', str('model')]]), [rowsTensor('token_embd.weight', 4, 12)]);
    expect(readGgufBundle(model).metadata['gguf']).toEqual({ 'general.type': 'model' });
    const tok = write('tok.gguf', llamaKv([['tokenizer.ggml.model', str('bert')], ['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: ['a', 'b', 'c', 'd'] }]]), []);
    expect(message(() => readGgufBundle(tok))).toBe(`${tok}: tokenizer.ggml.model: unsupported 'bert' (expected 'gpt2' or 'llama')`);
  });

  it("reads llama.cpp's file: unmapped keys only in metadata, the vocabulary and template in tokenizer", () => {
    const f = readGguf(FIXTURE);
    const template = f.kv.get('tokenizer.chat_template');
    f.close();
    const b = readGgufBundle(FIXTURE);
    expect(b.source).toEqual({ path: FIXTURE, format: 'gguf' });
    expect(b.metadata['gguf']).toEqual({ 'general.type': 'model', 'general.name': 'Tiny Coder Llama', 'general.size_label': '5.6M', 'general.file_type': 0, 'general.quantization_version': 2, 'llama.attention.value_length': 32, 'llama.rope.dimension_count': 32 });
    expect(b.metadata['gguf_types']).toEqual({ 'general.type': 'string', 'general.name': 'string', 'general.size_label': 'string', 'general.file_type': 'u32', 'general.quantization_version': 'u32', 'llama.attention.value_length': 'u32', 'llama.rope.dimension_count': 'u32' });
    expect(b.tokenizer?.chatTemplate).toBe(template?.type === 'string' ? template.value : 'missing');
    b.tensors.close();
  });
});

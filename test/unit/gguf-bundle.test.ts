import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/errors.js';
import { ggufNameFromHf, hfNameFromGguf, readGguf, readGgufBundle, writeGguf, writeGgufBundle } from '../../src/formats/gguf/index.js';
import type { ArchConfig, ModelBundle } from '../../src/tensor/bundle.js';
import { MemoryTensorStore } from '../../src/tensor/store.js';

const dir = mkdtempSync(join(tmpdir(), 'apr-gguf-bundle-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(architecture: 'llama' | 'qwen2', tie: boolean): ArchConfig {
  return {
    architecture, hidden_size: 16, num_layers: 1, num_heads: 4, num_kv_heads: 2, head_dim: 4, vocab_size: 8, intermediate_size: 32,
    rope_theta: 1000000, rms_norm_eps: 1e-6, max_position_embeddings: 128, tie_word_embeddings: tie, attention_bias: architecture === 'qwen2',
    bos_token_id: null, eos_token_id: null,
  };
}

/** Row r of every tensor holds the value r·1000 + column, so a row permutation is visible in the bytes. */
function f32Rows(rows: number, cols: number): Uint8Array {
  const a = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) a[r * cols + c] = r * 1000 + c;
  return new Uint8Array(a.buffer);
}

function bundle(architecture: 'llama' | 'qwen2', tie = false): ModelBundle {
  const s = new MemoryTensorStore();
  const c = config(architecture, tie);
  s.add('model.embed_tokens.weight', 'F32', [8, 16], f32Rows(8, 16));
  s.add('model.layers.0.self_attn.q_proj.weight', 'F32', [16, 16], f32Rows(16, 16));
  s.add('model.layers.0.self_attn.k_proj.weight', 'F32', [8, 16], f32Rows(8, 16));
  s.add('model.layers.0.self_attn.v_proj.weight', 'F32', [8, 16], f32Rows(8, 16));
  if (c.attention_bias) {
    s.add('model.layers.0.self_attn.q_proj.bias', 'F32', [16], f32Rows(16, 1));
    s.add('model.layers.0.self_attn.k_proj.bias', 'F32', [8], f32Rows(8, 1));
  }
  s.add('model.layers.0.mlp.down_proj.weight', 'Q8_0', [16, 32], Uint8Array.from({ length: 16 * 34 }, (_, i) => (i * 7) & 0x7f));
  s.add('model.norm.weight', 'F32', [16], f32Rows(1, 16));
  s.add('lm_head.weight', 'F32', [8, 16], f32Rows(8, 16));
  s.add('rope_freqs.weight', 'F32', [2], f32Rows(1, 2));
  const metadata = JSON.parse(JSON.stringify({
    gguf: { 'general.name': 'Synthetic', 'x.big': '18446744073709551615', 'x.nested': [[1, -2], [3]], 'x.f64': 0.1 },
    gguf_types: { 'general.name': 'string', 'x.big': 'u64', 'x.nested': 'array<array<i32>>', 'x.f64': 'f64' },
  })) as Record<string, unknown>;
  return { config: c, tensors: s, metadata, provenance: [], source: { path: 'synthetic', format: 'memory' } };
}

/** numpy: w.reshape(n_head, 2, rows/n_head/2, cols).swapaxes(1, 2).reshape(rows, cols), as nested loops. */
function numpyPermute(bytes: Uint8Array, rows: number, cols: number, nHead: number): Uint8Array {
  const w = new Float32Array(bytes.slice().buffer), out = new Float32Array(w.length), half = rows / nHead / 2;
  let k = 0;
  for (let h = 0; h < nHead; h++) for (let b = 0; b < half; b++) for (let a = 0; a < 2; a++) for (let c = 0; c < cols; c++) out[k++] = w[((h * 2 + a) * half + b) * cols + c]!;
  return new Uint8Array(out.buffer);
}

describe('bundle ↔ GGUF tensor conventions', () => {
  it('llama: Q/K rows are permuted as convert_hf_to_gguf.py does, others are not; dims are reversed', () => {
    const b = bundle('llama');
    const path = join(dir, 'llama.gguf');
    writeGgufBundle(b, path);
    const f = readGguf(path);
    const get = (n: string): Uint8Array => f.read(f.tensors.find((t) => t.name === n)!);
    expect(f.tensors.find((t) => t.name === 'blk.0.attn_q.weight')?.dims).toEqual([16, 16]);
    expect(f.tensors.find((t) => t.name === 'blk.0.attn_k.weight')?.dims).toEqual([16, 8]);
    expect(get('blk.0.attn_q.weight')).toEqual(numpyPermute(f32Rows(16, 16), 16, 16, 4));
    expect(get('blk.0.attn_k.weight')).toEqual(numpyPermute(f32Rows(8, 16), 8, 16, 2));
    expect(get('blk.0.attn_k.weight')).not.toEqual(f32Rows(8, 16));
    expect(get('blk.0.attn_v.weight')).toEqual(f32Rows(8, 16));
    expect(get('rope_freqs.weight')).toEqual(f32Rows(1, 2));
    f.close();
  });

  it('qwen2: nothing is permuted, biases map to attn_q/attn_k.bias', () => {
    const path = join(dir, 'qwen2.gguf');
    writeGgufBundle(bundle('qwen2'), path);
    const f = readGguf(path);
    const get = (n: string): Uint8Array => f.read(f.tensors.find((t) => t.name === n)!);
    expect(get('blk.0.attn_q.weight')).toEqual(f32Rows(16, 16));
    expect(get('blk.0.attn_k.bias')).toEqual(f32Rows(8, 1));
    expect(f.kv.get('general.architecture')).toEqual({ type: 'string', value: 'qwen2' });
    expect(f.kv.get('qwen2.rope.freq_base')).toEqual({ type: 'f32', value: 1000000 });
    f.close();
  });

  for (const [arch, tie] of [['llama', false], ['qwen2', false], ['llama', true]] as const) {
    it(`${arch}${tie ? ' (tied)' : ''}: write then read gives back the same config, tensors and typed metadata`, () => {
      const b = bundle(arch, tie);
      const path = join(dir, `rt-${arch}-${tie}.gguf`);
      writeGgufBundle(b, path);
      const r = readGgufBundle(path);
      expect(r.config).toEqual(b.config);
      const expected = b.tensors.names().filter((n) => !(tie && n === 'lm_head.weight'));
      expect([...r.tensors.names()].sort()).toEqual([...expected].sort());
      for (const n of expected) {
        const x = r.tensors.get(n)!, y = b.tensors.get(n)!;
        expect([n, x.dtype, x.shape, x.read()]).toEqual([n, y.dtype, y.shape, y.read()]);
      }
      const f = readGguf(path);
      expect(f.kv.get('x.big')).toEqual({ type: 'u64', value: (1n << 64n) - 1n });
      expect(f.kv.get('x.nested')).toEqual({ type: 'array', itemType: 'array', value: [{ type: 'array', itemType: 'i32', value: [1, -2] }, { type: 'array', itemType: 'i32', value: [3] }] });
      expect(f.kv.get('general.file_type')).toEqual({ type: 'u32', value: 0 });
      f.close();
      r.tensors.close();
    });
  }

  it('a non-default alignment is written and kept through a re-export', () => {
    const first = join(dir, 'align64.gguf'), second = join(dir, 'align64-again.gguf');
    writeGgufBundle(bundle('llama'), first, { alignment: 64 });
    const r = readGgufBundle(first);
    writeGgufBundle(r, second);
    r.tensors.close();
    for (const path of [first, second]) {
      const f = readGguf(path);
      expect([f.alignment, f.dataOffset % 64, f.tensors.every((t) => t.offset % 64 === 0)]).toEqual([64, 0, true]);
      f.close();
    }
  });

  it('name mapping is a bijection on the llama/qwen2 names', () => {
    const hf = ['model.embed_tokens.weight', 'model.norm.weight', 'lm_head.weight'];
    for (const p of ['self_attn.q_proj', 'self_attn.k_proj', 'self_attn.v_proj', 'self_attn.o_proj', 'mlp.gate_proj', 'mlp.up_proj', 'mlp.down_proj', 'input_layernorm', 'post_attention_layernorm']) hf.push(`model.layers.12.${p}.weight`);
    const g = hf.map((n) => ggufNameFromHf(n));
    expect(g).toEqual(['token_embd.weight', 'output_norm.weight', 'output.weight', ...['attn_q', 'attn_k', 'attn_v', 'attn_output', 'ffn_gate', 'ffn_up', 'ffn_down', 'attn_norm', 'ffn_norm'].map((p) => `blk.12.${p}.weight`)]);
    expect(g.map((n) => hfNameFromGguf(n!))).toEqual(hf);
    expect(hfNameFromGguf('blk.0.attn_qkv.weight')).toBeUndefined();
  });

  it('rejects an unsupported architecture and a missing hyper-parameter with a FormatError', () => {
    const path = join(dir, 'gpt2.gguf');
    writeGguf(path, new Map([['general.architecture', { type: 'string', value: 'gpt2' }]]), []);
    expect(() => readGgufBundle(path)).toThrow(/general\.architecture: unsupported architecture "gpt2"/);
    writeGguf(path, new Map([['general.architecture', { type: 'string', value: 'llama' }], ['llama.embedding_length', { type: 'u32', value: 16 }]]), []);
    expect(() => readGgufBundle(path)).toThrow(FormatError);
    expect(() => readGgufBundle(path)).toThrow(/llama\.attention\.head_count: missing/);
  });
});

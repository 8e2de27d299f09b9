import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/errors.js';
import { openModel, writeModel } from '../../src/formats/open.js';
import { mergeModels } from '../../src/ops/merge.js';
import { dequantize } from '../../src/tensor/codecs/index.js';
import { elementCount } from '../../src/tensor/dtype.js';
import { f16ToF32 } from '../../src/tensor/half.js';
import type { TensorRef } from '../../src/tensor/store.js';
import { fixture, tempDir } from '../helpers.js';

const DRAFT = fixture('models/tiny-draft-llama');
const DRAFT_GGUF = fixture('gguf/tiny-draft-llama-f32.gguf');
const CODER = fixture('models/tiny-coder-llama');
const CODER_F32 = fixture('gguf/tiny-coder-llama-f32.gguf');
const CODER_Q8 = fixture('gguf/tiny-coder-llama-Q8_0.gguf');
let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('apr-merge-');
});
afterAll(() => tmp.cleanup());

function tensorBytes(path: string): Map<string, Buffer> {
  const m = openModel(path);
  try {
    return new Map(m.tensors.names().map((n) => [n, Buffer.from(m.tensors.get(n)?.read() ?? [])]));
  } finally {
    m.tensors.close();
  }
}

function floats(t: TensorRef | undefined): Float32Array {
  if (!t) throw new Error('missing tensor');
  return dequantize(t.dtype, t.read(), elementCount(t.shape));
}

const out = (name: string): string => join(tmp.dir, name);

describe('apr merge on tiny-draft-llama', () => {
  it('refuses models with another shape, naming the tensor [ob:merge-refuses-mismatch]', () => {
    const o = out('mismatch.apr');
    expect(() => mergeModels({ models: [DRAFT, CODER], output: o, strategy: 'linear' })).toThrow(FormatError);
    expect(() => mergeModels({ models: [DRAFT, CODER], output: o, strategy: 'linear' })).toThrow(/model\.embed_tokens\.weight: shape \[4096, 256\] does not match \[4096, 128\]/);
    expect(existsSync(o)).toBe(false);
  });

  it('refuses a model whose vocabulary differs, naming the tokenizer [ob:merge-refuses-mismatch]', () => {
    const src = openModel(DRAFT);
    const doc = JSON.parse(src.tokenizer?.json ?? '{}') as { model: { vocab: Record<string, number> } };
    const [a, b] = Object.keys(doc.model.vocab).slice(100, 102) as [string, string];
    [doc.model.vocab[a], doc.model.vocab[b]] = [doc.model.vocab[b] as number, doc.model.vocab[a] as number];
    const swapped = out('swapped.apr');
    writeModel({ ...src, tokenizer: { ...(src.tokenizer ?? { json: '' }), json: JSON.stringify(doc) } }, swapped, 'apr');
    src.tensors.close();
    expect(() => mergeModels({ models: [DRAFT, swapped], output: out('vocab.apr'), strategy: 'linear' })).toThrow(/swapped\.apr: tokenizer: vocabulary differs .*token .* has id/);
  });

  it('keeps the base model’s config, tokenizer, chat template and records provenance [ob:merge-keeps-base]', () => {
    const r = mergeModels({ models: [DRAFT_GGUF, DRAFT], baseModel: DRAFT, output: out('keeps.apr'), strategy: 'task_arithmetic' });
    const base = openModel(DRAFT);
    const m = openModel(r.output);
    expect(m.config).toEqual(base.config);
    expect(m.tokenizer?.json).toBe(base.tokenizer?.json);
    expect(m.tokenizer?.chatTemplate).toBe(base.tokenizer?.chatTemplate);
    const last = m.provenance.at(-1);
    expect(last?.op).toBe('merge');
    expect(last?.options['strategy']).toBe('task_arithmetic');
    expect(last?.inputDigests).toHaveLength(2);
    base.tensors.close();
    m.tensors.close();
  });

  it('is deterministic under --seed and the seed matters for DARE [ob:merge-deterministic]', () => {
    const other = out('shifted.apr');
    const src = openModel(DRAFT);
    // a second model: the base with one layer's up_proj scaled, so DARE has a task vector to drop from
    const up = 'model.layers.1.mlp.up_proj.weight';
    const t = src.tensors.get(up) as TensorRef;
    const scaled = floats(t).map((x) => 1.5 * x);
    writeModel({ ...src, tensors: { names: () => src.tensors.names(), get: (n) => (n === up ? { ...t, read: () => new Uint8Array(scaled.buffer) } : src.tensors.get(n)), close: () => src.tensors.close() } }, other, 'apr');
    src.tensors.close();
    const run = (seed: number, name: string) => tensorBytes(mergeModels({ models: [DRAFT, other], output: out(name), strategy: 'dare_ties', dropRate: 0.5, seed }).output).get(up);
    const a = run(7, 'seed7a.apr');
    expect(a?.equals(run(7, 'seed7b.apr') ?? Buffer.alloc(0))).toBe(true);
    expect(a?.equals(run(8, 'seed8.apr') ?? Buffer.alloc(0))).toBe(false);
  });

  it('dequantizes a quantized input per tensor: f32 ⊕ Q8_0 lies exactly halfway [ob:merge-quantized-inputs]', () => {
    const r = mergeModels({ models: [CODER_F32, CODER_Q8], output: out('q8.apr'), strategy: 'linear' });
    const a = openModel(CODER_F32);
    const q = openModel(CODER_Q8);
    const m = openModel(r.output);
    let quantized = 0;
    for (const n of ['model.layers.2.self_attn.q_proj.weight', 'model.layers.5.mlp.down_proj.weight', 'model.norm.weight']) {
      if (q.tensors.get(n)?.dtype === 'Q8_0') quantized++;
      const x = floats(a.tensors.get(n));
      const y = floats(q.tensors.get(n));
      const z = floats(m.tensors.get(n));
      expect(m.tensors.get(n)?.dtype).toBe('F32');
      z.forEach((v, i) => expect(Math.abs(v - ((x[i] ?? 0) + (y[i] ?? 0)) / 2)).toBeLessThanOrEqual(1e-6));
    }
    expect(quantized).toBe(2);
    for (const b of [a, q, m]) b.tensors.close();
  });

  it('writes f16 or bf16 with --dtype (round to nearest even of the merged value)', () => {
    const r = mergeModels({ models: [DRAFT, DRAFT_GGUF], weights: [0.3, 0.7], output: out('f16.apr'), strategy: 'linear', dtype: 'f16' });
    const m = openModel(r.output);
    const src = openModel(DRAFT);
    const n = 'model.layers.0.self_attn.v_proj.weight';
    const t = m.tensors.get(n) as TensorRef;
    expect(t.dtype).toBe('F16');
    const halves = new Uint16Array(t.read().slice().buffer);
    const x = floats(src.tensors.get(n));
    halves.forEach((h, i) => expect(Math.abs(f16ToF32(h) - (x[i] ?? 0))).toBeLessThanOrEqual(Math.abs(x[i] ?? 0) * 2 ** -11 + 2 ** -25));
    m.tensors.close();
    src.tensors.close();
  });

  it('refuses a method with the wrong number of models and unknown options', () => {
    expect(() => mergeModels({ models: [DRAFT, DRAFT_GGUF], output: out('ms.apr'), strategy: 'model_stock' })).toThrow(/model_stock merges at least 2 model\(s\) besides the base, got 1/);
    expect(() => mergeModels({ models: [DRAFT], output: out('x.apr'), strategy: 'nope' })).toThrow(/unknown merge method 'nope'/);
    expect(() => mergeModels({ models: [DRAFT, DRAFT_GGUF], output: out('x.apr'), strategy: 'linear', weights: [1] })).toThrow(/--weights: 1 weights for 2 models/);
    expect(() => mergeModels({ models: [DRAFT, DRAFT_GGUF], output: out('x.apr'), strategy: 'linear', dtype: 'int4' })).toThrow(/--dtype/);
    expect(() => mergeModels({ models: [DRAFT, DRAFT_GGUF], output: DRAFT_GGUF, strategy: 'linear' })).toThrow(/output is not an input/);
  });

  it('reports peak memory and the largest tensor', () => {
    const r = mergeModels({ models: [DRAFT, DRAFT_GGUF], output: out('mem.apr'), strategy: 'linear' });
    expect(r.largest_tensor_f32_bytes).toBe(4096 * 128 * 4);
    expect(r.peak_rss_bytes).toBeGreaterThan(r.largest_tensor_f32_bytes);
    expect(r.parameters).toBe(819_840);
  });
});

it('writes GGUF and SafeTensors too: tiny-coder-llama merged with itself is byte-identical in each format', () => {
  for (const [file, format] of [['self.gguf', 'gguf'], ['self-st', 'safetensors']] as const) {
    const r = mergeModels({ models: [CODER, CODER_F32], output: out(file), strategy: 'slerp', t: [0.3], format });
    const got = tensorBytes(r.output);
    for (const [n, b] of tensorBytes(CODER)) expect(got.get(n)?.equals(b), `${format} ${n}`).toBe(true);
  }
});

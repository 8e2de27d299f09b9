/**
 * llama-quantize's tensor selection. The dtypes of llama.cpp's own Q8_0 / Q4_0 / Q6_K / Q4_K_M files of
 * tiny-coder-llama (made by llama-quantize at the commit the port follows) are the reference; the rules that
 * 6 layers do not exercise (tied embeddings, row lengths that need a fallback, q4_k_s) are checked on small
 * synthetic bundles here and against llama-quantize itself in test/golden/quant-llama-quantize.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { readGgufBundle } from '../../src/formats/gguf/index.js';
import type { ArchConfig, ModelBundle } from '../../src/tensor/bundle.js';
import { type DType, byteSize } from '../../src/tensor/dtype.js';
import { planBundle } from '../../src/tensor/quant/model.js';
import { useMoreBits } from '../../src/tensor/quant/recipes.js';
import { MemoryTensorStore } from '../../src/tensor/store.js';
import { fixture } from '../helpers.js';

function dtypes(b: ModelBundle): Record<string, DType> {
  const out: Record<string, DType> = {};
  for (const n of b.tensors.names()) out[n] = b.tensors.get(n)?.dtype ?? 'F32';
  return out;
}

describe('tensor selection = llama-quantize\'s on tiny-coder-llama', () => {
  const f32 = readGgufBundle(fixture('gguf', 'tiny-coder-llama-f32.gguf'));
  for (const [scheme, file] of [['q8_0', 'Q8_0'], ['q4_0', 'Q4_0'], ['q6_k', 'Q6_K'], ['q4_k_m', 'Q4_K_M']] as const) {
    it(`${scheme}: every tensor gets the dtype it has in llama.cpp's ${file} file [ob:quantize-selection-llama]`, () => {
      const theirs = readGgufBundle(fixture('gguf', `tiny-coder-llama-${file}.gguf`));
      const plan = planBundle(f32, scheme);
      const ours = Object.fromEntries(plan.entries.map((e) => [e.name, e.to]));
      expect(ours).toEqual(dtypes(theirs));
      theirs.tensors.close();
    });
  }

  it('q4_k_m promotes attn_v and ffn_down of layers 2 and 5 (use_more_bits for 6 layers) and output to Q6_K', () => {
    const plan = planBundle(f32, 'q4_k_m');
    const q6 = plan.entries.filter((e) => e.to === 'Q6_K').map((e) => e.name).sort();
    expect(q6).toEqual(['lm_head.weight', 'model.layers.2.mlp.down_proj.weight', 'model.layers.2.self_attn.v_proj.weight', 'model.layers.5.mlp.down_proj.weight', 'model.layers.5.self_attn.v_proj.weight']);
    expect(plan.ftype).toBe(15);
  });

  it('--pure gives every 2-D weight the base type and keeps 1-D tensors F32', () => {
    const plan = planBundle(f32, 'q4_k_m', { pure: true });
    expect(new Set(plan.entries.filter((e) => e.shape.length === 2).map((e) => e.to))).toEqual(new Set(['Q4_K']));
    expect(new Set(plan.entries.filter((e) => e.shape.length === 1).map((e) => e.to))).toEqual(new Set(['F32']));
  });

  it('sizes and bits per weight add up (Q8_0: 34 bytes per 32 weights)', () => {
    const plan = planBundle(f32, 'q8_0');
    const quantized = plan.entries.filter((e) => e.to === 'Q8_0');
    expect(plan.quantizedBitsPerWeight).toBe(8.5);
    expect(plan.bytes).toBe(plan.entries.reduce((s, e) => s + byteSize(e.to, e.shape), 0));
    expect(quantized.length).toBe(44);
    expect(plan.sourceBytes).toBe(4 * plan.parameters);
  });
});

const CONFIG: ArchConfig = {
  architecture: 'llama', hidden_size: 320, num_layers: 8, num_heads: 5, num_kv_heads: 5, head_dim: 64, vocab_size: 64,
  intermediate_size: 512, rope_theta: 10000, rms_norm_eps: 1e-5, max_position_embeddings: 128, tie_word_embeddings: false, attention_bias: false,
};

/** A bundle of F32 refs with llama's tensor names (the bytes are never read by the planner). */
function synthetic(config: ArchConfig, withHead: boolean): ModelBundle {
  const store = new MemoryTensorStore();
  const add = (name: string, shape: number[]): void => store.addRef({ name, dtype: 'F32', shape, byteLength: byteSize('F32', shape), read: () => new Uint8Array(0) });
  const h = config.hidden_size, ff = config.intermediate_size;
  add('model.embed_tokens.weight', [config.vocab_size, h]);
  if (withHead) add('lm_head.weight', [config.vocab_size, h]);
  add('model.norm.weight', [h]);
  for (let i = 0; i < config.num_layers; i++) {
    for (const p of ['q_proj', 'k_proj', 'v_proj', 'o_proj']) add(`model.layers.${i}.self_attn.${p}.weight`, [h, h]);
    add(`model.layers.${i}.mlp.gate_proj.weight`, [ff, h]);
    add(`model.layers.${i}.mlp.up_proj.weight`, [ff, h]);
    add(`model.layers.${i}.mlp.down_proj.weight`, [h, ff]);
    add(`model.layers.${i}.input_layernorm.weight`, [h]);
  }
  return { config, tensors: store, metadata: {}, provenance: [], source: { path: 'synthetic', format: 'memory' } };
}

function typeOf(plan: ReturnType<typeof planBundle>, name: string): DType | undefined {
  return plan.entries.find((e) => e.name === name)?.to;
}

describe('llama.cpp rules beyond the fixture', () => {
  it('use_more_bits(i, n) = i < n/8 ∨ i ≥ 7n/8 ∨ (i − n/8) mod 3 = 2', () => {
    expect([0, 1, 2, 3, 4, 5].filter((i) => useMoreBits(i, 6))).toEqual([2, 5]);
    expect([...Array(8).keys()].filter((i) => useMoreBits(i, 8))).toEqual([0, 3, 6, 7]);
    expect([...Array(32).keys()].filter((i) => useMoreBits(i, 32))).toEqual([0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]);
  });

  it('rows of 320 values: Q4_K falls back to Q5_0, the Q6_K output to Q8_0; 512-value rows keep K-quants', () => {
    const plan = planBundle(synthetic(CONFIG, true), 'q4_k_m');
    expect(typeOf(plan, 'model.layers.1.self_attn.q_proj.weight')).toBe('Q5_0');
    expect(typeOf(plan, 'lm_head.weight')).toBe('Q8_0');
    expect(typeOf(plan, 'model.layers.1.mlp.down_proj.weight')).toBe('Q4_K');
    expect(typeOf(plan, 'model.layers.3.mlp.down_proj.weight')).toBe('Q6_K');
    expect(typeOf(plan, 'model.layers.3.self_attn.v_proj.weight')).toBe('Q8_0'); // Q6_K by use_more_bits, then the fallback
    expect(typeOf(plan, 'model.norm.weight')).toBe('F32');
  });

  it('tied embeddings (no lm_head): token_embd is treated as the output tensor', () => {
    const cfg = { ...CONFIG, hidden_size: 256, head_dim: 64, num_heads: 4, num_kv_heads: 4, tie_word_embeddings: true };
    expect(typeOf(planBundle(synthetic(cfg, false), 'q4_k_m'), 'model.embed_tokens.weight')).toBe('Q6_K');
    expect(typeOf(planBundle(synthetic(cfg, false), 'q8_0'), 'model.embed_tokens.weight')).toBe('Q8_0');
    expect(typeOf(planBundle(synthetic({ ...cfg, tie_word_embeddings: false }, true), 'q4_k_m'), 'model.embed_tokens.weight')).toBe('Q4_K');
  });

  it('q4_k_s: the first four attn_v get Q5_K, ffn_down of layers i < n/8 get Q5_K', () => {
    const cfg = { ...CONFIG, hidden_size: 256, head_dim: 64, num_heads: 4, num_kv_heads: 4 };
    const plan = planBundle(synthetic(cfg, true), 'q4_k_s');
    expect([...Array(8).keys()].map((i) => typeOf(plan, `model.layers.${i}.self_attn.v_proj.weight`))).toEqual(['Q5_K', 'Q5_K', 'Q5_K', 'Q5_K', 'Q4_K', 'Q4_K', 'Q4_K', 'Q4_K']);
    expect([...Array(8).keys()].map((i) => typeOf(plan, `model.layers.${i}.mlp.down_proj.weight`))).toEqual(['Q5_K', 'Q4_K', 'Q4_K', 'Q4_K', 'Q4_K', 'Q4_K', 'Q4_K', 'Q4_K']);
    expect(plan.ftype).toBe(14);
  });

  it('our schemes: nf4 / int4 / int8 / f16 on every 2-D weight, F16 when the row does not split into blocks', () => {
    const plan = planBundle(synthetic(CONFIG, true), 'nf4');
    expect(typeOf(plan, 'model.layers.0.self_attn.q_proj.weight')).toBe('NF4');
    expect(typeOf(plan, 'lm_head.weight')).toBe('NF4');
    expect(typeOf(plan, 'model.norm.weight')).toBe('F32');
    const odd = { ...CONFIG, hidden_size: 96, head_dim: 32, num_heads: 3, num_kv_heads: 3 };
    expect(typeOf(planBundle(synthetic(odd, true), 'nf4'), 'model.layers.0.self_attn.q_proj.weight')).toBe('F16');
    expect(typeOf(planBundle(synthetic(odd, true), 'int4'), 'model.layers.0.self_attn.q_proj.weight')).toBe('APR_Q4');
    expect(typeOf(planBundle(synthetic(odd, true), 'int8'), 'lm_head.weight')).toBe('APR_Q8');
    expect(planBundle(synthetic(odd, true), 'int8').ftype).toBeUndefined();
    expect(typeOf(planBundle(synthetic(odd, true), 'f16'), 'lm_head.weight')).toBe('F16');
  });
});

/**
 * llama-quantize's tensor selection for Q2_K and Q3_K_S / Q3_K_M / Q3_K_L (llama_tensor_get_type_impl in
 * llama.cpp src/llama-quant.cpp, written out here by hand from its branches for a llama model that is not
 * Falcon, 70B or mixture-of-experts), on synthetic bundles whose layer counts and head ratios reach every
 * branch. The same schemes are compared tensor by tensor against llama-quantize itself in
 * test/golden/quant-llama-q23.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { ArchConfig, ModelBundle } from '../../src/tensor/bundle.js';
import { type DType, byteSize } from '../../src/tensor/dtype.js';
import { planBundle } from '../../src/tensor/quant/model.js';
import { SCHEMES } from '../../src/tensor/quant/recipes.js';
import { MemoryTensorStore } from '../../src/tensor/store.js';

const CONFIG: ArchConfig = {
  architecture: 'llama', hidden_size: 256, num_layers: 32, num_heads: 4, num_kv_heads: 4, head_dim: 64, vocab_size: 64,
  intermediate_size: 512, rope_theta: 10000, rms_norm_eps: 1e-5, max_position_embeddings: 128, tie_word_embeddings: false, attention_bias: false,
};

/** A bundle of F32 refs with Hugging Face llama names (the planner never reads the bytes). */
function synthetic(config: ArchConfig): ModelBundle {
  const store = new MemoryTensorStore();
  const add = (name: string, shape: number[]): void => store.addRef({ name, dtype: 'F32', shape, byteLength: byteSize('F32', shape), read: () => new Uint8Array(0) });
  const h = config.hidden_size, ff = config.intermediate_size, kv = Math.round((h * config.num_kv_heads) / config.num_heads);
  add('model.embed_tokens.weight', [config.vocab_size, h]);
  add('lm_head.weight', [config.vocab_size, h]);
  add('model.norm.weight', [h]);
  for (let i = 0; i < config.num_layers; i++) {
    add(`model.layers.${i}.self_attn.q_proj.weight`, [h, h]);
    add(`model.layers.${i}.self_attn.k_proj.weight`, [kv, h]);
    add(`model.layers.${i}.self_attn.v_proj.weight`, [kv, h]);
    add(`model.layers.${i}.self_attn.o_proj.weight`, [h, h]);
    add(`model.layers.${i}.mlp.gate_proj.weight`, [ff, h]);
    add(`model.layers.${i}.mlp.up_proj.weight`, [ff, h]);
    add(`model.layers.${i}.mlp.down_proj.weight`, [h, ff]);
    add(`model.layers.${i}.input_layernorm.weight`, [h]);
  }
  return { config, tensors: store, metadata: {}, provenance: [], source: { path: 'synthetic', format: 'memory' } };
}

/** The dtype of `part` in every layer, and of the other roles once. */
function types(config: ArchConfig, scheme: keyof typeof SCHEMES) {
  const plan = planBundle(synthetic(config), scheme);
  const of = (n: string): DType | undefined => plan.entries.find((e) => e.name === n)?.to;
  const layers = (part: string): (DType | undefined)[] => [...Array(config.num_layers).keys()].map((i) => of(`model.layers.${i}.${part}.weight`));
  return { plan, of, layers };
}

const all = (t: DType, n = 32): DType[] => Array<DType>(n).fill(t);

describe('Q2_K / Q3_K mixtures (llama_tensor_get_type_impl)', () => {
  it('q2_k: attn_v Q3_K (n_gqa < 4), ffn_down and attn_output Q3_K, output Q6_K, the rest Q2_K; ftype 10', () => {
    const { plan, of, layers } = types(CONFIG, 'q2_k');
    expect(layers('self_attn.v_proj')).toEqual(all('Q3_K'));
    expect(layers('mlp.down_proj')).toEqual(all('Q3_K'));
    expect(layers('self_attn.o_proj')).toEqual(all('Q3_K'));
    expect(layers('self_attn.q_proj')).toEqual(all('Q2_K'));
    expect(layers('mlp.up_proj')).toEqual(all('Q2_K'));
    expect([of('lm_head.weight'), of('model.embed_tokens.weight'), of('model.norm.weight')]).toEqual(['Q6_K', 'Q2_K', 'F32']);
    expect(plan.ftype).toBe(10);
  });

  it('q2_k: attn_v Q4_K when n_head / n_head_kv ≥ 4 (grouped-query attention)', () => {
    expect(types({ ...CONFIG, num_heads: 8, num_kv_heads: 2, head_dim: 32 }, 'q2_k').layers('self_attn.v_proj')).toEqual(all('Q4_K'));
    expect(types({ ...CONFIG, num_heads: 6, num_kv_heads: 2 }, 'q2_k').layers('self_attn.v_proj')).toEqual(all('Q3_K'));
  });

  it('q3_k_s: Q3_K everywhere but the output (Q6_K); ftype 11', () => {
    const { plan, of, layers } = types(CONFIG, 'q3_k_s');
    for (const part of ['self_attn.v_proj', 'self_attn.o_proj', 'mlp.down_proj', 'mlp.gate_proj']) expect(layers(part)).toEqual(all('Q3_K'));
    expect(of('lm_head.weight')).toBe('Q6_K');
    expect(plan.ftype).toBe(11);
  });

  it('q3_k_m: attn_v Q5_K for the first two then Q4_K, ffn_down Q5_K for i < n/16 then Q4_K, attn_output Q4_K; ftype 12', () => {
    const { plan, layers } = types(CONFIG, 'q3_k_m');
    expect(layers('self_attn.v_proj')).toEqual([...all('Q5_K', 2), ...all('Q4_K', 30)]);
    expect(layers('mlp.down_proj')).toEqual([...all('Q5_K', 2), ...all('Q4_K', 30)]);
    expect(layers('self_attn.o_proj')).toEqual(all('Q4_K'));
    expect(layers('self_attn.k_proj')).toEqual(all('Q3_K'));
    expect(plan.ftype).toBe(12);
    expect(types({ ...CONFIG, num_layers: 6 }, 'q3_k_m').layers('mlp.down_proj')).toEqual(all('Q4_K', 6)); // 6/16 = 0
    expect(SCHEMES.q3_k).toEqual({ ...SCHEMES.q3_k_m, description: SCHEMES.q3_k.description });
  });

  it('q3_k_l: attn_v, ffn_down and attn_output Q5_K; ftype 13', () => {
    const { plan, layers } = types(CONFIG, 'q3_k_l');
    for (const part of ['self_attn.v_proj', 'self_attn.o_proj', 'mlp.down_proj']) expect(layers(part)).toEqual(all('Q5_K'));
    expect(layers('self_attn.q_proj')).toEqual(all('Q3_K'));
    expect(plan.ftype).toBe(13);
  });

  it('rows of 320 values: Q2_K and Q3_K fall back to Q4_0 (tensor_type_fallback), Q5_K to Q5_1', () => {
    const cfg = { ...CONFIG, hidden_size: 320, num_heads: 5, num_kv_heads: 5, num_layers: 4 };
    const q2 = types(cfg, 'q2_k'), q3 = types(cfg, 'q3_k_l');
    expect(q2.layers('self_attn.q_proj')).toEqual(all('Q4_0', 4));
    expect(q3.layers('self_attn.o_proj')).toEqual(all('Q5_1', 4));
    expect(q3.layers('mlp.down_proj')).toEqual(all('Q5_K', 4)); // 512-value rows
    expect(q2.of('lm_head.weight')).toBe('Q8_0');
  });
});

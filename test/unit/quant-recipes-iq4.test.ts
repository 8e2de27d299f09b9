/**
 * llama-quantize's tensor selection for IQ4_NL (ftype 25) and IQ4_XS (ftype 30), written out here by hand from
 * llama_tensor_get_type_impl / tensor_type_fallback (llama.cpp src/llama-quant.cpp) for a llama model that is
 * not Falcon, 70B or mixture-of-experts:
 *   output (and tied token_embd) → Q6_K, or Q8_0 when the scheme's block does not divide its rows;
 *   attn_v → Q5_K when n_head / n_head_kv ≥ 4;  ffn_down of layer i < n/8 → Q5_K unless an imatrix is used;
 *   a row length 256 does not divide: IQ4_XS → IQ4_NL, Q5_K → Q5_1.
 * The same schemes are compared tensor by tensor with llama-quantize in test/golden/quant-llama-iq4.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { ArchConfig, ModelBundle } from '../../src/tensor/bundle.js';
import { type DType, byteSize } from '../../src/tensor/dtype.js';
import { planBundle } from '../../src/tensor/quant/model.js';
import { SCHEMES } from '../../src/tensor/quant/recipes.js';
import { MemoryTensorStore } from '../../src/tensor/store.js';

function config(layers: number, heads: number, kvHeads: number, hidden: number, tied: boolean): ArchConfig {
  return {
    architecture: 'llama', hidden_size: hidden, num_layers: layers, num_heads: heads, num_kv_heads: kvHeads, head_dim: hidden / heads, vocab_size: 64,
    intermediate_size: 2 * hidden, rope_theta: 10000, rms_norm_eps: 1e-5, max_position_embeddings: 128, tie_word_embeddings: tied, attention_bias: false,
  };
}

/** F32 refs with Hugging Face llama names (the planner never reads the bytes). */
function bundle(c: ArchConfig): ModelBundle {
  const store = new MemoryTensorStore();
  const add = (name: string, shape: number[]): void => store.addRef({ name, dtype: 'F32', shape, byteLength: byteSize('F32', shape), read: () => new Uint8Array(0) });
  const h = c.hidden_size, kv = c.num_kv_heads * c.head_dim;
  add('model.embed_tokens.weight', [c.vocab_size, h]);
  if (!c.tie_word_embeddings) add('lm_head.weight', [c.vocab_size, h]);
  add('model.norm.weight', [h]);
  for (let i = 0; i < c.num_layers; i++) {
    const p = `model.layers.${i}`;
    for (const [n, shape] of [['self_attn.q_proj', [h, h]], ['self_attn.k_proj', [kv, h]], ['self_attn.v_proj', [kv, h]], ['self_attn.o_proj', [h, h]], ['mlp.gate_proj', [2 * h, h]], ['mlp.up_proj', [2 * h, h]], ['mlp.down_proj', [h, 2 * h]]] as const) add(`${p}.${n}.weight`, [...shape]);
    add(`${p}.input_layernorm.weight`, [h]);
  }
  return { config: c, tensors: store, metadata: {}, provenance: [], source: { path: 'synthetic', format: 'memory' } };
}

function plan(c: ArchConfig, scheme: 'iq4_nl' | 'iq4_xs', imatrix = false) {
  const p = planBundle(bundle(c), scheme, { imatrix });
  const of = (n: string): DType | undefined => p.entries.find((e) => e.name === n)?.to;
  const layers = (part: string): (DType | undefined)[] => [...Array(c.num_layers).keys()].map((i) => of(`model.layers.${i}.${part}.weight`));
  return { p, of, layers };
}

describe('iq4_nl / iq4_xs tensor selection (llama.cpp mixture rules)', () => {
  it('schemes carry llama.cpp\'s ftypes and base types', () => {
    expect(SCHEMES.iq4_nl).toMatchObject({ base: 'IQ4_NL', ftype: 25 });
    expect(SCHEMES.iq4_xs).toMatchObject({ base: 'IQ4_XS', ftype: 30 });
  });

  it('16 layers, GQA 4, 256-wide: attn_v Q5_K, ffn_down 0–1 Q5_K, output Q6_K, the rest the base type', () => {
    for (const [scheme, base] of [['iq4_nl', 'IQ4_NL'], ['iq4_xs', 'IQ4_XS']] as const) {
      const { p, of, layers } = plan(config(16, 8, 2, 256, false), scheme);
      expect(p.ftype).toBe(SCHEMES[scheme].ftype);
      expect(layers('self_attn.v_proj')).toEqual(Array(16).fill('Q5_K'));
      expect(layers('mlp.down_proj')).toEqual([...Array(2).fill('Q5_K'), ...Array(14).fill(base)]);
      expect(layers('self_attn.k_proj')).toEqual(Array(16).fill(base));
      expect(of('lm_head.weight')).toBe('Q6_K');
      expect(of('model.embed_tokens.weight')).toBe(base);
      expect(of('model.norm.weight')).toBe('F32');
    }
  });

  it('GQA 2 keeps attn_v; with an importance matrix ffn_down keeps the base type', () => {
    const { layers } = plan(config(16, 8, 4, 256, false), 'iq4_nl', true);
    expect(layers('self_attn.v_proj')).toEqual(Array(16).fill('IQ4_NL'));
    expect(layers('mlp.down_proj')).toEqual(Array(16).fill('IQ4_NL'));
  });

  it('128-wide rows, tied: IQ4_XS falls back to IQ4_NL, Q5_K to Q5_1, the tied embedding to Q8_0 (256 does not divide 128)', () => {
    const xs = plan(config(8, 4, 1, 128, true), 'iq4_xs');
    expect(xs.layers('self_attn.q_proj')).toEqual(Array(8).fill('IQ4_NL'));
    expect(xs.layers('self_attn.v_proj')).toEqual(Array(8).fill('Q5_1'));
    expect(xs.layers('mlp.down_proj')).toEqual(['Q5_K', ...Array(7).fill('IQ4_XS')]);
    expect(xs.of('model.embed_tokens.weight')).toBe('Q8_0');
    const nl = plan(config(8, 4, 1, 128, true), 'iq4_nl');
    expect(nl.of('model.embed_tokens.weight')).toBe('Q8_0');
  });
});

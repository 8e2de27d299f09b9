import type { ArchConfig, ModelBundle } from '../../src/tensor/bundle.js';
import { dequantize } from '../../src/tensor/codecs/index.js';
import type { DType } from '../../src/tensor/dtype.js';
import { f32ToF16 } from '../../src/tensor/half.js';
import { MemoryTensorStore } from '../../src/tensor/store.js';

/** Helpers for tests that build small random-weight decoders in memory. */

export function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** ggml Q8_0 encoding: per 32 values d = max|x|/127 (stored f16), q = round(x/d). */
function quantizeQ8_0(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 34);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]!));
    const d = amax / 127;
    const h = f32ToF16(d);
    out[b * 34] = h & 0xff;
    out[b * 34 + 1] = h >> 8;
    for (let j = 0; j < 32; j++) out[b * 34 + 2 + j] = (d === 0 ? 0 : Math.round(x[b * 32 + j]! / d)) & 0xff;
  }
  return out;
}

function encode(dtype: DType, x: Float32Array): Uint8Array {
  if (dtype === 'F32') return new Uint8Array(x.buffer.slice(0));
  if (dtype === 'F16') {
    const h = new Uint16Array(x.length);
    x.forEach((v, i) => (h[i] = f32ToF16(v)));
    return new Uint8Array(h.buffer);
  }
  if (dtype === 'Q8_0') return quantizeQ8_0(x);
  throw new Error(`test helper cannot encode ${dtype}`);
}

export interface RandomModel {
  bundle: ModelBundle;
  /** The weights as the model will see them (after encoding and decoding), by HF name. */
  weights: Map<string, { shape: number[]; data: Float32Array }>;
}

/**
 * A random decoder. Matrices are stored in `dtype` (norms and biases always F32); `weights` holds the
 * decoded values, which an independent reference computes with.
 */
export function randomModel(config: ArchConfig, seed: number, dtype: DType = 'F32'): RandomModel {
  const rnd = lcg(seed);
  const store = new MemoryTensorStore();
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  const put = (name: string, shape: number[], scale: number, center = 0, dt: DType = 'F32'): void => {
    const x = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < x.length; i++) x[i] = center + (rnd() - 0.5) * 2 * scale;
    const bytes = encode(dt, x);
    store.add(name, dt, shape, bytes);
    weights.set(name, { shape, data: dt === 'F32' ? x : dequantize(dt, bytes, x.length) });
  };
  const c = config;
  const H = c.hidden_size;
  const qd = c.num_heads * c.head_dim;
  const kvd = c.num_kv_heads * c.head_dim;
  put('model.embed_tokens.weight', [c.vocab_size, H], 1, 0, dtype);
  for (let l = 0; l < c.num_layers; l++) {
    const p = `model.layers.${l}`;
    put(`${p}.input_layernorm.weight`, [H], 0.2, 1);
    put(`${p}.post_attention_layernorm.weight`, [H], 0.2, 1);
    put(`${p}.self_attn.q_proj.weight`, [qd, H], 0.3, 0, dtype);
    put(`${p}.self_attn.k_proj.weight`, [kvd, H], 0.3, 0, dtype);
    put(`${p}.self_attn.v_proj.weight`, [kvd, H], 0.3, 0, dtype);
    put(`${p}.self_attn.o_proj.weight`, [H, qd], 0.2, 0, dtype);
    if (c.attention_bias) {
      put(`${p}.self_attn.q_proj.bias`, [qd], 0.5);
      put(`${p}.self_attn.k_proj.bias`, [kvd], 0.5);
      put(`${p}.self_attn.v_proj.bias`, [kvd], 0.5);
    }
    put(`${p}.mlp.gate_proj.weight`, [c.intermediate_size, H], 0.2, 0, dtype);
    put(`${p}.mlp.up_proj.weight`, [c.intermediate_size, H], 0.2, 0, dtype);
    put(`${p}.mlp.down_proj.weight`, [H, c.intermediate_size], 0.2, 0, dtype);
  }
  put('model.norm.weight', [H], 0.2, 1);
  if (!c.tie_word_embeddings) put('lm_head.weight', [c.vocab_size, H], 0.3, 0, dtype);
  const bundle: ModelBundle = { config, tensors: store, metadata: {}, provenance: [], source: { path: `memory:random-${c.architecture}`, format: 'memory' } };
  return { bundle, weights };
}

export const QWEN2_SMALL: ArchConfig = {
  architecture: 'qwen2',
  hidden_size: 64,
  num_layers: 2,
  num_heads: 4,
  num_kv_heads: 2,
  // head_dim ≠ hidden/heads (16): the config value must be used, not derived.
  head_dim: 24,
  vocab_size: 97,
  intermediate_size: 96,
  rope_theta: 1000000,
  rms_norm_eps: 1e-6,
  max_position_embeddings: 128,
  tie_word_embeddings: false,
  attention_bias: true,
};

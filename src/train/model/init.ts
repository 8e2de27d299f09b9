import { Rng } from '../../model/rng.js';
import type { ArchConfig, ModelBundle, TokenizerSpec } from '../../tensor/bundle.js';
import { MemoryTensorStore } from '../../tensor/store.js';
import { LINEAR_MODULES, modulePath } from './params.js';

function shapesOf(c: ArchConfig): [string, number[], 'normal' | 'ones' | 'zeros'][] {
  const H = c.hidden_size;
  const q = c.num_heads * c.head_dim;
  const kv = c.num_kv_heads * c.head_dim;
  const I = c.intermediate_size;
  const dims: Record<string, [number, number]> = {
    q_proj: [q, H], k_proj: [kv, H], v_proj: [kv, H], o_proj: [H, q], gate_proj: [I, H], up_proj: [I, H], down_proj: [H, I],
  };
  const out: [string, number[], 'normal' | 'ones' | 'zeros'][] = [['model.embed_tokens.weight', [c.vocab_size, H], 'normal']];
  for (let i = 0; i < c.num_layers; i++) {
    out.push([`model.layers.${i}.input_layernorm.weight`, [H], 'ones']);
    for (const m of LINEAR_MODULES) {
      const [rows, cols] = dims[m] ?? [0, 0];
      out.push([`${modulePath(i, m)}.weight`, [rows, cols], 'normal']);
      if (c.attention_bias && (m === 'q_proj' || m === 'k_proj' || m === 'v_proj')) out.push([`${modulePath(i, m)}.bias`, [rows], 'zeros']);
    }
    out.push([`model.layers.${i}.post_attention_layernorm.weight`, [H], 'ones']);
  }
  out.push(['model.norm.weight', [H], 'ones']);
  if (!c.tie_word_embeddings) out.push(['lm_head.weight', [c.vocab_size, H], 'normal']);
  return out;
}

/** Box–Muller normal samples N(0, std²) from the seeded generator. */
function normals(rng: Rng, count: number, std: number): Float32Array {
  const x = new Float32Array(count);
  for (let i = 0; i < count; i += 2) {
    const u = 1 - rng.next();
    const v = rng.next();
    const r = std * Math.sqrt(-2 * Math.log(u));
    x[i] = r * Math.cos(2 * Math.PI * v);
    if (i + 1 < count) x[i + 1] = r * Math.sin(2 * Math.PI * v);
  }
  return x;
}

/**
 * A freshly initialised decoder as transformers' `_init_weights` does it (initializer_range 0.02): every
 * matrix N(0, 0.02²), norms ones, biases zeros; F32 in a MemoryTensorStore. Same seed, same weights.
 */
export function initRandomBundle(config: ArchConfig, tokenizer: TokenizerSpec | undefined, seed: number): ModelBundle {
  const rng = new Rng(seed);
  const store = new MemoryTensorStore();
  for (const [name, shape, kind] of shapesOf(config)) {
    const count = shape.reduce((a, b) => a * b, 1);
    const data = kind === 'normal' ? normals(rng, count, 0.02) : new Float32Array(count).fill(kind === 'ones' ? 1 : 0);
    store.add(name, 'F32', shape, new Uint8Array(data.buffer));
  }
  const bundle: ModelBundle = {
    config: { ...config },
    tensors: store,
    metadata: {},
    provenance: [],
    source: { path: `memory:init-${config.architecture}-seed${seed}`, format: 'memory' },
  };
  if (tokenizer) bundle.tokenizer = tokenizer;
  return bundle;
}

import type { ArchConfig } from './bundle.js';

/**
 * What each supported architecture computes differently from Llama, derived from its config: one place
 * that the formats (tensor names, norm offsets), the model (forward pass) and `apr check` (expected tensors)
 * all read. Semantics are those of transformers' modeling files:
 * - qwen3: per-head RMSNorm of q and k (q_norm, k_norm over head_dim) before RoPE; head_dim from the config.
 * - mistral: Llama with a sliding window (query p sees keys j with p − j < sliding_window).
 * - phi3: fused qkv_proj ([q; k; v] rows) and gate_up_proj ([gate; up] rows); RoPE over the first
 *   ⌊head_dim · partial_rotary_factor⌋ dimensions.
 * - gemma2: embeddings × √hidden; RMSNorm gains used as (1 + w); post-attention and post-feedforward norms
 *   (sandwich); GELU-tanh gate; attention scores × query_pre_attn_scalar^−½ then soft-capped; final logits
 *   soft-capped; sliding window on alternating layers (layer_types).
 * - gemma3: Gemma 2 without soft-capping, with (1 + w) q/k norms and a separate RoPE base on sliding layers.
 */
export interface ArchTraits {
  /** q_norm / k_norm per head before RoPE (Qwen3, Gemma 3). */
  readonly qkNorm: boolean;
  /** RMSNorm gains are applied as 1 + w (Gemma). */
  readonly normPlusOne: boolean;
  /** post_attention_layernorm normalises the attention output; pre/post_feedforward_layernorm wrap the MLP (Gemma). */
  readonly sandwichNorms: boolean;
  /** One qkv_proj and one gate_up_proj per layer (Phi-3). */
  readonly fused: boolean;
  readonly activation: 'silu' | 'gelu_tanh';
  /** Embeddings are multiplied by √hidden_size on input (Gemma). */
  readonly embedScale: boolean;
  /** GGUF stores q/k rows in llama.cpp's interleaved RoPE order (llama, mistral). */
  readonly ggufRopePermuted: boolean;
}

const LLAMA: ArchTraits = { qkNorm: false, normPlusOne: false, sandwichNorms: false, fused: false, activation: 'silu', embedScale: false, ggufRopePermuted: true };
const GEMMA: ArchTraits = { ...LLAMA, normPlusOne: true, sandwichNorms: true, activation: 'gelu_tanh', embedScale: true, ggufRopePermuted: false };

const TRAITS: Record<ArchConfig['architecture'], ArchTraits> = {
  llama: LLAMA,
  mistral: LLAMA,
  qwen2: { ...LLAMA, ggufRopePermuted: false },
  qwen3: { ...LLAMA, qkNorm: true, ggufRopePermuted: false },
  phi3: { ...LLAMA, fused: true, ggufRopePermuted: false },
  gemma2: GEMMA,
  gemma3: { ...GEMMA, qkNorm: true },
};

export function archTraits(c: Pick<ArchConfig, 'architecture'>): ArchTraits {
  return TRAITS[c.architecture];
}

/** The attention of one layer: RoPE base and width, and the optional window, soft-cap and score scale. */
export interface LayerAttention {
  readonly theta: number;
  /** Leading dimensions of each head that RoPE rotates (head_dim unless partial rotary). */
  readonly rotaryDim: number;
  readonly window?: number;
  readonly softcap?: number;
  /** Score scale when it is not 1/√head_dim (Gemma's query_pre_attn_scalar^−½). */
  readonly scale?: number;
}

/** Whether layer l uses the sliding window: per layer_types, else every layer when sliding_window is set. */
function isSlidingLayer(c: ArchConfig, l: number): boolean {
  if (c.sliding_window === undefined || c.sliding_window === null) return false;
  return c.layer_types === undefined ? true : c.layer_types[l] === 'sliding_attention';
}

/** RoPE dimensions: ⌊head_dim · partial_rotary_factor⌋ (transformers' rotary_ndims), head_dim by default. */
export function rotaryDim(c: ArchConfig): number {
  return c.partial_rotary_factor === undefined ? c.head_dim : Math.floor(c.head_dim * c.partial_rotary_factor);
}

export function layerAttention(c: ArchConfig, l: number): LayerAttention {
  const sliding = isSlidingLayer(c, l);
  const theta = sliding && c.rope_local_theta !== undefined ? c.rope_local_theta : c.rope_theta;
  const out: { theta: number; rotaryDim: number; window?: number; softcap?: number; scale?: number } = { theta, rotaryDim: rotaryDim(c) };
  if (sliding && typeof c.sliding_window === 'number') out.window = c.sliding_window;
  if (typeof c.attn_logit_softcapping === 'number') out.softcap = c.attn_logit_softcapping;
  if (c.query_pre_attn_scalar !== undefined) out.scale = 1 / Math.sqrt(c.query_pre_attn_scalar);
  return out;
}

/** The per-layer tensors (names after `model.layers.N.`) and canonical [out, in] shapes of the decoder. */
export function layerTensorShapes(c: ArchConfig): [string, number[]][] {
  const t = archTraits(c);
  const H = c.hidden_size;
  const I = c.intermediate_size;
  const q = c.num_heads * c.head_dim;
  const kv = c.num_kv_heads * c.head_dim;
  const out: [string, number[]][] = [['input_layernorm.weight', [H]]];
  if (t.fused) out.push(['self_attn.qkv_proj.weight', [q + 2 * kv, H]]);
  else out.push(['self_attn.q_proj.weight', [q, H]], ['self_attn.k_proj.weight', [kv, H]], ['self_attn.v_proj.weight', [kv, H]]);
  if (c.attention_bias && !t.fused) out.push(['self_attn.q_proj.bias', [q]], ['self_attn.k_proj.bias', [kv]], ['self_attn.v_proj.bias', [kv]]);
  out.push(['self_attn.o_proj.weight', [H, q]]);
  if (t.qkNorm) out.push(['self_attn.q_norm.weight', [c.head_dim]], ['self_attn.k_norm.weight', [c.head_dim]]);
  out.push(['post_attention_layernorm.weight', [H]]);
  if (t.sandwichNorms) out.push(['pre_feedforward_layernorm.weight', [H]], ['post_feedforward_layernorm.weight', [H]]);
  if (t.fused) out.push(['mlp.gate_up_proj.weight', [2 * I, H]]);
  else out.push(['mlp.gate_proj.weight', [I, H]], ['mlp.up_proj.weight', [I, H]]);
  out.push(['mlp.down_proj.weight', [H, I]]);
  return out;
}

/** Every tensor the decoder reads, with its canonical shape (lm_head only when untied). */
export function decoderTensorShapes(c: ArchConfig): Map<string, number[]> {
  const H = c.hidden_size;
  const out = new Map<string, number[]>([
    ['model.embed_tokens.weight', [c.vocab_size, H]],
    ['model.norm.weight', [H]],
  ]);
  if (!c.tie_word_embeddings) out.set('lm_head.weight', [c.vocab_size, H]);
  const layer = layerTensorShapes(c);
  for (let l = 0; l < c.num_layers; l++) for (const [n, s] of layer) out.set(`model.layers.${l}.${n}`, s);
  return out;
}

/** Whether an HF tensor name is an RMSNorm gain (stored as w, applied as 1 + w under `normPlusOne`). */
export function isNormGain(name: string): boolean {
  return name.endsWith('norm.weight');
}

/** Config problems a loader must reject (beyond the schema): one line each, with the field. */
export function archConfigProblems(c: ArchConfig): string[] {
  const out: string[] = [];
  if (c.layer_types !== undefined && c.layer_types.length !== c.num_layers) out.push(`layer_types: ${c.layer_types.length} entries for ${c.num_layers} layers`);
  const rot = rotaryDim(c);
  if (rot < 2 || rot % 2 !== 0) out.push(`partial_rotary_factor: rotates ${rot} of ${c.head_dim} dimensions (must be even and ≥ 2)`);
  if (archTraits(c).fused && c.attention_bias) out.push('attention_bias: not supported with a fused qkv_proj');
  return out;
}

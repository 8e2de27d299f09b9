import { z } from 'zod';
import type { TensorStore } from './store.js';

/** Architecture hyper-parameters, in one vocabulary for every format (HF config.json names mapped here). */
export const ArchConfigSchema = z
  .object({
    architecture: z.enum(['llama', 'qwen2', 'qwen3', 'mistral', 'phi3', 'gemma2', 'gemma3']),
    hidden_size: z.number().int().positive(),
    num_layers: z.number().int().positive(),
    num_heads: z.number().int().positive(),
    num_kv_heads: z.number().int().positive(),
    head_dim: z.number().int().positive(),
    vocab_size: z.number().int().positive(),
    intermediate_size: z.number().int().positive(),
    rope_theta: z.number().positive(),
    rms_norm_eps: z.number().positive(),
    max_position_embeddings: z.number().int().positive(),
    tie_word_embeddings: z.boolean(),
    /** Q/K/V projections carry a bias (Qwen2). */
    attention_bias: z.boolean(),
    bos_token_id: z.number().int().nonnegative().nullable().optional(),
    eos_token_id: z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative())]).nullable().optional(),
    /** Sliding layers attend to keys j from query p only where p − j < sliding_window (Mistral, Gemma). */
    sliding_window: z.number().int().positive().nullable().optional(),
    /** Per-layer attention kind (transformers' layer_types); absent with a sliding_window: every layer slides. */
    layer_types: z.array(z.enum(['full_attention', 'sliding_attention'])).optional(),
    /** Fraction of head_dim that RoPE rotates (Phi-3 family). */
    partial_rotary_factor: z.number().positive().max(1).optional(),
    /** RoPE base of the sliding layers (Gemma 3's rope_local_base_freq). */
    rope_local_theta: z.number().positive().optional(),
    /** Attention scores are scaled by query_pre_attn_scalar^−½ instead of head_dim^−½ (Gemma). */
    query_pre_attn_scalar: z.number().positive().optional(),
    /** Attention scores become c·tanh(s/c) (Gemma 2). */
    attn_logit_softcapping: z.number().positive().nullable().optional(),
    /** Final logits become c·tanh(z/c) (Gemma 2). */
    final_logit_softcapping: z.number().positive().nullable().optional(),
  })
  .strict();

export type ArchConfig = z.infer<typeof ArchConfigSchema>;

/**
 * What a tokenizer needs, format-independent. `json` is a Hugging Face `tokenizer.json` document (for GGUF
 * vocabularies one is synthesised from the `tokenizer.ggml.*` keys by src/tokenizer).
 */
export interface TokenizerSpec {
  json: string;
  /** tokenizer_config.json, when the source had one. */
  config?: Record<string, unknown>;
  chatTemplate?: string;
  /** generation_config.json, when the source had one. */
  generationConfig?: Record<string, unknown>;
}

/**
 * One operation applied to a model. Input files are named by file name in `options` and identified by
 * digest; `time` (ISO 8601) is recorded only from `SOURCE_DATE_EPOCH`, so outputs are byte-reproducible
 * (files written before that carry the wall-clock time of their writing).
 */
export interface ProvenanceEntry {
  op: string;
  options: Record<string, unknown>;
  inputDigests: string[];
  toolVersion: string;
  time?: string;
}

export type BundleFormat = 'apr' | 'gguf' | 'safetensors' | 'hf-dir' | 'peft' | 'memory';

export interface ModelBundle {
  config: ArchConfig;
  tokenizer?: TokenizerSpec;
  tensors: TensorStore;
  /** Extra metadata carried through (GGUF KV pairs not otherwise mapped, APR extras, golden fingerprint). */
  metadata: Record<string, unknown>;
  provenance: ProvenanceEntry[];
  /** Per-tensor digests recorded by the writer ("sha256:<hex>"), when the source carried them. */
  integrity?: Record<string, string>;
  source: { path: string; format: BundleFormat };
}

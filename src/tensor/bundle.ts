import { z } from 'zod';
import type { TensorStore } from './store.js';

/** Architecture hyper-parameters, in one vocabulary for every format (HF config.json names mapped here). */
export const ArchConfigSchema = z
  .object({
    architecture: z.enum(['llama', 'qwen2']),
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

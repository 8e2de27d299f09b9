/**
 * The `tokenizer.ggml.*` keys of a GGUF file as plain values (the GGUF layer maps them to typed KV pairs:
 * tokens/merges string arrays, token_type i32 array, scores f32 array, ids u32, add_* bool).
 */
export interface GgufVocab {
  /** tokenizer.ggml.model: 'gpt2' (byte-level BPE) or 'llama' (SentencePiece). */
  model: string;
  /** tokenizer.ggml.pre: llama.cpp's pre-tokenizer name (e.g. 'gpt-2', 'qwen2'). */
  pre?: string;
  tokens: string[];
  token_type?: number[];
  merges?: string[];
  scores?: number[];
  bos_token_id?: number;
  eos_token_id?: number;
  unknown_token_id?: number;
  padding_token_id?: number;
  add_bos_token?: boolean;
  add_eos_token?: boolean;
  /** tokenizer.ggml.add_space_prefix (SentencePiece vocabularies; llama.cpp's default is true). */
  add_space_prefix?: boolean;
  /** tokenizer.chat_template */
  chat_template?: string;
}

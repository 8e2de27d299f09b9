/**
 * A synthetic Llama held in memory (the GPU machine has no fixtures and no disk models): random ggml blocks
 * made directly in the target format with f16 scales chosen so weights have a standard deviation of about
 * 0.02, the shape of bench/synthetic-model.ts (hidden 2048, MLP 5632, 32 heads, 4 KV heads, vocab 4096;
 * 22 layers ≈ 1.0 B parameters). Tensors are generated lazily, one at a time, as the loader reads them.
 */
import { randomFillSync } from 'node:crypto';
import type { ArchConfig, ModelBundle } from '../../src/tensor/bundle.js';
import { DTYPES, type DType } from '../../src/tensor/dtype.js';
import { f32ToF16 } from '../../src/tensor/half.js';
import { MemoryTensorStore } from '../../src/tensor/store.js';

export type GpuQuant = 'F32' | 'Q8_0' | 'Q4_K_M';

export function gpuSyntheticConfig(layers: number, small: boolean): ArchConfig {
  const [H, I, heads, kvHeads, vocab] = small ? [256, 704, 4, 2, 512] : [2048, 5632, 32, 4, 4096];
  return {
    architecture: 'llama', hidden_size: H, num_layers: layers, num_heads: heads, num_kv_heads: kvHeads, head_dim: H / heads,
    vocab_size: vocab, intermediate_size: I, rope_theta: 10000, rms_norm_eps: 1e-5, max_position_embeddings: 4096,
    tie_word_embeddings: false, attention_bias: false, bos_token_id: null, eos_token_id: 0,
  };
}

export function parameterCount(c: ArchConfig): number {
  const H = c.hidden_size;
  const kv = c.num_kv_heads * c.head_dim;
  return c.num_layers * (2 * H * H + 2 * kv * H + 3 * H * c.intermediate_size + 2 * H) + 2 * c.vocab_size * H + H;
}

function setHalf(b: Uint8Array, o: number, v: number): void {
  const h = f32ToF16(v);
  b[o] = h & 0xff;
  b[o + 1] = h >> 8;
}

/** Random weights of `dtype` (raw blocks, or f32 bytes for F32) with a standard deviation of about 0.02. */
export function randomWeights(dtype: DType, count: number): Uint8Array {
  if (dtype === 'F32') {
    const f = new Float32Array(count);
    for (let i = 0; i < count; i++) f[i] = (Math.random() - 0.5) * 0.07;
    return new Uint8Array(f.buffer);
  }
  const { blockSize, blockBytes } = DTYPES[dtype];
  const bytes = new Uint8Array((count / blockSize) * blockBytes);
  for (let o = 0; o < bytes.length; o += 1 << 28) randomFillSync(bytes, o, Math.min(1 << 28, bytes.length - o));
  for (let o = 0; o < bytes.length; o += blockBytes) {
    const jitter = 0.75 + 0.5 * ((bytes[o + 5] as number) / 255);
    if (dtype === 'Q8_0') setHalf(bytes, o, (0.02 / 73.6) * jitter);
    if (dtype === 'Q4_K') {
      const d = (0.02 / (31 * 4.6)) * jitter;
      setHalf(bytes, o, d);
      setHalf(bytes, o + 2, 7.5 * d);
    }
    if (dtype === 'Q6_K') setHalf(bytes, o + 208, (0.02 / (64 * 18.5)) * jitter);
  }
  return bytes;
}

export function gpuSyntheticBundle(quant: GpuQuant, layers: number, small = false): ModelBundle {
  const c = gpuSyntheticConfig(layers, small);
  const main: DType = quant === 'F32' ? 'F32' : quant === 'Q8_0' ? 'Q8_0' : 'Q4_K';
  const down: DType = quant === 'Q4_K_M' ? 'Q6_K' : main;
  const store = new MemoryTensorStore();
  const matrix = (name: string, dtype: DType, rows: number, cols: number): void => {
    const byteLength = ((rows * cols) / DTYPES[dtype].blockSize) * DTYPES[dtype].blockBytes;
    store.addRef({ name, dtype, shape: [rows, cols], byteLength, read: () => randomWeights(dtype, rows * cols) });
  };
  const ones = (name: string, n: number): void => store.add(name, 'F32', [n], new Uint8Array(new Float32Array(n).fill(1).buffer));
  const H = c.hidden_size;
  const kv = c.num_kv_heads * c.head_dim;
  matrix('model.embed_tokens.weight', main, c.vocab_size, H);
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    ones(`${p}.input_layernorm.weight`, H);
    ones(`${p}.post_attention_layernorm.weight`, H);
    matrix(`${p}.self_attn.q_proj.weight`, main, H, H);
    matrix(`${p}.self_attn.k_proj.weight`, main, kv, H);
    matrix(`${p}.self_attn.v_proj.weight`, main, kv, H);
    matrix(`${p}.self_attn.o_proj.weight`, main, H, H);
    matrix(`${p}.mlp.gate_proj.weight`, main, c.intermediate_size, H);
    matrix(`${p}.mlp.up_proj.weight`, main, c.intermediate_size, H);
    matrix(`${p}.mlp.down_proj.weight`, down, H, c.intermediate_size);
  }
  ones('model.norm.weight', H);
  matrix('lm_head.weight', down, c.vocab_size, H);
  return { config: c, tensors: store, metadata: {}, provenance: [], source: { path: `synthetic-${quant}`, format: 'gguf' } };
}

/** Bytes of the weight matrices one decode step reads (the embedding table is only indexed). */
export function matrixBytesPerToken(bundle: ModelBundle): number {
  let bytes = 0;
  for (const name of bundle.tensors.names()) {
    const t = bundle.tensors.get(name);
    if (t && t.shape.length === 2 && name !== 'model.embed_tokens.weight') bytes += ((t.shape[0] as number) * (t.shape[1] as number) / DTYPES[t.dtype].blockSize) * DTYPES[t.dtype].blockBytes;
  }
  return bytes;
}

export function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

/**
 * Writes a synthetic ≥ 1B-parameter Llama in GGUF with apr's own GGUF writer, so that `apr bench` and
 * llama.cpp's `llama-bench` read the same file.
 *   npx tsx bench/synthetic-model.ts [--quant Q8_0|Q4_K_M|F16] [--layers 23] [--out .cache/synthetic-1b-Q8_0.gguf]
 * Weights are random ggml blocks made directly in the target format (random payload, f16 scales chosen so
 * that weights have a standard deviation of about 0.02), streamed tensor by tensor through the writer; the
 * tokenizer (4,096-token byte-level BPE) is tiny-coder-llama's. Shape: hidden 2048, MLP 5632, 32 heads,
 * 4 KV heads (head_dim 64), 23 layers, vocab 4096 → 1.03 B parameters. Speed, not text, is what it is for.
 */
import { randomFillSync } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { writeGgufBundle } from '../src/formats/gguf/bundle-write.js';
import { readGgufBundle } from '../src/formats/gguf/index.js';
import type { ArchConfig, ModelBundle } from '../src/tensor/bundle.js';
import { DTYPES, type DType } from '../src/tensor/dtype.js';
import { f32ToF16 } from '../src/tensor/half.js';
import { MemoryTensorStore } from '../src/tensor/store.js';

export type SyntheticQuant = 'Q8_0' | 'Q4_K_M' | 'F16';

const FIXTURES = path.resolve(process.cwd(), '../shared/fixtures');

export function syntheticConfig(layers: number): ArchConfig {
  return {
    architecture: 'llama', hidden_size: 2048, num_layers: layers, num_heads: 32, num_kv_heads: 4, head_dim: 64,
    vocab_size: 4096, intermediate_size: 5632, rope_theta: 10000, rms_norm_eps: 1e-5, max_position_embeddings: 2048,
    tie_word_embeddings: false, attention_bias: false, bos_token_id: null, eos_token_id: 0,
  };
}

function setHalf(b: Uint8Array, o: number, v: number): void {
  const h = f32ToF16(v);
  b[o] = h & 0xff;
  b[o + 1] = h >> 8;
}

/** Random blocks of `dtype` for `count` weights with per-block scales near `scale` (std of the weights ≈ 0.02). */
function randomBlocks(dtype: DType, count: number): Uint8Array {
  const { blockSize, blockBytes } = DTYPES[dtype];
  const nb = count / blockSize;
  const bytes = new Uint8Array(nb * blockBytes);
  for (let o = 0; o < bytes.length; o += 1 << 28) randomFillSync(bytes, o, Math.min(1 << 28, bytes.length - o));
  for (let b = 0; b < nb; b++) {
    const o = b * blockBytes;
    const jitter = 0.75 + 0.5 * ((bytes[o + 5] as number) / 255);
    // int8 payload: std ≈ 73.6
    if (dtype === 'Q8_0') setHalf(bytes, o, (0.02 / 73.6) * jitter);
    if (dtype === 'Q4_K') {
      // w = d·sc·q − dmin·m with 6-bit sc, m (mean ≈ 31) and q ∈ [0, 15] (std ≈ 4.6): dmin ≈ 7.5·d centres it
      const d = (0.02 / (31 * 4.6)) * jitter;
      setHalf(bytes, o, d);
      setHalf(bytes, o + 2, 7.5 * d);
    }
    if (dtype === 'F16') {
      // each half: random sign and mantissa, exponent 8 or 9, |w| ∈ [2^-7, 2^-5) (std ≈ 0.017)
      for (let i = o; i < o + blockBytes; i += 2) bytes[i + 1] = ((bytes[i + 1] as number) & 0x83) | ((8 + ((bytes[i + 1] as number) & 1)) << 2);
    }
    if (dtype === 'Q6_K') {
      // q ∈ [−32, 31] (std ≈ 18.5), int8 scales (|sc| mean ≈ 64)
      setHalf(bytes, o + 208, (0.02 / (64 * 18.5)) * jitter);
    }
  }
  return bytes;
}

function addMatrix(store: MemoryTensorStore, name: string, dtype: DType, rows: number, cols: number): void {
  const byteLength = ((rows * cols) / DTYPES[dtype].blockSize) * DTYPES[dtype].blockBytes;
  store.addRef({ name, dtype, shape: [rows, cols], byteLength, read: () => randomBlocks(dtype, rows * cols) });
}

function addOnes(store: MemoryTensorStore, name: string, n: number): void {
  store.add(name, 'F32', [n], new Uint8Array(new Float32Array(n).fill(1).buffer));
}

/** The bundle: tensors generated on demand, one at a time, as the writer asks for them. */
export function syntheticBundle(quant: SyntheticQuant, layers: number, out: string): ModelBundle {
  const c = syntheticConfig(layers);
  const src = readGgufBundle(path.join(FIXTURES, 'gguf', 'tiny-coder-llama-f32.gguf'));
  src.tensors.close();
  const main: DType = quant === 'Q4_K_M' ? 'Q4_K' : quant;
  // Q4_K_M keeps the output matrix and the MLP down projections in Q6_K (llama.cpp uses Q6_K for half of them).
  const down: DType = quant === 'Q4_K_M' ? 'Q6_K' : quant;
  const head: DType = quant === 'Q4_K_M' ? 'Q6_K' : quant;
  const H = c.hidden_size;
  const kv = c.num_kv_heads * c.head_dim;
  const I = c.intermediate_size;
  const store = new MemoryTensorStore();
  addMatrix(store, 'model.embed_tokens.weight', main, c.vocab_size, H);
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    addOnes(store, `${p}.input_layernorm.weight`, H);
    addMatrix(store, `${p}.self_attn.q_proj.weight`, main, H, H);
    addMatrix(store, `${p}.self_attn.k_proj.weight`, main, kv, H);
    addMatrix(store, `${p}.self_attn.v_proj.weight`, main, kv, H);
    addMatrix(store, `${p}.self_attn.o_proj.weight`, main, H, H);
    addOnes(store, `${p}.post_attention_layernorm.weight`, H);
    addMatrix(store, `${p}.mlp.gate_proj.weight`, main, I, H);
    addMatrix(store, `${p}.mlp.up_proj.weight`, main, I, H);
    addMatrix(store, `${p}.mlp.down_proj.weight`, down, H, I);
  }
  addOnes(store, 'model.norm.weight', H);
  addMatrix(store, 'lm_head.weight', head, c.vocab_size, H);
  const tok = Object.fromEntries(Object.entries((src.metadata['gguf'] ?? {}) as Record<string, unknown>).filter(([k]) => k.startsWith('tokenizer.')));
  const tokTypes = Object.fromEntries(Object.entries((src.metadata['gguf_types'] ?? {}) as Record<string, unknown>).filter(([k]) => k.startsWith('tokenizer.')));
  return {
    config: c,
    ...(src.tokenizer ? { tokenizer: src.tokenizer } : {}),
    tensors: store,
    metadata: { gguf: tok, gguf_types: tokTypes },
    provenance: [],
    source: { path: out, format: 'gguf' },
  };
}

export function parameterCount(c: ArchConfig): number {
  const H = c.hidden_size;
  const kv = c.num_kv_heads * c.head_dim;
  const perLayer = 2 * H * H + 2 * kv * H + 3 * H * c.intermediate_size + 2 * H;
  return c.num_layers * perLayer + 2 * c.vocab_size * H + H;
}

/** Writes the model (skipping nothing: the caller decides whether an existing file is reused). */
export function writeSyntheticModel(quant: SyntheticQuant, layers: number, out: string): number {
  mkdirSync(path.dirname(out), { recursive: true });
  writeGgufBundle(syntheticBundle(quant, layers, out), out, { name: `apr synthetic llama ${quant}` });
  return parameterCount(syntheticConfig(layers));
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const quant = (arg('quant') ?? 'Q8_0') as SyntheticQuant;
  if (quant !== 'Q8_0' && quant !== 'Q4_K_M' && quant !== 'F16') throw new Error(`--quant: Q8_0, Q4_K_M or F16, got ${String(quant)}`);
  const layers = Number(arg('layers') ?? 23);
  const out = arg('out') ?? path.join('.cache', `synthetic-1b-${quant}.gguf`);
  const t0 = performance.now();
  const params = writeSyntheticModel(quant, layers, out);
  process.stdout.write(`${out}: ${(params / 1e9).toFixed(3)} B parameters, ${quant}, written in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

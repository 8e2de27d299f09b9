import { FormatError } from '../formats/errors.js';
import type { Backend, WeightMatrix } from '../kernels/types.js';
import { COMMON_BLOCK_TYPES, ROW_DECODERS } from '../kernels/cpu/blocks.js';
import type { ArchConfig, ModelBundle } from '../tensor/bundle.js';
import { dequantize } from '../tensor/codecs/index.js';
import type { DType } from '../tensor/dtype.js';
import type { TensorRef } from '../tensor/store.js';
import { archTraits, isNormGain } from '../tensor/arch.js';
import { type LoraPair, loadLoraPair } from './lora-apply.js';

/** A projection: weight [out, in] and an optional bias [out]. */
export interface Linear<B, W> {
  readonly w: W;
  readonly rows: number;
  readonly cols: number;
  readonly bias?: B;
  /** Unmerged LoRA factors (lora-apply.ts), added to the product. */
  readonly lora?: LoraPair<W>;
}

export interface LayerWeights<B, W> {
  readonly inputNorm: B;
  readonly q: Linear<B, W>;
  readonly k: Linear<B, W>;
  readonly v: Linear<B, W>;
  readonly o: Linear<B, W>;
  readonly postNorm: B;
  readonly gate: Linear<B, W>;
  readonly up: Linear<B, W>;
  readonly down: Linear<B, W>;
  /** Per-head RMSNorm of q and k before RoPE (Qwen3, Gemma 3). */
  readonly qNorm?: B;
  readonly kNorm?: B;
  /**
   * Gemma's sandwich norms: `attnOutNorm` (post_attention_layernorm) normalises the attention output and
   * `ffnOutNorm` (post_feedforward_layernorm) the MLP output; `postNorm` is then pre_feedforward_layernorm.
   */
  readonly attnOutNorm?: B;
  readonly ffnOutNorm?: B;
}

export interface DecoderWeights<B, W> {
  readonly embed: W;
  readonly layers: readonly LayerWeights<B, W>[];
  readonly norm: B;
  readonly lmHead: W;
  /** Host dtype of each weight matrix as loaded (after any conversion to F32). */
  readonly dtypes: Readonly<Record<string, string>>;
}

export interface WeightLoadOptions {
  /** Keep Q8_0/Q4_0/Q4_K/Q6_K weights as blocks (decoded row by row in the kernels). Default true. */
  keepQuantized?: boolean;
}

class Loader<B, W> {
  readonly dtypes: Record<string, string> = {};

  constructor(
    private readonly bundle: ModelBundle,
    private readonly backend: Backend<B, W>,
    private readonly keepQuantized: boolean,
    private readonly plusOne = false,
  ) {}

  private ref(name: string): TensorRef {
    const t = this.bundle.tensors.get(name);
    if (!t) throw new FormatError(this.bundle.source.path, name, 'missing tensor');
    return t;
  }

  private checkShape(t: TensorRef, shape: readonly number[]): void {
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new FormatError(this.bundle.source.path, t.name, `expected shape [${shape.join(', ')}], got [${t.shape.join(', ')}]`);
    }
  }

  has(name: string): boolean {
    return this.bundle.tensors.get(name) !== undefined;
  }

  /** Whether the backend's products read `dtype` in its blocks: every backend the common ones, the CPU all it decodes per row. */
  private keepsBlocks(dtype: DType): boolean {
    return ROW_DECODERS[dtype] !== undefined && (COMMON_BLOCK_TYPES.has(dtype) || (this.backend.features?.includes('weights-any-block') ?? false));
  }

  /** The host form of a weight matrix: F32 floats, or raw blocks for a dtype the kernels decode per row. */
  hostMatrix(name: string, rows: number, cols: number): WeightMatrix {
    const t = this.ref(name);
    this.checkShape(t, [rows, cols]);
    const bytes = t.read();
    if (t.dtype !== 'F32' && this.keepQuantized && this.keepsBlocks(t.dtype)) {
      this.dtypes[name] = t.dtype;
      return { dtype: t.dtype, rows, cols, data: bytes };
    }
    this.dtypes[name] = 'F32';
    return { dtype: 'F32', rows, cols, data: toF32(t, bytes, rows * cols, this.bundle.source.path) };
  }

  matrix(name: string, rows: number, cols: number): W {
    return this.backend.prepareWeight(this.hostMatrix(name, rows, cols));
  }

  /** A vector; an RMSNorm gain of a `normPlusOne` architecture (Gemma) is uploaded as float32(1 + w). */
  vector(name: string, length: number): B {
    const t = this.ref(name);
    this.checkShape(t, [length]);
    const v = toF32(t, t.read(), length, this.bundle.source.path);
    return this.backend.upload(this.plusOne && isNormGain(name) ? Float32Array.from(v, (w) => 1 + w) : v);
  }

  /** The row blocks of one fused matrix [Σ parts, cols] as separate projections (Phi-3's qkv_proj, gate_up_proj). */
  splitLinear(prefix: string, parts: readonly number[], cols: number): Linear<B, W>[] {
    const rows = parts.reduce((a, b) => a + b, 0);
    const m = this.hostMatrix(`${prefix}.weight`, rows, cols);
    const rowLength = m.data.length / rows;
    let r0 = 0;
    return parts.map((r) => {
      const data = m.data.subarray(r0 * rowLength, (r0 + r) * rowLength);
      r0 += r;
      return { w: this.backend.prepareWeight({ dtype: m.dtype, rows: r, cols, data }), rows: r, cols };
    });
  }

  linear(prefix: string, rows: number, cols: number): Linear<B, W> {
    const w = this.matrix(`${prefix}.weight`, rows, cols);
    const biasName = `${prefix}.bias`;
    const lora = loadLoraPair(this.backend, this.bundle.tensors, prefix, rows, cols);
    return { w, rows, cols, ...(this.has(biasName) ? { bias: this.vector(biasName, rows) } : {}), ...(lora ? { lora } : {}) };
  }
}

function toF32(t: TensorRef, bytes: Uint8Array, count: number, file: string): Float32Array {
  if (t.dtype === 'F32' && bytes.byteOffset % 4 === 0) return new Float32Array(bytes.buffer, bytes.byteOffset, count);
  try {
    return dequantize(t.dtype, bytes, count);
  } catch (err) {
    throw new FormatError(file, t.name, `cannot convert ${t.dtype} to F32 (${(err as Error).message})`);
  }
}

type Projections<B, W> = Pick<LayerWeights<B, W>, 'q' | 'k' | 'v' | 'gate' | 'up'>;

/** q, k, v, gate and up: separate tensors, or split from Phi-3's fused qkv_proj and gate_up_proj. */
function projections<B, W>(ld: Loader<B, W>, c: ArchConfig, p: string): Projections<B, W> {
  const H = c.hidden_size;
  const qDim = c.num_heads * c.head_dim;
  const kvDim = c.num_kv_heads * c.head_dim;
  const I = c.intermediate_size;
  if (archTraits(c).fused) {
    const [q, k, v] = ld.splitLinear(`${p}.self_attn.qkv_proj`, [qDim, kvDim, kvDim], H) as [Linear<B, W>, Linear<B, W>, Linear<B, W>];
    const [gate, up] = ld.splitLinear(`${p}.mlp.gate_up_proj`, [I, I], H) as [Linear<B, W>, Linear<B, W>];
    return { q, k, v, gate, up };
  }
  const q = ld.linear(`${p}.self_attn.q_proj`, qDim, H);
  if (c.attention_bias && q.bias === undefined) ld.vector(`${p}.self_attn.q_proj.bias`, qDim);
  const k = ld.linear(`${p}.self_attn.k_proj`, kvDim, H);
  const v = ld.linear(`${p}.self_attn.v_proj`, kvDim, H);
  return { q, k, v, gate: ld.linear(`${p}.mlp.gate_proj`, I, H), up: ld.linear(`${p}.mlp.up_proj`, I, H) };
}

function layerWeights<B, W>(ld: Loader<B, W>, c: ArchConfig, i: number): LayerWeights<B, W> {
  const p = `model.layers.${i}`;
  const H = c.hidden_size;
  const t = archTraits(c);
  const norm = (name: string, n = H): B => ld.vector(`${p}.${name}.weight`, n);
  const base = {
    inputNorm: norm('input_layernorm'),
    ...projections(ld, c, p),
    o: ld.linear(`${p}.self_attn.o_proj`, H, c.num_heads * c.head_dim),
    down: ld.linear(`${p}.mlp.down_proj`, H, c.intermediate_size),
    ...(t.qkNorm ? { qNorm: norm('self_attn.q_norm', c.head_dim), kNorm: norm('self_attn.k_norm', c.head_dim) } : {}),
  };
  if (!t.sandwichNorms) return { ...base, postNorm: norm('post_attention_layernorm') };
  return { ...base, attnOutNorm: norm('post_attention_layernorm'), postNorm: norm('pre_feedforward_layernorm'), ffnOutNorm: norm('post_feedforward_layernorm') };
}

/**
 * Reads every weight of a decoder (Llama, Qwen2/3, Mistral, Phi-3, Gemma 2/3) by its Hugging Face name and
 * hands it to the backend. Any
 * `.bias` present on a projection is used (Qwen2's q/k/v; Llama with attention_bias). A missing
 * `lm_head.weight` means the head is tied to the embeddings (as llama.cpp does for GGUF files without
 * `output.weight`).
 */
export function loadDecoderWeights<B, W>(bundle: ModelBundle, backend: Backend<B, W>, opts: WeightLoadOptions = {}): DecoderWeights<B, W> {
  const c = bundle.config;
  const ld = new Loader(bundle, backend, opts.keepQuantized ?? true, archTraits(c).normPlusOne);
  const embedHost = ld.hostMatrix('model.embed_tokens.weight', c.vocab_size, c.hidden_size);
  const embed = backend.prepareWeight(embedHost);
  const layers: LayerWeights<B, W>[] = [];
  for (let i = 0; i < c.num_layers; i++) layers.push(layerWeights(ld, c, i));
  const norm = ld.vector('model.norm.weight', c.hidden_size);
  const untied = ld.has('lm_head.weight');
  const lmHead = untied ? ld.matrix('lm_head.weight', c.vocab_size, c.hidden_size) : embed;
  return { embed, layers, norm, lmHead, dtypes: ld.dtypes };
}

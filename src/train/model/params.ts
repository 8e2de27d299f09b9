import { FormatError } from '../../formats/errors.js';
import type { ArchConfig, ModelBundle } from '../../tensor/bundle.js';
import type { TensorRef } from '../../tensor/store.js';
import { dequantize } from '../../tensor/codecs/index.js';
import { elementCount } from '../../tensor/dtype.js';
import { quantizeNf4 } from '../../tensor/quant/nf4.js';
import { kernelFloats } from '../autograd/linalg.js';
import type { LinearParams, Matrix } from '../autograd/linear.js';
import type { VectorParam } from '../autograd/ops.js';
import type { TrainParam } from '../types.js';

/** The decoder's weights as the trainable forward pass reads them. */
export interface LayerParams {
  readonly inputNorm: VectorParam;
  readonly postNorm: VectorParam;
  readonly q: LinearParams;
  readonly k: LinearParams;
  readonly v: LinearParams;
  readonly o: LinearParams;
  readonly gate: LinearParams;
  readonly up: LinearParams;
  readonly down: LinearParams;
}

export interface ModelParams {
  readonly embed: Matrix;
  readonly layers: LayerParams[];
  readonly norm: VectorParam;
  /** The same object as `embed` when the head is tied. */
  readonly lmHead: Matrix;
}

export type BaseMode = 'train' | 'frozen' | 'nf4';

/** Frozen f32 matrices beyond this many bytes are kept outside the kernel memory (see ParamBuilder.matrix). */
const FROZEN_KERNEL_BYTES = 2 ** 31;

/** Module names of the linear layers, as PEFT targets them. */
export const LINEAR_MODULES = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LinearModule = (typeof LINEAR_MODULES)[number];

export function modulePath(layer: number, m: LinearModule): string {
  const block = m === 'gate_proj' || m === 'up_proj' || m === 'down_proj' ? 'mlp' : 'self_attn';
  return `model.layers.${layer}.${block}.${m}`;
}

/** Tensor `name` of `bundle`, checked to exist with `shape`; a one-line FormatError naming the file and tensor otherwise. */
export function shapedTensor(bundle: ModelBundle, name: string, shape: readonly number[]): TensorRef {
  const t = bundle.tensors.get(name);
  const file = bundle.source.path;
  if (!t) throw new FormatError(file, name, 'missing tensor');
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new FormatError(file, name, `expected shape [${shape.join(', ')}], got [${t.shape.join(', ')}]`);
  }
  return t;
}

/** Tensor `name` (checked as shapedTensor) dequantized to f32 (into `out` when given). */
export function tensorFloats(bundle: ModelBundle, name: string, shape: readonly number[], out?: Float32Array): Float32Array {
  const t = shapedTensor(bundle, name, shape);
  try {
    return dequantize(t.dtype, t.read(), elementCount(shape), out);
  } catch (err) {
    throw new FormatError(bundle.source.path, name, `cannot convert ${t.dtype} to F32 (${(err as Error).message})`);
  }
}

/** Reads base tensors and turns them into trainable parameters, frozen f32 arrays or frozen NF4 blocks. */
export class ParamBuilder {
  /** Parameters in creation order (the optimizer's order). */
  readonly params: TrainParam[] = [];
  /** The frozen arrays held, for baseWeightBytes. */
  readonly frozen: ArrayBufferView[] = [];
  /** Bytes of f32 matrices placed in the kernel memory so far. */
  private kernelBytes = 0;

  constructor(
    private readonly bundle: ModelBundle,
    private readonly mode: BaseMode,
  ) {
    // the training forward pass (train/model/decoder.ts) is the Llama/Qwen2 one: refuse other architectures rather than train a different function
    const a = bundle.config.architecture;
    if (a !== 'llama' && a !== 'qwen2') throw new FormatError(bundle.source.path, 'architecture', `training supports llama and qwen2, not ${a}`);
  }

  /** The tensor as f32; in the kernel memory (where products run in SIMD) unless `plain`. */
  floats(name: string, shape: readonly number[], plain = false): Float32Array {
    const count = elementCount(shape);
    return tensorFloats(this.bundle, name, shape, plain ? new Float32Array(count) : kernelFloats(count));
  }

  has(name: string): boolean {
    return this.bundle.tensors.get(name) !== undefined;
  }

  trainable(name: string, data: Float32Array, shape: readonly number[]): TrainParam {
    const p: TrainParam = { name, shape: [...shape], data, grad: new Float32Array(data.length) };
    this.params.push(p);
    return p;
  }

  vector(name: string, length: number): VectorParam {
    const data = this.floats(name, [length], true);
    if (this.mode === 'train') return { data, grad: this.trainable(name, data, [length]).grad };
    this.frozen.push(data);
    return { data };
  }

  matrix(name: string, rows: number, cols: number): Matrix {
    if (this.mode === 'nf4' && cols % 64 === 0) {
      const bytes = quantizeNf4(this.floats(name, [rows, cols], true));
      this.frozen.push(bytes);
      return { kind: 'nf4', rows, cols, bytes };
    }
    // a frozen base past the budget stays in ordinary memory (each product copies it into a kernel scratch),
    // so that the 4 GiB kernel memory keeps room for the scratch buffers every product needs
    const plain = this.mode === 'frozen' && this.kernelBytes + 4 * rows * cols > FROZEN_KERNEL_BYTES;
    if (!plain) this.kernelBytes += 4 * rows * cols;
    const data = this.floats(name, [rows, cols], plain);
    if (this.mode === 'train') return { kind: 'dense', rows, cols, data, grad: this.trainable(name, data, [rows, cols]).grad };
    this.frozen.push(data);
    return { kind: 'dense', rows, cols, data };
  }

  linear(prefix: string, rows: number, cols: number): LinearParams {
    const w = this.matrix(`${prefix}.weight`, rows, cols);
    const biasName = `${prefix}.bias`;
    return this.has(biasName) ? { w, bias: this.vector(biasName, rows) } : { w };
  }
}

function layerParams(b: ParamBuilder, c: ArchConfig, i: number): LayerParams {
  const H = c.hidden_size;
  const qDim = c.num_heads * c.head_dim;
  const kvDim = c.num_kv_heads * c.head_dim;
  const I = c.intermediate_size;
  const lin = (m: LinearModule, rows: number, cols: number): LinearParams => b.linear(modulePath(i, m), rows, cols);
  return {
    inputNorm: b.vector(`model.layers.${i}.input_layernorm.weight`, H),
    q: lin('q_proj', qDim, H),
    k: lin('k_proj', kvDim, H),
    v: lin('v_proj', kvDim, H),
    o: lin('o_proj', H, qDim),
    postNorm: b.vector(`model.layers.${i}.post_attention_layernorm.weight`, H),
    gate: lin('gate_proj', I, H),
    up: lin('up_proj', I, H),
    down: lin('down_proj', H, I),
  };
}

/** All decoder weights of `bundle` (Llama / Qwen2 names); a missing lm_head.weight means a tied head. */
export function buildParams(b: ParamBuilder, c: ArchConfig): ModelParams {
  const embed = b.matrix('model.embed_tokens.weight', c.vocab_size, c.hidden_size);
  const layers: LayerParams[] = [];
  for (let i = 0; i < c.num_layers; i++) layers.push(layerParams(b, c, i));
  const norm = b.vector('model.norm.weight', c.hidden_size);
  const lmHead = b.has('lm_head.weight') ? b.matrix('lm_head.weight', c.vocab_size, c.hidden_size) : embed;
  return { embed, layers, norm, lmHead };
}

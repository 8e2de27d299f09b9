import { FormatError } from '../../formats/errors.js';
import type { GpuBuf, GpuWeight, WebGpuBackend } from '../../kernels/webgpu/backend.js';
import { WDECODE } from '../../kernels/webgpu/wgsl-quant.js';
import type { ArchConfig, ModelBundle } from '../../tensor/bundle.js';
import { quantizeNf4 } from '../../tensor/quant/nf4.js';
import { LINEAR_MODULES, type LinearModule, modulePath, shapedTensor, tensorFloats } from '../model/params.js';
import { projectionShape } from '../model/lora.js';

/**
 * The frozen base of a LoRA / QLoRA step on the device. LoRA keeps every matrix in its stored form (the
 * kernels decode GGUF blocks as inference does, so the weights are exactly the f32 values the CPU trainer
 * dequantizes); QLoRA quantizes each matrix whose width is a multiple of 64 to NF4 on the host first, as the
 * CPU trainer's 'nf4' mode does (src/train/model/params.ts), so both train against the same weights.
 */

export interface GpuLayer {
  readonly inNorm: GpuBuf;
  readonly postNorm: GpuBuf;
  readonly proj: Readonly<Record<LinearModule, GpuWeight>>;
  readonly bias: Readonly<Partial<Record<LinearModule, GpuBuf>>>;
}

export interface GpuBase {
  readonly embed: GpuWeight;
  readonly layers: readonly GpuLayer[];
  readonly norm: GpuBuf;
  readonly lmHead: GpuWeight;
  /** Bytes of device memory the base takes. */
  readonly bytes: number;
}

export type BaseForm = 'stored' | 'nf4';

class Uploader {
  bytes = 0;

  constructor(private readonly be: WebGpuBackend, private readonly bundle: ModelBundle, private readonly form: BaseForm) {}

  floats(name: string, shape: readonly number[]): Float32Array {
    return tensorFloats(this.bundle, name, shape);
  }

  vector(name: string, length: number): GpuBuf {
    this.bytes += 4 * length;
    return this.be.upload(this.floats(name, [length]));
  }

  matrix(name: string, rows: number, cols: number): GpuWeight {
    if (this.form === 'nf4' && cols % 64 === 0) {
      const data = quantizeNf4(this.floats(name, [rows, cols]));
      this.bytes += data.byteLength;
      return this.be.prepareWeight({ dtype: 'NF4', rows, cols, data });
    }
    const t = shapedTensor(this.bundle, name, [rows, cols]);
    const stored = WDECODE[t.dtype] !== undefined;
    const data = stored ? t.read() : this.floats(name, [rows, cols]);
    this.bytes += data.byteLength;
    return this.be.prepareWeight({ dtype: stored ? t.dtype : 'F32', rows, cols, data });
  }

  has(name: string): boolean {
    return this.bundle.tensors.get(name) !== undefined;
  }
}

function layer(u: Uploader, c: ArchConfig, i: number): GpuLayer {
  const proj = {} as Record<LinearModule, GpuWeight>;
  const bias: Partial<Record<LinearModule, GpuBuf>> = {};
  for (const m of LINEAR_MODULES) {
    const [rows, cols] = projectionShape(c, m);
    proj[m] = u.matrix(`${modulePath(i, m)}.weight`, rows, cols);
    if (u.has(`${modulePath(i, m)}.bias`)) bias[m] = u.vector(`${modulePath(i, m)}.bias`, rows);
  }
  return {
    inNorm: u.vector(`model.layers.${i}.input_layernorm.weight`, c.hidden_size),
    postNorm: u.vector(`model.layers.${i}.post_attention_layernorm.weight`, c.hidden_size),
    proj,
    bias,
  };
}

/** Uploads the decoder weights of `bundle` (Llama / Qwen2 names; no lm_head.weight = tied head). */
export function uploadBase(be: WebGpuBackend, bundle: ModelBundle, form: BaseForm, onLayer?: (done: number, total: number) => void): GpuBase {
  const c = bundle.config;
  if (c.architecture !== 'llama' && c.architecture !== 'qwen2') throw new FormatError(bundle.source.path, 'architecture', `training supports llama and qwen2, not ${c.architecture}`);
  const u = new Uploader(be, bundle, form);
  const embed = u.matrix('model.embed_tokens.weight', c.vocab_size, c.hidden_size);
  const layers: GpuLayer[] = [];
  for (let i = 0; i < c.num_layers; i++) {
    layers.push(layer(u, c, i));
    onLayer?.(i + 1, c.num_layers);
  }
  const norm = u.vector('model.norm.weight', c.hidden_size);
  const lmHead = u.has('lm_head.weight') ? u.matrix('lm_head.weight', c.vocab_size, c.hidden_size) : embed;
  return { embed, layers, norm, lmHead, bytes: u.bytes };
}

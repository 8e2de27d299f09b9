import type { GpuBuf, WebGpuBackend } from '../../kernels/webgpu/backend.js';
import type { ArchConfig } from '../../tensor/bundle.js';

/**
 * The device buffers of one training step for micro-batches of up to `rows` rows: what the forward pass
 * keeps per layer for the backward pass, and the scratch both passes share. Allocated once per run.
 */

export interface LayerActs {
  /** Input of the layer's attention norm (the residual stream), its normed copy, q and k after RoPE, v. */
  readonly x: GpuBuf;
  readonly h1: GpuBuf;
  readonly q: GpuBuf;
  readonly k: GpuBuf;
  readonly v: GpuBuf;
  readonly att: GpuBuf;
  readonly lse: GpuBuf;
  /** Residual after attention, its normed copy, gate and up products, and silu(gate)·up. */
  readonly x1: GpuBuf;
  readonly h2: GpuBuf;
  readonly gate: GpuBuf;
  readonly up: GpuBuf;
  readonly act: GpuBuf;
  /** x·Aᵀ of each adapted module, by module name. */
  readonly loraU: Map<string, GpuBuf>;
}

export interface StepBuffers {
  readonly rows: number;
  /** Per layer; with `checkpoint` only `x` is the layer's own, the rest one set all layers share. */
  readonly layers: readonly LayerActs[];
  readonly checkpoint: boolean;
  /** The last layer's output, and the final norm of it. */
  readonly xOut: GpuBuf;
  readonly hf: GpuBuf;
  /** Rows of one logits chunk and the chunk [chunkRows, vocab]. */
  readonly chunkRows: number;
  readonly logits: GpuBuf;
  /** Gradient scratch. */
  readonly dX: GpuBuf;
  readonly dTmp: GpuBuf;
  readonly dH: GpuBuf;
  readonly dQ: GpuBuf;
  readonly dK: GpuBuf;
  readonly dV: GpuBuf;
  readonly dAtt: GpuBuf;
  readonly dAct: GpuBuf;
  readonly dGate: GpuBuf;
  readonly dUp: GpuBuf;
  readonly rs: GpuBuf;
  readonly attScratch: GpuBuf;
  /** LoRA scratch: B·u [rows, widest out], du [rows, r], du·A [rows, widest in]. */
  readonly loraOut: GpuBuf;
  readonly loraDu: GpuBuf;
  readonly loraDx: GpuBuf;
  /** Reduction scratch of the gradient norm, and the norm's Σg² (one float). */
  readonly partials: GpuBuf;
  readonly sumsq: GpuBuf;
  /** Device floats held by these buffers. */
  readonly floats: number;
}

/** Rows of a logits chunk: a multiple of 64 (a 256-byte aligned range of every row array) within `maxBytes`. */
function logitsChunkRows(rows: number, vocab: number, maxBytes: number): number {
  const fit = Math.floor(maxBytes / (4 * vocab) / 64) * 64;
  if (fit < 64) throw new RangeError(`webgpu training: a 64-row logits chunk of vocab ${vocab} exceeds the ${maxBytes}-byte buffer limit`);
  return Math.min(fit, Math.ceil(rows / 64) * 64);
}

/**
 * `checkpoint`: per-layer gradient checkpointing — each layer keeps only its input x; everything else is one
 * set shared by all layers, which the backward pass refills by running the layer forward again (the same
 * kernels on the same input, so the values are bit for bit the first pass's).
 */
export function allocStepBuffers(be: WebGpuBackend, c: ArchConfig, rows: number, lora: { rank: number; modules: readonly string[] }, maxChunkBytes: number, checkpoint = false): StepBuffers {
  const H = c.hidden_size;
  const qDim = c.num_heads * c.head_dim;
  const kvDim = c.num_kv_heads * c.head_dim;
  const I = c.intermediate_size;
  let floats = 0;
  const a = (len: number): GpuBuf => {
    floats += Math.max(1, len);
    return be.alloc(Math.max(1, len));
  };
  const layerSet = (): LayerActs => ({
    x: a(rows * H), h1: a(rows * H), q: a(rows * qDim), k: a(rows * kvDim), v: a(rows * kvDim), att: a(rows * qDim),
    lse: a(rows * c.num_heads), x1: a(rows * H), h2: a(rows * H), gate: a(rows * I), up: a(rows * I), act: a(rows * I),
    loraU: new Map(lora.modules.map((m) => [m, a(rows * lora.rank)])),
  });
  const shared = checkpoint ? layerSet() : undefined;
  const layers = Array.from({ length: c.num_layers }, (_v, i): LayerActs => (shared ? (i === 0 ? shared : { ...shared, x: a(rows * H) }) : layerSet()));
  const chunkRows = logitsChunkRows(rows, c.vocab_size, maxChunkBytes);
  const widest = Math.max(H, qDim, I);
  return {
    rows, layers, checkpoint, xOut: a(rows * H), hf: a(rows * H), chunkRows, logits: a(chunkRows * c.vocab_size),
    dX: a(rows * H), dTmp: a(rows * H), dH: a(rows * H), dQ: a(rows * qDim), dK: a(rows * kvDim), dV: a(rows * kvDim),
    dAtt: a(rows * qDim), dAct: a(rows * I), dGate: a(rows * I), dUp: a(rows * I), rs: a(rows), attScratch: a(rows * c.num_heads),
    loraOut: a(rows * widest), loraDu: a(rows * lora.rank), loraDx: a(rows * widest), partials: a(4096), sumsq: a(64),
    get floats() {
      return floats;
    },
  };
}

/** Releases every buffer of `s`. */
export function releaseStepBuffers(be: WebGpuBackend, s: StepBuffers): void {
  // a set: under checkpointing the layers share every buffer but x
  const layerBufs = new Set(s.layers.flatMap((l) => [l.x, l.h1, l.q, l.k, l.v, l.att, l.lse, l.x1, l.h2, l.gate, l.up, l.act, ...l.loraU.values()]));
  for (const b of layerBufs) be.release(b);
  for (const b of [s.xOut, s.hf, s.logits, s.dX, s.dTmp, s.dH, s.dQ, s.dK, s.dV, s.dAtt, s.dAct, s.dGate, s.dUp, s.rs, s.attScratch, s.loraOut, s.loraDu, s.loraDx, s.partials, s.sumsq]) be.release(b);
}

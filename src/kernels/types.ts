import type { DType } from '../tensor/dtype.js';

/**
 * A weight matrix as the kernels see it: canonical row-major `[rows = out, cols = in]`. `data` is a
 * Float32Array for F32, or the raw ggml block bytes (blocks run along each row) for a quantized dtype.
 */
export interface WeightMatrix {
  readonly dtype: DType;
  readonly rows: number;
  readonly cols: number;
  readonly data: Float32Array | Uint8Array;
}

/** Shape of one causal attention call over a KV cache laid out `[kvHeads][capacity][headDim]`. */
export interface AttentionShape {
  /** Query rows (tokens) in this call; query t sits at absolute position `startPos + t`. */
  readonly n: number;
  readonly startPos: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
  /** Positions the cache buffers hold per KV head. */
  readonly capacity: number;
  /** Sliding window: the query at position p attends to keys j with p − j < window only (default: all j ≤ p). */
  readonly window?: number;
  /** Scores s become softcap · tanh(s / softcap) before the softmax (Gemma 2). */
  readonly softcap?: number;
  /** Score scale (default 1/√headDim). */
  readonly scale?: number;
}

/**
 * Parameters of existing kernels that a backend may not implement: the AttentionShape options `window`,
 * `softcap` and `scale`, and `rope`'s `rotaryDim` below headDim. A model that needs one runs only on a
 * backend that lists it.
 */
export type KernelFeature = 'attention-window' | 'attention-softcap' | 'attention-scale' | 'rope-partial' | 'weights-any-block';

/**
 * The compute interface the decoder is written against. `B` is the backend's activation buffer and `W`
 * its prepared weight. Every call only enqueues work on buffers the backend owns; `read` is the one point
 * where results come back to the host, so an asynchronous device (WebGPU) can sit behind the same calls
 * and flush in `read`/`readAsync`. The CPU backend runs each call at once on Float32Arrays.
 *
 * Batch invariance: for every kernel, the value computed for row t of a call with n rows is bit-identical
 * to the value the same row gets in a call with n = 1. Speculative verification relies on this.
 */
export interface Backend<B = Float32Array, W = WeightMatrix> {
  readonly name: string;
  /** The optional kernel parameters this backend honours (none when absent). */
  readonly features?: readonly KernelFeature[];
  /** A zero-filled buffer of `length` floats. */
  alloc(length: number): B;
  /** A new buffer holding a copy of `data`. */
  upload(data: Float32Array): B;
  /** `length` floats from `offset`; on the CPU a view that the next write to `buf` overwrites. */
  read(buf: B, offset: number, length: number): Float32Array;
  readAsync(buf: B, offset: number, length: number): Promise<Float32Array>;
  copy(src: B, srcOffset: number, dst: B, dstOffset: number, length: number): void;
  /** Frees a buffer from `alloc`/`upload` now rather than when it is garbage-collected (optional). */
  release?(buf: B): void;
  /** Turns a host weight into this backend's form (upload, repack). */
  prepareWeight(w: WeightMatrix): W;
  /** Frees a prepared weight now (optional). */
  releaseWeight?(w: W): void;

  /** out[t, r] = Σ_c W[r, c] · x[t, c] for t < n (x is [n, cols], out is [n, rows]). */
  matmul(w: W, x: B, n: number, out: B): void;
  /** out[t, :] = row tokens[t] of the table (dequantized). */
  embed(table: W, tokens: ArrayLike<number>, out: B): void;
  /** out[t, i] = x[t, i] / sqrt(mean_i x[t, i]² + eps) · weight[i]. */
  rmsnorm(x: B, weight: B, eps: number, n: number, dim: number, out: B): void;
  /** x[t, i] += bias[i], in place. */
  addBias(x: B, bias: B, n: number, dim: number): void;
  /** out[i] = a[i] + b[i] for i < length (out may alias a or b). */
  add(a: B, b: B, length: number, out: B): void;
  /** out[i] = silu(gate[i]) · up[i] (out may alias gate or up). */
  swiglu(gate: B, up: B, length: number, out: B): void;
  /**
   * Rotary embedding (Hugging Face rotate_half form) of [n, heads, headDim] rows at startPos.., in place; only
   * the first `rotaryDim` dimensions of each head rotate (default headDim; feature 'rope-partial').
   */
  rope(x: B, n: number, heads: number, headDim: number, startPos: number, theta: number, rotaryDim?: number): void;
  /** out[i] = gelu_tanh(gate[i]) · up[i] (Gemma's GeGLU; optional, out may alias gate or up). */
  geglu?(gate: B, up: B, length: number, out: B): void;
  /** x[i] ← s · x[i], in place (optional). */
  scale?(x: B, length: number, s: number): void;
  /** x[i] ← cap · tanh(x[i] / cap), in place (optional). */
  softcap?(x: B, length: number, cap: number): void;
  /** Writes rows src[t, kvHeads, headDim] at positions startPos + t of a `[kvHeads][capacity][headDim]` cache. */
  kvStore(cache: B, src: B, n: number, kvHeads: number, headDim: number, startPos: number, capacity: number): void;
  /** Causal grouped-query attention of q [n, heads, headDim] over cache positions 0..startPos+t. */
  attention(q: B, kCache: B, vCache: B, shape: AttentionShape, out: B): void;
  /**
   * out[t] = the lowest index of the largest of x[t, 0..dim) as a float (exact for dim ≤ 2²⁴), as
   * src/model/sampling.ts `argmax`: NaN and −∞ are never chosen, 0 when nothing beats −∞ (optional: greedy
   * decoding then reads back n floats instead of n·dim). With `outOffset`, into out[outOffset + t].
   */
  argmax?(x: B, n: number, dim: number, out: B, outOffset?: number): void;
  /**
   * out[t, :] = row ids[offset + t] of the table, the ids held on the device as floats (as `argmax` writes
   * them), so a greedy decode can feed each pick to the next step without reading it back (optional).
   */
  embedPicked?(table: W, ids: B, offset: number, n: number, out: B): void;
  /**
   * out[t, r] += Σ_c W[r, c] · x[t, c]: the result of `matmul(w, x, n, tmp)` then `add(out, tmp, n·rows, out)`
   * (optional: a device backend fuses the residual add into the product; `tmp` [n, rows] may be overwritten).
   */
  matmulAdd?(w: W, x: B, n: number, out: B, tmp: B): void;
  /**
   * `rope(q, …heads)`, `rope(k, …kvHeads)` and `kvStore(kCache, k, …)` of `shape` in one call (optional: a
   * device backend fuses them into one dispatch; the results are those of the three calls).
   */
  ropeKv?(q: B, k: B, kCache: B, shape: AttentionShape, theta: number): void;
  /**
   * One decode row (shape.n = 1, at position shape.startPos): row `row` of q [·, heads, headDim], k and v
   * [·, kvHeads, headDim] go through `ropeKv`, `kvStore(vCache, v, …)` and `attention`, whose result lands in
   * row `row` of out; q and k are left unrotated (optional: a device backend does it in one dispatch, with no
   * copies of the row; the options window, softcap and scale are not taken).
   */
  attendRow?(q: B, k: B, v: B, row: number, kCache: B, vCache: B, shape: AttentionShape, theta: number, out: B): void;
  /**
   * `slots` zero-filled buffers of `length` floats carved out of one allocation `whole`, slot i starting at
   * float i·stride (stride ≥ length, the backend's alignment). A slot works as any buffer in every call;
   * `whole` is what `attendRows` takes; releasing `whole` frees them all (releasing a slot frees nothing).
   * Undefined where the backend cannot hold that much in one buffer (optional).
   */
  allocSlots?(length: number, slots: number): SlotBuffers<B> | undefined;
  /**
   * `attendRow` of rows 0..n−1 of q, k and v at once: row i sits at position places[i].pos of slot
   * places[i].slot of the K and V slot sets `k` and `v` (from `allocSlots`, each slot a `[kvHeads][capacity][headDim]`
   * cache). Every row's result is the bits `attendRow` gives it alone (optional: one dispatch on a device
   * backend; shape.n and shape.startPos are not read).
   */
  attendRows?(q: B, k: B, v: B, n: number, kSlots: SlotBuffers<B>, vSlots: SlotBuffers<B>, places: readonly SlotPlace[], shape: AttentionShape, theta: number, out: B): void;
  /**
   * out = silu(gate·x) · (up·x) over n rows: the result of `matmul(gate, x, n, out)`, `matmul(up, x, n, tmp)`
   * and `swiglu(out, tmp, n·rows, out)` (optional: a device backend runs both products and the activation in
   * one dispatch; `tmp` [n, rows] may be overwritten).
   */
  matmulSwiglu?(gate: W, up: W, x: B, n: number, out: B, tmp: B, norm?: InputNorm<B>): void;
  /** `matmul(w0, x, n, out0)`, `matmul(w1, x, n, out1)`, `matmul(w2, x, n, out2)` (optional: one dispatch on a device backend). */
  matmul3?(w0: W, w1: W, w2: W, x: B, n: number, out0: B, out1: B, out2: B, norm?: InputNorm<B>): void;
}

/** Buffers from `Backend.allocSlots`. */
export interface SlotBuffers<B> {
  readonly whole: B;
  readonly slots: readonly B[];
  /** Floats from the start of one slot to the next. */
  readonly stride: number;
}

/** Where one row of `attendRows` goes: a slot of the cache buffers and the position in it. */
export interface SlotPlace {
  readonly slot: number;
  readonly pos: number;
}

/**
 * An RMSNorm in front of a fused product (`matmul3`, `matmulSwiglu`): the product's input is
 * `rmsnorm(x, weight, eps, n, cols, tmp)`; a backend that fuses the norm leaves `tmp` unwritten.
 */
export interface InputNorm<B> {
  readonly weight: B;
  readonly eps: number;
  readonly tmp: B;
}

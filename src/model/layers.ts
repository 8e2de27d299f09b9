import type { Backend } from '../kernels/types.js';
import type { ArchConfig } from '../tensor/bundle.js';
import type { DecoderWeights, LayerWeights, Linear } from './weights.js';

/**
 * The per-layer code of the decoder, shared by the one-sequence forward pass (decoder.ts) and the batched
 * decode step (batch-step.ts). Everything but the position-dependent middle of the attention block (RoPE,
 * the KV-cache write and attention itself, the `AttentionCore`) works on n independent rows, so one call
 * per weight serves every row; the core decides how rows map to positions and caches.
 */

/** Activation buffers for up to `rows` rows. */
export interface Scratch<B> {
  rows: number;
  x: B; h: B; q: B; k: B; v: B; att: B; o: B; gate: B; up: B; logits: B; last: B;
}

/** The buffers an attention core reads (q, k, v) and writes (att). */
export type AttentionBuffers<B> = Pick<Scratch<B>, 'q' | 'k' | 'v' | 'att'>;

/**
 * Where an observer sees activations: `residual` is the stream entering layer l (l = num_layers: after the
 * last layer, before the final norm); the others are the inputs of a layer's projections (`attn_in` of
 * q/k/v, `o_in` of o_proj, `mlp_in` of gate/up, `down_in` of down_proj).
 */
export type ActivationSite = 'residual' | 'attn_in' | 'o_in' | 'mlp_in' | 'down_in';
/** Receives `n` rows of `dim` floats (a view valid only during the call). Used for calibration statistics. */
export type ActivationObserver = (layer: number, site: ActivationSite, rows: Float32Array, n: number, dim: number) => void;

/** What the layer code runs on: shapes, backend, weights and an optional observer. */
export interface LayerStack<B, W> {
  readonly config: ArchConfig;
  readonly be: Backend<B, W>;
  readonly weights: DecoderWeights<B, W>;
  readonly observer: ActivationObserver | undefined;
}

/** RoPE, KV-cache write and attention of the n rows of `s.q`/`s.k`/`s.v` of layer l, into `s.att`. */
export type AttentionCore<B> = (s: AttentionBuffers<B>, n: number, l: number) => void;

export function allocScratch<B>(be: Backend<B, unknown>, c: ArchConfig, rows: number): Scratch<B> {
  const a = (n: number): B => be.alloc(rows * n);
  const qDim = c.num_heads * c.head_dim;
  const kvDim = c.num_kv_heads * c.head_dim;
  return {
    rows,
    x: a(c.hidden_size), h: a(c.hidden_size), q: a(qDim), k: a(kvDim), v: a(kvDim), att: a(qDim), o: a(c.hidden_size),
    gate: a(c.intermediate_size), up: a(c.intermediate_size), logits: a(c.vocab_size), last: be.alloc(c.hidden_size),
  };
}

export function releaseScratch<B>(be: Backend<B, unknown>, s: Scratch<B> | undefined): void {
  if (s) for (const [k, buf] of Object.entries(s)) if (k !== 'rows') be.release?.(buf as B);
}

function observe<B, W>(st: LayerStack<B, W>, layer: number, site: ActivationSite, buf: B, n: number, dim: number): void {
  if (st.observer) st.observer(layer, site, st.be.read(buf, 0, n * dim), n, dim);
}

function linear<B, W>(be: Backend<B, W>, lin: Linear<B, W>, x: B, n: number, out: B): void {
  be.matmul(lin.w, x, n, out);
  if (lin.bias !== undefined) be.addBias(out, lin.bias, n, lin.rows);
}

/** out += lin(x) over n rows of `dim` (the residual add), fused into the product where the backend can; `tmp` is clobbered. */
function linearAdd<B, W>(be: Backend<B, W>, lin: Linear<B, W>, x: B, n: number, dim: number, out: B, tmp: B): void {
  if (be.matmulAdd !== undefined && lin.bias === undefined) return be.matmulAdd(lin.w, x, n, out, tmp);
  linear(be, lin, x, n, tmp);
  be.add(out, tmp, n * dim, out);
}

/** The single-sequence core: n consecutive positions pos.. of one cache (`kc`, `vc` of the layer). */
export function ropeAttend<B, W>(st: LayerStack<B, W>, s: AttentionBuffers<B>, n: number, pos: number, kc: B, vc: B, capacity: number): void {
  const c = st.config;
  const be = st.be;
  const shape = { n, startPos: pos, heads: c.num_heads, kvHeads: c.num_kv_heads, headDim: c.head_dim, capacity };
  if (be.ropeKv !== undefined) be.ropeKv(s.q, s.k, kc, shape, c.rope_theta);
  else {
    be.rope(s.q, n, c.num_heads, c.head_dim, pos, c.rope_theta);
    be.rope(s.k, n, c.num_kv_heads, c.head_dim, pos, c.rope_theta);
    be.kvStore(kc, s.k, n, c.num_kv_heads, c.head_dim, pos, capacity);
  }
  be.kvStore(vc, s.v, n, c.num_kv_heads, c.head_dim, pos, capacity);
  be.attention(s.q, kc, vc, shape, s.att);
}

function attentionBlock<B, W>(st: LayerStack<B, W>, s: Scratch<B>, lw: LayerWeights<B, W>, n: number, l: number, core: AttentionCore<B>): void {
  const c = st.config;
  const be = st.be;
  const H = c.hidden_size;
  be.rmsnorm(s.x, lw.inputNorm, c.rms_norm_eps, n, H, s.h);
  observe(st, l, 'attn_in', s.h, n, H);
  linear(be, lw.q, s.h, n, s.q);
  linear(be, lw.k, s.h, n, s.k);
  linear(be, lw.v, s.h, n, s.v);
  core(s, n, l);
  observe(st, l, 'o_in', s.att, n, c.num_heads * c.head_dim);
  linearAdd(be, lw.o, s.att, n, H, s.x, s.o);
}

function mlpBlock<B, W>(st: LayerStack<B, W>, s: Scratch<B>, lw: LayerWeights<B, W>, n: number, l: number): void {
  const c = st.config;
  const be = st.be;
  const H = c.hidden_size;
  be.rmsnorm(s.x, lw.postNorm, c.rms_norm_eps, n, H, s.h);
  observe(st, l, 'mlp_in', s.h, n, H);
  linear(be, lw.gate, s.h, n, s.gate);
  linear(be, lw.up, s.h, n, s.up);
  be.swiglu(s.gate, s.up, n * c.intermediate_size, s.gate);
  observe(st, l, 'down_in', s.gate, n, c.intermediate_size);
  linearAdd(be, lw.down, s.gate, n, H, s.x, s.o);
}

/** Embeds n tokens into `s.x` and runs every layer over them; `core` places each row in its cache. */
export function runLayers<B, W>(st: LayerStack<B, W>, s: Scratch<B>, tokens: readonly number[], n: number, core: AttentionCore<B>): void {
  st.be.embed(st.weights.embed, tokens, s.x);
  st.weights.layers.forEach((lw, l) => {
    observe(st, l, 'residual', s.x, n, st.config.hidden_size);
    attentionBlock(st, s, lw, n, l, core);
    mlpBlock(st, s, lw, n, l);
  });
  observe(st, st.weights.layers.length, 'residual', s.x, n, st.config.hidden_size);
}

/** Final norm and LM head over m rows of `x`, into `s.logits` ([m, vocab]; read it back with the backend). */
export function headLogits<B, W>(st: LayerStack<B, W>, s: Scratch<B>, x: B, m: number): void {
  const c = st.config;
  st.be.rmsnorm(x, st.weights.norm, c.rms_norm_eps, m, c.hidden_size, s.h);
  st.be.matmul(st.weights.lmHead, s.h, m, s.logits);
}

import type { Backend, InputNorm, SlotBuffers, SlotPlace } from '../kernels/types.js';
import type { ArchConfig } from '../tensor/bundle.js';
import { addLoraDelta } from './lora-apply.js';
import { archPlan, kernelMissing } from './arch-plan.js';
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
  /** q and k after the per-head q_norm / k_norm (architectures with q/k norms only). */
  qn?: B; kn?: B;
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
    ...(archPlan(c).traits.qkNorm ? { qn: a(qDim), kn: a(kvDim) } : {}),
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
  if (lin.lora !== undefined) addLoraDelta(be, lin.lora, x, n, lin.rows, out);
  if (lin.bias !== undefined) be.addBias(out, lin.bias, n, lin.rows);
}

/** A projection with neither bias nor LoRA: a backend's fused products may take it. */
function plainLinear<B, W>(lin: Linear<B, W>): boolean {
  return lin.bias === undefined && lin.lora === undefined;
}

/** out += lin(x) over n rows of `dim` (the residual add), fused into the product where the backend can; `tmp` is clobbered. */
function linearAdd<B, W>(be: Backend<B, W>, lin: Linear<B, W>, x: B, n: number, dim: number, out: B, tmp: B): void {
  if (be.matmulAdd !== undefined && lin.bias === undefined && lin.lora === undefined) return be.matmulAdd(lin.w, x, n, out, tmp);
  linear(be, lin, x, n, tmp);
  be.add(out, tmp, n * dim, out);
}

/**
 * The single-sequence core: n consecutive positions pos.. of one cache (`kc`, `vc` of layer l), with the
 * layer's RoPE base and width and its attention options (window, soft-cap, scale; see src/tensor/arch.ts).
 */
export function ropeAttend<B, W>(st: LayerStack<B, W>, s: AttentionBuffers<B>, n: number, pos: number, kc: B, vc: B, capacity: number, l: number): void {
  if (n === 1 && attendRow(st, s, 0, pos, kc, vc, capacity, l)) return;
  const c = st.config;
  const be = st.be;
  const { theta, rotaryDim, ...opts } = archPlan(c).attn[l] ?? { theta: c.rope_theta, rotaryDim: c.head_dim };
  const shape = { n, startPos: pos, heads: c.num_heads, kvHeads: c.num_kv_heads, headDim: c.head_dim, capacity, ...opts };
  if (be.ropeKv !== undefined && rotaryDim === c.head_dim) be.ropeKv(s.q, s.k, kc, shape, theta);
  else {
    be.rope(s.q, n, c.num_heads, c.head_dim, pos, theta, rotaryDim);
    be.rope(s.k, n, c.num_kv_heads, c.head_dim, pos, theta, rotaryDim);
    be.kvStore(kc, s.k, n, c.num_kv_heads, c.head_dim, pos, capacity);
  }
  be.kvStore(vc, s.v, n, c.num_kv_heads, c.head_dim, pos, capacity);
  be.attention(s.q, kc, vc, shape, s.att);
}

/** The RoPE base of layer l when its attention is plain (full rotary width, no window, soft-cap or scale), else undefined. */
function plainTheta(c: ArchConfig, l: number): number | undefined {
  const a = archPlan(c).attn[l];
  const plain = a === undefined || (a.rotaryDim === c.head_dim && a.window === undefined && a.softcap === undefined && a.scale === undefined);
  return plain ? (a?.theta ?? c.rope_theta) : undefined;
}

/**
 * Row `row` of s as one decode token at position pos through the backend's fused `attendRow` (the same
 * result as `ropeAttend` of that row alone); false, with nothing done, where the backend or the layer's
 * attention options rule it out. The one-token forward and every row of a batched step take it alike.
 */
export function attendRow<B, W>(st: LayerStack<B, W>, s: AttentionBuffers<B>, row: number, pos: number, kc: B, vc: B, capacity: number, l: number): boolean {
  const c = st.config;
  const theta = plainTheta(c, l);
  if (st.be.attendRow === undefined || theta === undefined) return false;
  const shape = { n: 1, startPos: pos, heads: c.num_heads, kvHeads: c.num_kv_heads, headDim: c.head_dim, capacity };
  st.be.attendRow(s.q, s.k, s.v, row, kc, vc, shape, theta, s.att);
  return true;
}

/**
 * Every row of s through the backend's `attendRows`, row i at `places[i]` of layer l's slot buffers (the bits
 * `attendRow` gives each row alone); false, with nothing done, where the backend or the layer rules it out.
 */
export function attendRowsInSlots<B, W>(st: LayerStack<B, W>, s: AttentionBuffers<B>, places: readonly SlotPlace[], kv: { k: SlotBuffers<B>; v: SlotBuffers<B> }, capacity: number, l: number): boolean {
  const c = st.config;
  const theta = plainTheta(c, l);
  if (st.be.attendRows === undefined || theta === undefined) return false;
  const shape = { n: places.length, startPos: 0, heads: c.num_heads, kvHeads: c.num_kv_heads, headDim: c.head_dim, capacity };
  st.be.attendRows(s.q, s.k, s.v, places.length, kv.k, kv.v, places, shape, theta, s.att);
  return true;
}

/**
 * The RMSNorm of s.x in front of a block's projections: handed to the backend's fused product (returned;
 * s.x is then the product's input) when `fuse` and no observer needs to see it, else written to s.h
 * (and observed at `site`) and undefined returned.
 */
function inputNorm<B, W>(st: LayerStack<B, W>, s: Scratch<B>, weight: B, n: number, l: number, site: ActivationSite, fuse: boolean): InputNorm<B> | undefined {
  const eps = st.config.rms_norm_eps;
  if (fuse && st.observer === undefined) return { weight, eps, tmp: s.h };
  st.be.rmsnorm(s.x, weight, eps, n, st.config.hidden_size, s.h);
  observe(st, l, site, s.h, n, st.config.hidden_size);
  return undefined;
}

function attentionBlock<B, W>(st: LayerStack<B, W>, s: Scratch<B>, lw: LayerWeights<B, W>, n: number, l: number, core: AttentionCore<B>): void {
  const c = st.config;
  const be = st.be;
  const fused = be.matmul3 !== undefined && [lw.q, lw.k, lw.v].every(plainLinear);
  const norm = inputNorm(st, s, lw.inputNorm, n, l, 'attn_in', fused);
  if (fused) be.matmul3?.(lw.q.w, lw.k.w, lw.v.w, norm ? s.x : s.h, n, s.q, s.k, s.v, norm);
  else {
    linear(be, lw.q, s.h, n, s.q);
    linear(be, lw.k, s.h, n, s.k);
    linear(be, lw.v, s.h, n, s.v);
  }
  core(qkNormed(st, s, lw, n), n, l);
  observe(st, l, 'o_in', s.att, n, c.num_heads * c.head_dim);
  residualAdd(st, s, lw.o, s.att, n, lw.attnOutNorm);
}

/** q and k after the per-head RMSNorm of Qwen3 / Gemma 3 (rows of head_dim), else `s` itself. */
function qkNormed<B, W>(st: LayerStack<B, W>, s: Scratch<B>, lw: LayerWeights<B, W>, n: number): AttentionBuffers<B> {
  if (lw.qNorm === undefined || lw.kNorm === undefined || s.qn === undefined || s.kn === undefined) return s;
  const c = st.config;
  st.be.rmsnorm(s.q, lw.qNorm, c.rms_norm_eps, n * c.num_heads, c.head_dim, s.qn);
  st.be.rmsnorm(s.k, lw.kNorm, c.rms_norm_eps, n * c.num_kv_heads, c.head_dim, s.kn);
  return { q: s.qn, k: s.kn, v: s.v, att: s.att };
}

/** x += lin(input); with Gemma's post-norm `norm`, x += RMSNorm(lin(input)). */
function residualAdd<B, W>(st: LayerStack<B, W>, s: Scratch<B>, lin: Linear<B, W>, input: B, n: number, norm: B | undefined): void {
  const { be, config: c } = st;
  const H = c.hidden_size;
  if (norm === undefined) return linearAdd(be, lin, input, n, H, s.x, s.o);
  linear(be, lin, input, n, s.o);
  be.rmsnorm(s.o, norm, c.rms_norm_eps, n, H, s.h);
  be.add(s.x, s.h, n * H, s.x);
}

/** gate ← act(gate) · up: SwiGLU, or Gemma's GELU-tanh gate. */
function gateActivation<B, W>(st: LayerStack<B, W>, s: Scratch<B>, length: number): void {
  const be = st.be;
  if (archPlan(st.config).traits.activation === 'silu') return be.swiglu(s.gate, s.up, length, s.gate);
  if (be.geglu === undefined) throw kernelMissing('geglu', be.name);
  be.geglu(s.gate, s.up, length, s.gate);
}

function mlpBlock<B, W>(st: LayerStack<B, W>, s: Scratch<B>, lw: LayerWeights<B, W>, n: number, l: number): void {
  const c = st.config;
  const be = st.be;
  const fused = be.matmulSwiglu !== undefined && archPlan(c).traits.activation === 'silu' && plainLinear(lw.gate) && plainLinear(lw.up);
  const norm = inputNorm(st, s, lw.postNorm, n, l, 'mlp_in', fused);
  if (fused) be.matmulSwiglu?.(lw.gate.w, lw.up.w, norm ? s.x : s.h, n, s.gate, s.up, norm);
  else {
    linear(be, lw.gate, s.h, n, s.gate);
    linear(be, lw.up, s.h, n, s.up);
    gateActivation(st, s, n * c.intermediate_size);
  }
  observe(st, l, 'down_in', s.gate, n, c.intermediate_size);
  residualAdd(st, s, lw.down, s.gate, n, lw.ffnOutNorm);
}

/** Token ids held on the device as floats (arg-max picks), from ids[offset]. */
export interface PickedIds<B> {
  readonly ids: B;
  readonly offset: number;
}

/** Embeds n tokens (host ids, or picks on the device) into `s.x` and runs every layer over them; `core` places each row in its cache. */
export function runLayers<B, W>(st: LayerStack<B, W>, s: Scratch<B>, tokens: readonly number[] | PickedIds<B>, n: number, core: AttentionCore<B>): void {
  const be = st.be;
  if (Array.isArray(tokens)) be.embed(st.weights.embed, tokens, s.x);
  else {
    const picked = tokens as PickedIds<B>;
    if (be.embedPicked === undefined) throw kernelMissing('embedPicked', be.name);
    be.embedPicked(st.weights.embed, picked.ids, picked.offset, n, s.x);
  }
  const embedScale = archPlan(st.config).embedScale;
  if (embedScale !== undefined) {
    if (be.scale === undefined) throw kernelMissing('scale', be.name);
    be.scale(s.x, n * st.config.hidden_size, embedScale);
  }
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
  const cap = archPlan(c).finalSoftcap;
  if (cap === undefined) return;
  if (st.be.softcap === undefined) throw kernelMissing('softcap', st.be.name);
  st.be.softcap(s.logits, m * c.vocab_size, cap);
}

/**
 * Numeric checks of stage 6 beyond shapes: the RoPE the model will run (the CPU kernel at the model's θ and
 * rotary width) must keep norms and make q·k depend only on the position difference, and layer 0's attention
 * scores for real inputs must be finite and of a plausible size.
 */
import { rope } from '../../kernels/cpu/rope.js';
import type { ArchConfig } from '../../tensor/bundle.js';
import type { TensorStore } from '../../tensor/store.js';
import { readFloats } from './tensors.js';
import { type Findings, errorMessage } from './types.js';

/**
 * float32 angles fl(p·inv_freq) are off by ≤ p·2^−24 rad, and each rotated pair adds float32 products of unit-size
 * values: at positions ≤ 100 the invariants below hold to ≈ 1e−5 on unit vectors; 1e−4 leaves a margin while a
 * wrong pairing, frequency or sign gives errors of order 1.
 */
const ROPE_TOL = 1e-4;
/** Layer-0 scores |q·k|·scale above this saturate softmax completely; trained models stay far below. */
const SCORE_MAX = 1e4;
const PROBE_TOKENS = 8;

function vector(d: number, seed: number): Float32Array {
  const v = new Float32Array(d);
  let s = seed >>> 0, norm = 0;
  for (let i = 0; i < d; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    v[i] = s / 2 ** 32 - 0.5;
    norm += (v[i] as number) ** 2;
  }
  return v.map((x) => x / Math.sqrt(norm));
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

function rotated(v: Float32Array, pos: number, c: ArchConfig, rotaryDim: number): Float32Array {
  return rope(Float32Array.from(v), 1, 1, c.head_dim, pos, c.rope_theta, rotaryDim);
}

/** ‖R_p q‖ = ‖q‖ and ⟨R_m q, R_n k⟩ = ⟨R_{m+s} q, R_{n+s} k⟩ for the kernel at this model's settings. */
export function ropeNumerics(c: ArchConfig, f: Findings): void {
  const rotaryDim = 2 * Math.floor((c.head_dim * (c.partial_rotary_factor ?? 1)) / 2);
  if (rotaryDim < 2 || c.head_dim % 2 !== 0 || !(c.rope_theta > 1)) return;
  const q = vector(c.head_dim, 1), k = vector(c.head_dim, 2);
  let worst = 0;
  for (const [m, n, s] of [[3, 0, 17], [40, 9, 51], [7, 7, 93]] as const) {
    worst = Math.max(worst, Math.abs(Math.sqrt(dot(rotated(q, m, c, rotaryDim), rotated(q, m, c, rotaryDim))) - 1));
    worst = Math.max(worst, Math.abs(dot(rotated(q, m, c, rotaryDim), rotated(k, n, c, rotaryDim)) - dot(rotated(q, m + s, c, rotaryDim), rotated(k, n + s, c, rotaryDim))));
  }
  if (worst > ROPE_TOL) f.fail(`RoPE (θ ${c.rope_theta}, ${rotaryDim} of ${c.head_dim} dims): norm or relative-position invariance off by ${worst.toExponential(2)} (> ${ROPE_TOL})`);
  else f.note(`RoPE keeps norms and relative positions to ${worst.toExponential(1)}`);
}

function rmsRows(e: Float32Array, H: number, rows: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let t = 0; t < rows; t++) {
    const x = e.subarray(t * H, (t + 1) * H);
    const rms = Math.sqrt(dot(x, x) / H + 1e-6);
    out.push(x.map((v) => v / rms));
  }
  return out;
}

function project(w: Float32Array, x: Float32Array, rows: number): Float32Array {
  const H = x.length, y = new Float32Array(rows);
  for (let r = 0; r < rows; r++) y[r] = dot(w.subarray(r * H, (r + 1) * H), x);
  return y;
}

/** max |q_h·k_g|·scale over probe tokens for layer 0, with RMS-normalised embedding rows (norm gain left out). */
function layer0Scores(c: ArchConfig, tensors: TensorStore): number | undefined {
  const [emb, wq, wk] = ['model.embed_tokens.weight', 'model.layers.0.self_attn.q_proj.weight', 'model.layers.0.self_attn.k_proj.weight'].map((n) => tensors.get(n));
  if (!emb || !wq || !wk) return undefined;
  const H = c.hidden_size, d = c.head_dim, rows = Math.min(PROBE_TOKENS, c.vocab_size);
  const xs = rmsRows(readFloats(emb).subarray(0, rows * H), H, rows);
  const Q = readFloats(wq), K = readFloats(wk);
  const scale = 1 / Math.sqrt(c.query_pre_attn_scalar ?? d);
  const qs = xs.map((x) => project(Q, x, c.num_heads * d)), ks = xs.map((x) => project(K, x, c.num_kv_heads * d));
  let worst = 0;
  for (const q of qs) for (const k of ks) for (let h = 0; h < c.num_heads; h++) {
    const g = Math.floor(h / (c.num_heads / c.num_kv_heads));
    const s = Math.abs(dot(q.subarray(h * d, (h + 1) * d), k.subarray(g * d, (g + 1) * d))) * scale;
    worst = Number.isFinite(s) ? Math.max(worst, s) : Infinity;
  }
  return worst;
}

export function scoreNumerics(c: ArchConfig, tensors: TensorStore, f: Findings): void {
  let worst: number | undefined;
  try {
    worst = layer0Scores(c, tensors);
  } catch (err) {
    f.warn(`layer-0 attention scores not computed (${errorMessage(err)})`);
    return;
  }
  if (worst === undefined) return;
  if (!Number.isFinite(worst)) f.fail('layer 0: non-finite attention scores for the first embedding rows');
  else if (worst > SCORE_MAX) f.warn(`layer 0: attention scores up to ${worst.toPrecision(3)} (> ${SCORE_MAX}: softmax saturates)`);
  else f.note(`layer-0 scores of ${PROBE_TOKENS} embedding rows finite, |q·k|/√d ≤ ${worst.toPrecision(3)}`);
}

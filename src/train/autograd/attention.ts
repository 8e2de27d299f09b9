import { matmulNT, transposeInto } from './linalg.js';
import type { Tape, Var } from './tape.js';

/** Shape of one causal grouped-query attention over a whole sequence (positions 0..n−1). */
export interface AttnShape {
  readonly n: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly headDim: number;
}

/**
 * o[t, h] = Σ_{j ≤ t} p_j · v[j, g(h)], p = softmax_j(q[t, h]·k[j, g(h)] / √d), g(h) = ⌊h / (heads/kvHeads)⌋
 * (transformers' repeat_kv). Per head it is three products (S = Q·Kᵀ, O = P·V, through the SIMD matmul)
 * around a float64 softmax; P is kept ([heads][n][n'], n' = n rounded up to 4, zero above the diagonal) for
 * the backward pass:  dP = dO·Vᵀ,  dS = P ⊙ (dP − rowsum(P ⊙ dP)) / √d,  dQ = dS·K,  dK += dSᵀ·Q,  dV += Pᵀ·dO.
 */
export function attention(tape: Tape, q: Var, k: Var, v: Var, s: AttnShape): Var {
  const { n, heads, headDim: d } = s;
  const np = (n + 3) & ~3;
  const out = new Float32Array(n * heads * d);
  const probs = new Float32Array(heads * n * np);
  const w = new Work(n, np, d);
  for (let h = 0; h < heads; h++) {
    const g = group(s, h);
    gather(k.value, n, s.kvHeads, d, g, w.kh);
    gather(v.value, n, s.kvHeads, d, g, w.vh);
    gather(q.value, n, heads, d, h, w.qh);
    const p = probs.subarray(h * n * np, (h + 1) * n * np);
    matmulNT(w.kh, n, d, w.qh, n, w.s, false, true);
    softmaxCausal(w.s, n, 1 / Math.sqrt(d), p, np);
    transposeInto(w.vh, n, d, w.t1, np);
    matmulNT(w.t1, d, np, p, n, w.oh, false, true);
    scatter(w.oh, n, heads, d, h, out, false);
  }
  const needs = q.requiresGrad || k.requiresGrad || v.requiresGrad;
  return tape.output(out, needs, (o) => attentionBack(q, k, v, s, probs, o.g()));
}

/** Per-head temporaries: gathered rows [n, d], scores [n, n], transposes [d, n'] and [n, n']. */
class Work {
  readonly qh: Float32Array;
  readonly kh: Float32Array;
  readonly vh: Float32Array;
  readonly oh: Float32Array;
  readonly s: Float32Array;
  readonly t1: Float32Array;
  readonly t2: Float32Array;

  constructor(n: number, np: number, d: number) {
    this.qh = new Float32Array(n * d);
    this.kh = new Float32Array(n * d);
    this.vh = new Float32Array(n * d);
    this.oh = new Float32Array(n * d);
    this.s = new Float32Array(n * n);
    this.t1 = new Float32Array(d * np);
    this.t2 = new Float32Array(n * np);
  }
}

function group(s: AttnShape, h: number): number {
  return Math.floor(h / (s.heads / s.kvHeads));
}

/** dst [n, d] = rows of head h of src [n, heads, d]. */
function gather(src: Float32Array, n: number, heads: number, d: number, h: number, dst: Float32Array): void {
  for (let t = 0; t < n; t++) dst.set(src.subarray((t * heads + h) * d, (t * heads + h + 1) * d), t * d);
}

/** Adds (or writes) src [n, d] into head h of dst [n, heads, d]. */
function scatter(src: Float32Array, n: number, heads: number, d: number, h: number, dst: Float32Array, accumulate: boolean): void {
  for (let t = 0; t < n; t++) {
    const o = (t * heads + h) * d;
    if (!accumulate) {
      dst.set(src.subarray(t * d, (t + 1) * d), o);
      continue;
    }
    for (let i = 0; i < d; i++) dst[o + i] = (dst[o + i] as number) + (src[t * d + i] as number);
  }
}

/** p[t, j] = softmax over j ≤ t of scale·s[t, j] (float64 sums), zero for j > t; p rows have stride np. */
function softmaxCausal(sc: Float32Array, n: number, scale: number, p: Float32Array, np: number): void {
  for (let t = 0; t < n; t++) {
    const so = t * n;
    const po = t * np;
    let max = -Infinity;
    for (let j = 0; j <= t; j++) {
      const v = (sc[so + j] as number) * scale;
      if (v > max) max = v;
    }
    let sum = 0;
    for (let j = 0; j <= t; j++) {
      const e = Math.exp((sc[so + j] as number) * scale - max);
      p[po + j] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let j = 0; j <= t; j++) p[po + j] = (p[po + j] as number) * inv;
    p.fill(0, po + t + 1, po + np);
  }
}

/**
 * dS = P ⊙ (dP − rowsum(P ⊙ dP))·scale written transposed, dsT[j, t] (stride np, zero for j > t), with
 * Pᵀ alongside in pT: the two operands the dK and dV products take. dS itself goes to `ds` (stride np).
 */
function softmaxBack(p: Float32Array, dp: Float32Array, n: number, np: number, scale: number, ds: Float32Array, dsT: Float32Array, pT: Float32Array): void {
  dsT.fill(0);
  pT.fill(0);
  for (let t = 0; t < n; t++) {
    const po = t * np;
    let sum = 0;
    for (let j = 0; j <= t; j++) sum += (p[po + j] as number) * (dp[t * n + j] as number);
    for (let j = 0; j <= t; j++) {
      const pj = p[po + j] as number;
      const v = pj * ((dp[t * n + j] as number) - sum) * scale;
      ds[po + j] = v;
      dsT[j * np + t] = v;
      pT[j * np + t] = pj;
    }
    ds.fill(0, po + t + 1, po + np);
  }
}

function attentionBack(q: Var, k: Var, v: Var, s: AttnShape, probs: Float32Array, dO: Float32Array): void {
  const { n, heads, kvHeads, headDim: d } = s;
  const np = (n + 3) & ~3;
  const w = new Work(n, np, d);
  const doh = new Float32Array(n * d);
  const ds = new Float32Array(n * np);
  const dsT = new Float32Array(n * np);
  const tmp = new Float32Array(n * d);
  for (let h = 0; h < heads; h++) {
    const g = group(s, h);
    const p = probs.subarray(h * n * np, (h + 1) * n * np);
    gather(dO, n, heads, d, h, doh);
    gather(v.value, n, kvHeads, d, g, w.vh);
    matmulNT(w.vh, n, d, doh, n, w.s, false, true);
    softmaxBack(p, w.s, n, np, 1 / Math.sqrt(d), ds, dsT, w.t2);
    if (q.requiresGrad) {
      gather(k.value, n, kvHeads, d, g, w.kh);
      transposeInto(w.kh, n, d, w.t1, np);
      matmulNT(w.t1, d, np, ds, n, tmp, false, true);
      scatter(tmp, n, heads, d, h, q.g(), true);
    }
    if (k.requiresGrad) {
      gather(q.value, n, heads, d, h, w.qh);
      transposeInto(w.qh, n, d, w.t1, np);
      matmulNT(w.t1, d, np, dsT, n, tmp, false, true);
      scatter(tmp, n, kvHeads, d, g, k.g(), true);
    }
    if (v.requiresGrad) {
      transposeInto(doh, n, d, w.t1, np);
      matmulNT(w.t1, d, np, w.t2, n, tmp, false, true);
      scatter(tmp, n, kvHeads, d, g, v.g(), true);
    }
  }
}

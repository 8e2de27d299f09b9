import type { Tape, Var } from './tape.js';

/** Element-wise and per-row ops of the decoder, with their backward passes. */

/** out = a + b (the residual stream). */
export function add(tape: Tape, a: Var, b: Var): Var {
  const len = a.value.length;
  const out = new Float32Array(len);
  for (let i = 0; i < len; i++) out[i] = (a.value[i] as number) + (b.value[i] as number);
  return tape.output(out, a.requiresGrad || b.requiresGrad, (o) => {
    const dy = o.g();
    for (const v of [a, b]) {
      if (!v.requiresGrad) continue;
      const g = v.g();
      for (let i = 0; i < len; i++) g[i] = (g[i] as number) + (dy[i] as number);
    }
  });
}

/** A norm weight: f32 values and, when trained, their gradient. */
export interface VectorParam {
  readonly data: Float32Array;
  readonly grad?: Float32Array;
}

/**
 * LlamaRMSNorm over rows of x [n, dim]: y = w ⊙ x·r, r = 1/√(mean x² + eps), summed in float64 as the
 * inference kernel does (same bits). Backward: dx = r·(w⊙dy) − r³/dim · x · Σ_j w_j dy_j x_j, dw += Σ_t dy·x·r.
 */
export function rmsnorm(tape: Tape, x: Var, w: VectorParam, n: number, dim: number, eps: number): Var {
  const out = new Float32Array(n * dim);
  const rs = new Float64Array(n);
  const xv = x.value;
  const wd = w.data;
  for (let t = 0; t < n; t++) {
    const o = t * dim;
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += (xv[o + i] as number) * (xv[o + i] as number);
    const r = 1 / Math.sqrt(ss / dim + eps);
    rs[t] = r;
    for (let i = 0; i < dim; i++) out[o + i] = (wd[i] as number) * ((xv[o + i] as number) * r);
  }
  return tape.output(out, x.requiresGrad || w.grad !== undefined, (o) => {
    const dy = o.g();
    const wg = w.grad;
    const dx = x.requiresGrad ? x.g() : undefined;
    for (let t = 0; t < n; t++) {
      const off = t * dim;
      const r = rs[t] as number;
      let dot = 0;
      for (let i = 0; i < dim; i++) dot += (wd[i] as number) * (dy[off + i] as number) * (xv[off + i] as number);
      if (wg) for (let i = 0; i < dim; i++) wg[i] = (wg[i] as number) + (dy[off + i] as number) * (xv[off + i] as number) * r;
      if (!dx) continue;
      const k = (r * r * r * dot) / dim;
      for (let i = 0; i < dim; i++) dx[off + i] = (dx[off + i] as number) + r * (wd[i] as number) * (dy[off + i] as number) - k * (xv[off + i] as number);
    }
  });
}

interface RopeTable {
  half: number;
  cos: Float32Array;
  sin: Float32Array;
  positions: number;
}

const ropeTables = new Map<string, RopeTable>();
const fr = Math.fround;

/** cos/sin of pos·inv_freq rounded to float32 as transformers (and src/kernels/cpu/rope.ts) compute them. */
function ropeTable(headDim: number, theta: number, positions: number): RopeTable {
  const key = `${headDim}:${theta}`;
  const cur = ropeTables.get(key);
  if (cur && cur.positions >= positions) return cur;
  const half = headDim / 2;
  const size = Math.max(positions, 2 * (cur?.positions ?? 0), 256);
  const cos = new Float32Array(size * half);
  const sin = new Float32Array(size * half);
  for (let i = 0; i < half; i++) {
    const inv = fr(1 / fr(Math.pow(theta, fr((2 * i) / headDim))));
    for (let p = 0; p < size; p++) {
      const angle = fr(p * inv);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  const t = { half, cos, sin, positions: size };
  ropeTables.set(key, t);
  return t;
}

/** Rotates pairs (i, i + d/2) of [n, heads, d] rows by ±θ (sign −1: the transpose, for the backward pass). */
function rotate(src: Float32Array, dst: Float32Array, n: number, heads: number, d: number, theta: number, sign: number, accumulate: boolean): void {
  const { half, cos, sin } = ropeTable(d, theta, n);
  for (let t = 0; t < n; t++) {
    for (let h = 0; h < heads; h++) {
      const o = (t * heads + h) * d;
      for (let i = 0; i < half; i++) {
        const a = src[o + i] as number;
        const b = src[o + i + half] as number;
        const c = cos[t * half + i] as number;
        const s = sign * (sin[t * half + i] as number);
        const ya = a * c - b * s;
        const yb = b * c + a * s;
        dst[o + i] = accumulate ? (dst[o + i] as number) + ya : ya;
        dst[o + i + half] = accumulate ? (dst[o + i + half] as number) + yb : yb;
      }
    }
  }
}

/** RoPE (HF rotate_half) at positions 0..n−1; the backward pass rotates the gradient back by −θ. */
export function rope(tape: Tape, x: Var, n: number, heads: number, headDim: number, theta: number): Var {
  const out = new Float32Array(n * heads * headDim);
  rotate(x.value, out, n, heads, headDim, theta, 1, false);
  return tape.output(out, x.requiresGrad, (o) => rotate(o.g(), x.g(), n, heads, headDim, theta, -1, true));
}

/** out = silu(gate)·up; d gate = dy·up·σ(g)(1 + g(1 − σ(g))), d up = dy·silu(g) (σ kept from the forward pass). */
export function swiglu(tape: Tape, gate: Var, up: Var): Var {
  const len = gate.value.length;
  const out = new Float32Array(len);
  const g = gate.value;
  const u = up.value;
  const needs = gate.requiresGrad || up.requiresGrad;
  const sig = needs && tape.recording ? new Float64Array(len) : undefined;
  for (let i = 0; i < len; i++) {
    const gi = g[i] as number;
    const e = 1 + Math.exp(-gi);
    if (sig) sig[i] = 1 / e;
    out[i] = (gi / e) * (u[i] as number);
  }
  return tape.output(out, needs, (o) => swigluBack(o.g(), g, u, sig ?? new Float64Array(0), gate, up));
}

function swigluBack(dy: Float32Array, g: Float32Array, u: Float32Array, sig: Float64Array, gate: Var, up: Var): void {
  const dg = gate.requiresGrad ? gate.g() : undefined;
  const du = up.requiresGrad ? up.g() : undefined;
  for (let i = 0; i < dy.length; i++) {
    const gi = g[i] as number;
    const sg = sig[i] as number;
    const d = dy[i] as number;
    if (du) du[i] = (du[i] as number) + d * gi * sg;
    if (dg) dg[i] = (dg[i] as number) + d * (u[i] as number) * sg * (1 + gi * (1 - sg));
  }
}

/** Row-wise log-softmax of [n, dim]: y = x − log Σ exp x; dx = dy − softmax(x)·Σ dy. */
export function logSoftmax(tape: Tape, x: Var, n: number, dim: number): Var {
  const out = new Float32Array(n * dim);
  const xv = x.value;
  for (let t = 0; t < n; t++) {
    const o = t * dim;
    let max = -Infinity;
    for (let i = 0; i < dim; i++) max = Math.max(max, xv[o + i] as number);
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += Math.exp((xv[o + i] as number) - max);
    const lse = max + Math.log(sum);
    for (let i = 0; i < dim; i++) out[o + i] = (xv[o + i] as number) - lse;
  }
  return tape.output(out, x.requiresGrad, (o) => {
    const dy = o.g();
    const dx = x.g();
    for (let t = 0; t < n; t++) {
      const off = t * dim;
      let s = 0;
      for (let i = 0; i < dim; i++) s += dy[off + i] as number;
      for (let i = 0; i < dim; i++) dx[off + i] = (dx[off + i] as number) + (dy[off + i] as number) - Math.exp(out[off + i] as number) * s;
    }
  });
}

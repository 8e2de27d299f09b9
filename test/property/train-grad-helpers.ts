import { Tape, Var } from '../../src/train/autograd/tape.js';

/**
 * Central finite differences against the tape's gradients. The scalar is L = Σ_i c_i·y_i with fixed random
 * weights c (summed in float64), so dL/dy = c seeds the backward pass. Values are float32: the step is
 * h = 1e-2·max(1, |x|) (or the given step) and the denominator is the float32 difference actually applied. Tolerance per element:
 * |analytic − fd| ≤ atol + rtol·max(|analytic|, |fd|).
 */

export function lcg(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

export function randArray(rnd: () => number, len: number, scale = 1, center = 0): Float32Array {
  const x = new Float32Array(len);
  for (let i = 0; i < len; i++) x[i] = center + (rnd() * 2 - 1) * scale;
  return x;
}

/** Something whose elements the check perturbs: a leaf Var (gradient in .grad after backward) or a parameter. */
export interface Checked {
  name: string;
  data: Float32Array;
  /** The analytic gradient after backward. */
  grad: () => Float32Array | undefined;
}

export function leaf(name: string, x: Float32Array): { v: Var; c: Checked } {
  const v = new Var(x, true);
  return { v, c: { name, data: x, grad: () => v.grad } };
}

export function param(name: string, p: { data: Float32Array; grad: Float32Array }): Checked {
  return { name, data: p.data, grad: () => p.grad };
}

export interface GradReport {
  /** Largest |finite difference| seen: shows the checked gradients are not all negligible. */
  largest: number;
  worstRel: number;
  worstAbs: number;
  checked: number;
  failures: string[];
}

function weightedSum(y: Float32Array, c: Float64Array): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += (c[i] as number) * (y[i] as number);
  return s;
}

/**
 * Runs `build` on a recording tape, back-propagates c, then compares `perTensor` random elements of every
 * checked tensor against central differences of L (each difference recomputes `build` without a tape).
 */
export function gradCheck(build: (tape: Tape) => Var, checked: Checked[], opts: { seed: number; perTensor?: number; atol: number; rtol: number; h?: number }): GradReport {
  const rnd = lcg(opts.seed);
  const y0 = build(new Tape(true));
  const c = Float64Array.from({ length: y0.value.length }, () => rnd() * 2 - 1);
  const tape = new Tape(true);
  const y = build(tape);
  tape.backward(y, Float32Array.from(c));
  const report: GradReport = { largest: 0, worstRel: 0, worstAbs: 0, checked: 0, failures: [] };
  for (const t of checked) {
    const g = t.grad();
    const count = Math.min(opts.perTensor ?? 6, t.data.length);
    for (let k = 0; k < count; k++) {
      const i = Math.floor(rnd() * t.data.length);
      const x = t.data[i] as number;
      const h = 1e-2 * Math.max(1, Math.abs(x));
      t.data[i] = x + h;
      const up = t.data[i];
      const lp = weightedSum(build(new Tape(false)).value, c);
      t.data[i] = x - h;
      const dn = t.data[i];
      const lm = weightedSum(build(new Tape(false)).value, c);
      t.data[i] = x;
      const fd = (lp - lm) / (up - dn);
      const an = g === undefined ? 0 : (g[i] as number);
      const err = Math.abs(an - fd);
      const scale = Math.max(Math.abs(an), Math.abs(fd));
      report.checked++;
      report.largest = Math.max(report.largest, Math.abs(fd));
      report.worstAbs = Math.max(report.worstAbs, err);
      if (scale > 1e-6) report.worstRel = Math.max(report.worstRel, err / scale);
      if (err > opts.atol + opts.rtol * scale) report.failures.push(`${t.name}[${i}]: analytic ${an}, finite difference ${fd}`);
    }
  }
  return report;
}

/** The same check through a whole model: analytic from forward().backward(c), differences from logits(). */
export function modelGradCheck(
  model: { forward(ids: number[]): { logits: Float32Array; backward(d: Float32Array): void }; logits(ids: number[]): Float32Array; zeroGrad(): void },
  ids: number[],
  checked: Checked[],
  opts: { seed: number; perTensor?: number; atol: number; rtol: number },
): GradReport {
  const rnd = lcg(opts.seed);
  model.zeroGrad();
  const f = model.forward(ids);
  const c = Float64Array.from({ length: f.logits.length }, () => rnd() * 2 - 1);
  f.backward(Float32Array.from(c));
  const report: GradReport = { largest: 0, worstRel: 0, worstAbs: 0, checked: 0, failures: [] };
  for (const t of checked) {
    const g = t.grad();
    for (let k = 0; k < Math.min(opts.perTensor ?? 3, t.data.length); k++) {
      const i = Math.floor(rnd() * t.data.length);
      const x = t.data[i] as number;
      const h = 1e-2 * Math.max(1, Math.abs(x));
      t.data[i] = x + h;
      const up = t.data[i];
      const lp = weightedSum(model.logits(ids), c);
      t.data[i] = x - h;
      const dn = t.data[i];
      const lm = weightedSum(model.logits(ids), c);
      t.data[i] = x;
      const fd = (lp - lm) / (up - dn);
      const an = g === undefined ? 0 : (g[i] as number);
      const err = Math.abs(an - fd);
      const scale = Math.max(Math.abs(an), Math.abs(fd));
      report.checked++;
      report.largest = Math.max(report.largest, Math.abs(fd));
      report.worstAbs = Math.max(report.worstAbs, err);
      if (scale > 1e-6) report.worstRel = Math.max(report.worstRel, err / scale);
      if (err > opts.atol + opts.rtol * scale) report.failures.push(`${t.name}[${i}]: analytic ${an}, finite difference ${fd}`);
    }
  }
  return report;
}

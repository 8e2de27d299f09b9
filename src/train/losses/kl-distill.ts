/**
 * Knowledge-distillation loss (Hinton et al. 2015): per scored position,
 *   α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1 − α)·CE(softmax(s), next token),
 * averaged over the positions that have a next token (0..n−2). The T² keeps the soft term's gradient on the
 * scale of the hard term's as T grows. An ensemble of teachers contributes the mean of their softened
 * distributions.
 */
import { defineContract } from '../../contract/index.js';
import type { LossResult } from '../types.js';

/** log softmax(scale · row) of `row = x[offset .. offset+vocab)`, in float64. */
export function logSoftmaxRow(x: ArrayLike<number>, offset: number, vocab: number, scale = 1): Float64Array {
  const out = new Float64Array(vocab);
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) {
    const v = (x[offset + i] as number) * scale;
    out[i] = v;
    if (v > max) max = v;
  }
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp((out[i] as number) - max);
  const lse = max + Math.log(sum);
  for (let i = 0; i < vocab; i++) out[i] = (out[i] as number) - lse;
  return out;
}

/** softmax(t/T) of every row of every teacher's logits ([n, vocab] each), averaged over the teachers. */
export function teacherDistribution(teacherLogits: readonly Float32Array[], vocab: number, temperature: number): Float32Array {
  const first = teacherLogits[0];
  if (!first) throw new RangeError('teacherDistribution: no teacher logits');
  // Stryker disable next-line ArithmeticOperator: length·vocab rows only adds rows past the end, whose reads are NaN and whose writes are out of bounds (no-ops)
  const rows = first.length / vocab;
  const out = new Float32Array(first.length);
  const w = 1 / teacherLogits.length;
  for (const t of teacherLogits) {
    if (t.length !== first.length) throw new RangeError('teacherDistribution: teachers disagree on [n, vocab]');
    for (let r = 0; r < rows; r++) {
      const lp = logSoftmaxRow(t, r * vocab, vocab, 1 / temperature);
      for (let i = 0; i < vocab; i++) out[r * vocab + i] = (out[r * vocab + i] as number) + w * Math.exp(lp[i] as number);
    }
  }
  return out;
}

export interface DistillLossOptions {
  readonly vocab: number;
  /** Softening temperature T > 0. */
  readonly temperature: number;
  /** Weight α ∈ [0, 1] of the soft (teacher) term; 1 − α goes to the hard cross-entropy. */
  readonly alpha: number;
}

export interface DistillLossResult extends LossResult {
  /** Mean KL(p_teacher ‖ q_student) at temperature T over the scored positions (without α·T²). */
  readonly kl: number;
  /** Mean cross-entropy of the next tokens at temperature 1 (without 1 − α). */
  readonly ce: number;
  /** Positions scored (n − 1, or the masked targets). */
  readonly tokens: number;
}

interface DistillInput {
  student: Float32Array;
  teacherProbs: Float32Array;
  tokens: ArrayLike<number>;
  opts: DistillLossOptions;
  mask: ArrayLike<number> | undefined;
}

export const klDistillContract = defineContract<DistillInput, DistillLossResult>({
  id: 'loss-kl-distill-v1',
  equation: 'kd_loss',
  spec: 'L = (1/(n−1)) Σ_{p<n−1} [α·T²·KL(P_p ‖ softmax(s_p/T)) + (1−α)·(−log softmax(s_p)[x_{p+1}])]; ∂L/∂s_p = (α·T·(softmax(s_p/T) − P_p) + (1−α)·(softmax(s_p) − e_{x_{p+1}}))/(n−1)',
  pre: [
    ['T > 0 and α ∈ [0, 1]', ({ opts }) => opts.temperature > 0 && opts.alpha >= 0 && opts.alpha <= 1],
    ['student and teacher are [n, vocab] with n ≥ 2', ({ student, teacherProbs, tokens, opts }) =>
      student.length === tokens.length * opts.vocab && teacherProbs.length === student.length && tokens.length >= 2],
    ['mask, if any, has one entry per token', ({ tokens, mask }) => mask === undefined || mask.length === tokens.length],
  ],
  post: [
    ['loss finite, KL ≥ 0 up to rounding', (_i, r) => Number.isFinite(r.loss) && r.kl >= -1e-6],
    ['gradient rows sum to 0', ({ opts }, r) => rowsSumToZero(r.dLogits, opts.vocab, 1e-5)],
  ],
});

function rowsSumToZero(d: Float32Array, vocab: number, tol: number): boolean {
  for (let o = 0; o < d.length; o += vocab) {
    let s = 0;
    // Stryker disable next-line AssignmentOperator: s -= sums −s, and only |s| is compared
    for (let i = 0; i < vocab; i++) s += d[o + i] as number;
    if (Math.abs(s) > tol) return false;
  }
  return true;
}

/**
 * The distillation loss of one sequence and its gradient with respect to the student's logits. With `mask`
 * (a loss mask over the tokens, as TokenExample.mask) only the positions p whose next token is masked in
 * (mask[p+1] ≠ 0) are scored and averaged; the others get a zero gradient row (as trl's GKD, which computes its
 * divergence over the labels ≠ −100). No mask: every position 0..n−2.
 */
export function klDistillLoss(student: Float32Array, teacherProbs: Float32Array, tokens: ArrayLike<number>, opts: DistillLossOptions, mask?: ArrayLike<number>): DistillLossResult {
  return klDistillContract.run({ student, teacherProbs, tokens, opts, mask }, () => distill(student, teacherProbs, tokens, opts, mask));
}

function scoredPositions(n: number, mask: ArrayLike<number> | undefined): number[] {
  const out: number[] = [];
  for (let p = 0; p + 1 < n; p++) if (mask === undefined || mask[p + 1] !== 0) out.push(p);
  return out;
}

function distill(student: Float32Array, teacherProbs: Float32Array, tokens: ArrayLike<number>, opts: DistillLossOptions, mask: ArrayLike<number> | undefined): DistillLossResult {
  const { vocab: V, temperature: T, alpha } = opts;
  const positions = scoredPositions(tokens.length, mask);
  const rows = positions.length;
  const dLogits = new Float32Array(student.length);
  if (rows === 0) return { loss: 0, dLogits, kl: 0, ce: 0, tokens: 0 };
  let kl = 0, ce = 0;
  for (const p of positions) {
    const o = p * V;
    const soft = logSoftmaxRow(student, o, V, 1 / T);
    const hard = logSoftmaxRow(student, o, V);
    const target = tokens[p + 1] as number;
    // Renormalised in float64: the f32 rows sum to 1 only within ~1e-7, an error T² would amplify.
    let norm = 0;
    for (let i = 0; i < V; i++) norm += teacherProbs[o + i] as number;
    for (let i = 0; i < V; i++) {
      const pt = (teacherProbs[o + i] as number) / norm;
      if (pt > 0) kl += pt * (Math.log(pt) - (soft[i] as number));
      const g = alpha * T * (Math.exp(soft[i] as number) - pt) + (1 - alpha) * (Math.exp(hard[i] as number) - (i === target ? 1 : 0));
      dLogits[o + i] = g / rows;
    }
    ce -= hard[target] as number;
  }
  kl /= rows;
  ce /= rows;
  return { loss: alpha * T * T * kl + (1 - alpha) * ce, dLogits, kl, ce, tokens: rows };
}

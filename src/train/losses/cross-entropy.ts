import { defineContract } from '../../contract/index.js';
import type { LossResult } from '../types.js';

/** Target id of an ignored position (as PyTorch's ignore_index). */
export const IGNORE = -100;

export interface CrossEntropyInput {
  /** [n, vocab] row-major. */
  readonly logits: Float32Array;
  /** Target id of each of the n positions, or IGNORE. */
  readonly targets: ArrayLike<number>;
  readonly vocab: number;
}

/**
 * The next-token targets of a sequence: position p predicts tokens[p+1] when mask[p+1] is set (the last
 * position predicts nothing). `mask` undefined = every token after the first is a target.
 */
export function nextTokenTargets(tokens: ArrayLike<number>, mask?: ArrayLike<number>): Int32Array {
  const n = tokens.length;
  const t = new Int32Array(n).fill(IGNORE);
  for (let p = 0; p + 1 < n; p++) if (mask === undefined || mask[p + 1] !== 0) t[p] = tokens[p + 1] ?? IGNORE;
  return t;
}

function finiteLoss(r: LossResult): boolean {
  if (!Number.isFinite(r.loss) || r.loss < 0) return false;
  return r.dLogits.every(Number.isFinite);
}

/** Each counted row of dLogits sums to 0 (softmax − one-hot), up to float32 rounding. */
function rowsSumToZero(i: CrossEntropyInput, r: LossResult): boolean {
  const v = i.vocab;
  for (let p = 0; p < i.targets.length; p++) {
    let s = 0;
    // Stryker disable next-line AssignmentOperator: s -= sums −s, and only |s| is compared
    for (let k = 0; k < v; k++) s += r.dLogits[p * v + k] ?? 0;
    if (Math.abs(s) > 1e-5) return false;
  }
  return true;
}

export const crossEntropyContract = defineContract<CrossEntropyInput, LossResult>({
  id: 'loss-cross-entropy-v1',
  equation: 'masked_cross_entropy',
  spec: 'L = (1/|M|) Σ_{p∈M} (logsumexp(z_p) − z_p[y_p]);  ∂L/∂z_p = (softmax(z_p) − e_{y_p}) / |M| for p ∈ M, 0 elsewhere',
  pre: [
    ['logits are [n, vocab]', (i) => i.vocab > 0 && i.logits.length === i.targets.length * i.vocab],
    ['targets are ids or IGNORE', (i) => Array.from(i.targets).every((t) => t === IGNORE || (Number.isInteger(t) && t >= 0 && t < i.vocab))],
  ],
  post: [
    ['loss finite and ≥ 0, gradient finite', (_i, r) => finiteLoss(r)],
    ['gradient rows sum to 0', rowsSumToZero],
  ],
});

/** Adds (softmax(z) − e_y)/count into `d` and returns logsumexp(z) − z_y, in float64 (max-shifted). */
function row(z: Float32Array, d: Float32Array, off: number, v: number, y: number, inv: number): number {
  let max = -Infinity;
  for (let k = 0; k < v; k++) max = Math.max(max, z[off + k] ?? 0);
  let sum = 0;
  for (let k = 0; k < v; k++) sum += Math.exp((z[off + k] ?? 0) - max);
  const lse = max + Math.log(sum);
  for (let k = 0; k < v; k++) d[off + k] = Math.exp((z[off + k] ?? 0) - lse) * inv;
  d[off + y] = (d[off + y] ?? 0) - inv;
  return lse - (z[off + y] ?? 0);
}

/**
 * Mean cross-entropy over the positions whose target is not IGNORE, with its gradient with respect to the
 * logits (numerically stable log-softmax). No counted position → loss 0 and a zero gradient.
 */
export function crossEntropy(input: CrossEntropyInput): LossResult {
  return crossEntropyContract.run(input, () => {
    const { logits, targets, vocab } = input;
    const dLogits = new Float32Array(logits.length);
    let count = 0;
    for (let p = 0; p < targets.length; p++) if (targets[p] !== IGNORE) count++;
    if (count === 0) return { loss: 0, dLogits };
    let total = 0;
    for (let p = 0; p < targets.length; p++) {
      const y = targets[p] ?? IGNORE;
      if (y !== IGNORE) total += row(logits, dLogits, p * vocab, vocab, y, 1 / count);
    }
    return { loss: total / count, dLogits };
  });
}

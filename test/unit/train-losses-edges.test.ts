import { describe, expect, it } from 'vitest';
import type { TokenExample } from '../../src/train/data/index.js';
import { klDistillLoss, logSoftmaxRow, teacherDistribution } from '../../src/train/losses/kl-distill.js';
import { dpoLoss, orpoLoss } from '../../src/train/losses/preference.js';
import { tokenExampleReport } from '../../src/train/losses/token-example.js';
import type { Trainable } from '../../src/train/model/index.js';
import { BigramModel } from './train-bigram.js';

/** Naive float64 softmax of one row (the definition; fine for the small logits it is used on here). */
function softmax(row: ArrayLike<number>, scale = 1): number[] {
  const e = Array.from(row, (v) => Math.exp(v * scale));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

describe('log-softmax rows', () => {
  it('reads only its own row: a huge logit in the next row changes nothing', () => {
    const x = Float32Array.of(0.5, -1, 2, 1e30, 0, 0);
    const want = softmax([0.5, -1, 2]).map(Math.log);
    const got = logSoftmaxRow(x, 0, 3);
    want.forEach((w, i) => expect(got[i]).toBeCloseTo(w, 12));
  });

  it('is max-shifted: logits of 800 stay finite (e^800 overflows float64)', () => {
    const got = logSoftmaxRow(Float32Array.of(800, 0, -5), 0, 3);
    // log softmax = x − 800 − log(1 + e^−800 + e^−805), and the log term is 0 in float64
    expect(Array.from(got)).toEqual([0, -800, -805]);
  });
});

describe('teacher distribution and masked distillation', () => {
  it('refuses no teacher, and teachers of different shapes', () => {
    expect(() => teacherDistribution([], 2, 1)).toThrow(/no teacher logits/);
    expect(() => teacherDistribution([new Float32Array(4), new Float32Array(6)], 2, 1)).toThrow(/disagree/);
  });

  const V = 3;
  const student = Float32Array.of(0.1, -0.4, 0.9, 1.2, 0.3, -0.7, -0.2, 0.5, 0.0, 0.8, -0.9, 0.2);
  const teacher = teacherDistribution([Float32Array.of(0.5, 0.2, -0.3, -1, 0.4, 0.6, 0.3, 0.3, -0.8, 0.1, 0.7, -0.5)], V, 2);
  const tokens = [2, 0, 1, 2];
  const opts = { vocab: V, temperature: 2, alpha: 0.6 };

  /** The loss of position p by its definition: α·T²·KL(P_p ‖ softmax(s_p/T)) + (1−α)·(−log softmax(s_p)[x_{p+1}]). */
  function handTerm(p: number): number {
    const s = Array.from(student.subarray(p * V, (p + 1) * V));
    const P = Array.from(teacher.subarray(p * V, (p + 1) * V));
    const z = P.reduce((a, b) => a + b, 0);
    const Q = softmax(s, 1 / opts.temperature);
    const kl = P.reduce((a, pi, i) => a + (pi / z) * Math.log(pi / z / (Q[i] as number)), 0);
    const ce = -Math.log(softmax(s)[tokens[p + 1] as number] as number);
    return opts.alpha * opts.temperature ** 2 * kl + (1 - opts.alpha) * ce;
  }

  it('with a mask scores only the positions whose next token is masked in', () => {
    // mask[p+1] ≠ 0 scores p: positions 0 and 2 here; position 1 (mask[2] = 0) gets a zero gradient row
    const r = klDistillLoss(student, teacher, tokens, opts, [0, 1, 0, 1]);
    expect(r.tokens).toBe(2);
    expect(r.loss).toBeCloseTo((handTerm(0) + handTerm(2)) / 2, 9);
    expect(Array.from(r.dLogits.subarray(V, 2 * V))).toEqual([0, 0, 0]);
    expect(Array.from(r.dLogits.subarray(3 * V))).toEqual([0, 0, 0]);
    expect(r.dLogits.subarray(0, V).some((g) => g !== 0)).toBe(true);
  });

  it('a mask with nothing scored gives loss 0 and a zero gradient', () => {
    const r = klDistillLoss(student, teacher, tokens, opts, [1, 0, 0, 0]);
    expect(r).toMatchObject({ loss: 0, kl: 0, ce: 0, tokens: 0 });
    expect(r.dLogits.every((g) => g === 0)).toBe(true);
  });

  it('a one-hot teacher (exact zeros) gives KL = −log q of its token, finite', () => {
    const oneHot = Float32Array.of(0, 1, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0);
    const r = klDistillLoss(student, oneHot, tokens, { ...opts, alpha: 1 });
    const hot = [1, 2, 0];
    const want = hot.reduce((a, h, p) => a - Math.log(softmax(student.subarray(p * V, (p + 1) * V), 1 / opts.temperature)[h] as number), 0) / 3;
    expect(r.kl).toBeCloseTo(want, 9);
  });
});

describe('preference losses at extreme margins', () => {
  it('DPO: −log σ(z) stays exact for z = ±800 (σ and log σ would overflow e^800 naively)', () => {
    const base = { policyChosen: 0, refChosen: 0, refRejected: 0, beta: 1 };
    const won = dpoLoss({ ...base, policyRejected: -800 });
    // −log σ(800) = log(1 + e^−800) = 0 in float64; ∂/∂chosen = −σ(−800) = −e^−800 = 0
    expect(won.loss).toBe(0);
    expect(Math.abs(won.dChosen)).toBeLessThan(1e-300);
    const lost = dpoLoss({ ...base, policyRejected: 800 });
    // −log σ(−800) = 800 + log(1 + e^−800) = 800; σ(800) = 1
    expect(lost.loss).toBe(800);
    expect(lost.dChosen).toBe(-1);
    expect(lost.dRejected).toBe(1);
  });

  it('ORPO: log odds of a mean log-prob near 0 are accurate; the odds-ratio term is −log σ(log odds) > 0', () => {
    const a = -1e-12, b = -2;
    const r = orpoLoss({ chosenMean: a, rejectedMean: b, lambda: 0.5 });
    // log(1 − e^a) = log(−a) + log(1 + a/2 + a²/6 + …) by the series of (1 − e^a)/(−a); for b the plain formula is exact enough
    const logOdds = a - (Math.log(-a) + Math.log1p(a / 2 + (a * a) / 6)) - (b - Math.log(1 - Math.exp(b)));
    expect(r.logOdds).toBeCloseTo(logOdds, 9);
    expect(r.oddsRatioLoss).toBeCloseTo(Math.log(1 + Math.exp(-logOdds)), 12);
    expect(r.loss).toBeCloseTo(-a + 0.5 * Math.log(1 + Math.exp(-logOdds)), 12);
    // a moderate pair, where the odds-ratio term is far from 0: log odds = log(e^−0.5/(1 − e^−0.5)) − log(e^−1/(1 − e^−1))
    const m = orpoLoss({ chosenMean: -0.5, rejectedMean: -1, lambda: 0.5 });
    const lo = Math.log(Math.exp(-0.5) / (1 - Math.exp(-0.5))) - Math.log(Math.exp(-1) / (1 - Math.exp(-1)));
    expect(m.logOdds).toBeCloseTo(lo, 12);
    expect(m.oddsRatioLoss).toBeCloseTo(Math.log(1 + Math.exp(-lo)), 12);
  });
});

describe('token example report', () => {
  const V = 4;
  /** The bigram model as a Trainable (tokenExampleReport reads only config.vocab_size, logits and forward). */
  function model(): { m: BigramModel; t: Trainable } {
    const m = new BigramModel(V, 3);
    const t = { config: { vocab_size: V }, logits: (x: ArrayLike<number>) => m.logits(x), forward: (x: ArrayLike<number>) => m.forward(x) };
    return { m, t: t as unknown as Trainable };
  }
  // targets: positions 0..3 predict tokens 1..4 where the mask is set: 0 (id 0, masked in), 2 (id 3) → weight 2
  const e: TokenExample = { tokens: Int32Array.of(2, 0, 1, 3, 2), mask: Uint8Array.of(0, 1, 0, 1, 0), where: 'x:1' };

  /** The mean masked cross-entropy and ∂/∂bias by their definitions (softmax − one-hot, averaged). */
  function hand(m: BigramModel): { loss: number; dBias: number[] } {
    const logits = m.logits(e.tokens);
    const dBias = new Array<number>(V).fill(0);
    let loss = 0;
    for (const p of [0, 2]) {
      const q = softmax(logits.subarray(p * V, (p + 1) * V));
      const y = e.tokens[p + 1] as number;
      loss -= Math.log(q[y] as number) / 2;
      q.forEach((qi, k) => (dBias[k] = (dBias[k] as number) + (qi - (k === y ? 1 : 0)) / 2));
    }
    return { loss, dBias };
  }

  it('counts the masked-in targets (id 0 included) and gives the mean cross-entropy, with or without the tape', () => {
    const { m, t } = model();
    const want = hand(m);
    const noGrad = tokenExampleReport(t, e, false);
    expect(noGrad.weight).toBe(2);
    expect(noGrad.loss).toBeCloseTo(want.loss, 6);
    expect(m.b.grad.every((g) => g === 0)).toBe(true);
    const withGrad = tokenExampleReport(t, e, true);
    expect(withGrad).toEqual(noGrad);
    Array.from(m.b.grad).forEach((g, k) => expect(g).toBeCloseTo(want.dBias[k] as number, 6));
  });
});

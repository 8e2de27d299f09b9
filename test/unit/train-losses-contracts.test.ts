import { describe, expect, it } from 'vitest';
import { ContractViolation } from '../../src/contract/index.js';
import { crossEntropyContract, IGNORE } from '../../src/train/losses/cross-entropy.js';
import { klDistillContract } from '../../src/train/losses/kl-distill.js';
import { dpoContract, orpoContract, sequenceLogProbContract } from '../../src/train/losses/preference.js';

/**
 * The loss contracts as guards: each clause refuses an input (or output) that breaks it alone, and accepts the
 * boundary values its statement allows. The outputs handed to the post-conditions are made up here on purpose
 * (a correct loss never breaks them, so only a forged result can show that the check is there).
 */
function violates(fn: () => void, clause: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ContractViolation);
  expect((caught as ContractViolation).clause).toBe(clause);
}

describe('masked cross-entropy contract (loss-cross-entropy-v1)', () => {
  const ok = { logits: new Float32Array(6), targets: [0, IGNORE], vocab: 3 };
  it('pre: [n, vocab] logits with vocab > 0, targets ids in [0, vocab) or IGNORE', () => {
    expect(() => crossEntropyContract.checkPre(ok)).not.toThrow();
    expect(() => crossEntropyContract.checkPre({ ...ok, targets: [2, 0] })).not.toThrow();
    violates(() => crossEntropyContract.checkPre({ logits: new Float32Array(0), targets: [IGNORE, IGNORE], vocab: 0 }), 'logits are [n, vocab]');
    violates(() => crossEntropyContract.checkPre({ ...ok, logits: new Float32Array(5) }), 'logits are [n, vocab]');
    violates(() => crossEntropyContract.checkPre({ ...ok, targets: [3, 0] }), 'targets are ids or IGNORE');
    violates(() => crossEntropyContract.checkPre({ ...ok, targets: [0, -1] }), 'targets are ids or IGNORE');
    violates(() => crossEntropyContract.checkPre({ ...ok, targets: [0, 1.5] }), 'targets are ids or IGNORE');
  });

  it('post: a finite loss ≥ 0, a finite gradient whose rows each sum to 0', () => {
    const good = { loss: 0, dLogits: Float32Array.of(0.5, -0.25, -0.25, 0, 0, 0) };
    expect(() => crossEntropyContract.checkPost(ok, good)).not.toThrow();
    violates(() => crossEntropyContract.checkPost(ok, { ...good, loss: Number.NaN }), 'loss finite and ≥ 0, gradient finite');
    violates(() => crossEntropyContract.checkPost(ok, { ...good, loss: -0.5 }), 'loss finite and ≥ 0, gradient finite');
    violates(() => crossEntropyContract.checkPost(ok, { loss: 1, dLogits: Float32Array.of(0, 0, 0, 0, Number.NaN, 0) }), 'loss finite and ≥ 0, gradient finite');
    // row 1 sums to 0.5 (row 0 is fine): every row is checked, not only the first
    violates(() => crossEntropyContract.checkPost(ok, { loss: 1, dLogits: Float32Array.of(0.5, -0.5, 0, 0.25, 0.25, 0) }), 'gradient rows sum to 0');
  });
});

describe('distillation contract (loss-kl-distill-v1)', () => {
  const opts = { vocab: 2, temperature: 2, alpha: 0.5 };
  const ok = { student: new Float32Array(4), teacherProbs: new Float32Array(4).fill(0.5), tokens: [0, 1], opts, mask: undefined };
  it('pre: T > 0, α ∈ [0, 1], [n, vocab] student and teacher with n ≥ 2, one mask entry per token', () => {
    for (const alpha of [0, 1]) expect(() => klDistillContract.checkPre({ ...ok, opts: { ...opts, alpha } })).not.toThrow();
    expect(() => klDistillContract.checkPre({ ...ok, mask: [1, 1] })).not.toThrow();
    for (const bad of [{ temperature: 0 }, { alpha: -0.1 }, { alpha: 1.1 }]) violates(() => klDistillContract.checkPre({ ...ok, opts: { ...opts, ...bad } }), 'T > 0 and α ∈ [0, 1]');
    const shape = 'student and teacher are [n, vocab] with n ≥ 2';
    violates(() => klDistillContract.checkPre({ ...ok, student: new Float32Array(6) , teacherProbs: new Float32Array(6) }), shape);
    violates(() => klDistillContract.checkPre({ ...ok, teacherProbs: new Float32Array(6) }), shape);
    violates(() => klDistillContract.checkPre({ ...ok, student: new Float32Array(2), teacherProbs: new Float32Array(2), tokens: [0] }), shape);
    violates(() => klDistillContract.checkPre({ ...ok, mask: [1] }), 'mask, if any, has one entry per token');
  });

  it('post: a finite loss, KL ≥ −1e-6, gradient rows summing to 0', () => {
    const good = { loss: 1, dLogits: Float32Array.of(0.5, -0.5, 0, 0), kl: -1e-6, ce: 1, tokens: 1 };
    expect(() => klDistillContract.checkPost(ok, good)).not.toThrow();
    violates(() => klDistillContract.checkPost(ok, { ...good, loss: Number.POSITIVE_INFINITY }), 'loss finite, KL ≥ 0 up to rounding');
    violates(() => klDistillContract.checkPost(ok, { ...good, kl: -1e-3 }), 'loss finite, KL ≥ 0 up to rounding');
    violates(() => klDistillContract.checkPost(ok, { ...good, dLogits: Float32Array.of(0.5, -0.5, 0.25, 0) }), 'gradient rows sum to 0');
  });
});

describe('preference contracts (loss-preference-v1)', () => {
  const seq = { logits: new Float32Array(6), tokens: [0, 1, 2], from: 1, vocab: 2 };
  it('sequence log-probability: pre [n, vocab] logits and an integer 1 ≤ from < n; post logp ≤ 0 with ≥ 1 token', () => {
    for (const from of [1, 2]) expect(() => sequenceLogProbContract.checkPre({ ...seq, from })).not.toThrow();
    violates(() => sequenceLogProbContract.checkPre({ ...seq, logits: new Float32Array(4) }), 'logits are [n, vocab]');
    for (const from of [0, 3, 1.5]) violates(() => sequenceLogProbContract.checkPre({ ...seq, from }), '1 ≤ from < n');
    const dLogp = new Float32Array(6);
    expect(() => sequenceLogProbContract.checkPost(seq, { logp: 1e-9, tokens: 1, dLogp })).not.toThrow();
    violates(() => sequenceLogProbContract.checkPost(seq, { logp: 0.1, tokens: 2, dLogp }), 'log-probability ≤ 0');
    violates(() => sequenceLogProbContract.checkPost(seq, { logp: -1, tokens: 0, dLogp }), 'log-probability ≤ 0');
  });

  const dpo = { policyChosen: -1, policyRejected: -2, refChosen: -1.5, refRejected: -1.5, beta: 0.1 };
  const res = { loss: 0, dChosen: 0, dRejected: 0, chosenReward: 0, rejectedReward: 0, margin: 0 };
  it('DPO: pre β > 0 and finite log-probabilities; post loss ≥ 0, dChosen ≤ 0 = −dRejected (relative 1e-12)', () => {
    expect(() => dpoContract.checkPre(dpo)).not.toThrow();
    violates(() => dpoContract.checkPre({ ...dpo, beta: 0 }), 'β > 0, finite log-probabilities');
    for (const k of ['policyChosen', 'policyRejected', 'refChosen', 'refRejected'] as const) {
      violates(() => dpoContract.checkPre({ ...dpo, [k]: Number.NaN }), 'β > 0, finite log-probabilities');
    }
    const clause = 'loss ≥ 0, gradients opposite';
    expect(() => dpoContract.checkPost(dpo, res)).not.toThrow();
    // |dChosen + dRejected| = 1e-12 at |dChosen| ≤ 1 is allowed; 3e-12 is allowed only at |dChosen| = 4 (relative bound)
    expect(() => dpoContract.checkPost(dpo, { ...res, dRejected: 1e-12 })).not.toThrow();
    expect(() => dpoContract.checkPost(dpo, { ...res, dChosen: -4, dRejected: 4 + 3e-12 })).not.toThrow();
    violates(() => dpoContract.checkPost(dpo, { ...res, dChosen: -0.5, dRejected: 0.5 + 3e-12 }), clause);
    violates(() => dpoContract.checkPost(dpo, { ...res, loss: -0.1 }), clause);
    violates(() => dpoContract.checkPost(dpo, { ...res, dChosen: 0.1, dRejected: -0.1 }), clause);
    violates(() => dpoContract.checkPost(dpo, { ...res, dChosen: -0.1, dRejected: 0.2 }), clause);
  });

  const orpo = { chosenMean: -0.5, rejectedMean: -1, lambda: 0.1 };
  it('ORPO: pre λ ≥ 0 and mean log-probabilities < 0; post a finite loss and nll > 0', () => {
    expect(() => orpoContract.checkPre({ ...orpo, lambda: 0 })).not.toThrow();
    const clause = 'λ ≥ 0, mean log-probabilities < 0';
    for (const bad of [{ lambda: -0.1 }, { chosenMean: 0 }, { rejectedMean: 0 }]) violates(() => orpoContract.checkPre({ ...orpo, ...bad }), clause);
    const out = { ...res, nll: 0.5, oddsRatioLoss: 0.1, logOdds: 1, loss: 0.6 };
    expect(() => orpoContract.checkPost(orpo, out)).not.toThrow();
    violates(() => orpoContract.checkPost(orpo, { ...out, loss: Number.NaN }), 'loss finite, nll > 0');
    violates(() => orpoContract.checkPost(orpo, { ...out, nll: 0 }), 'loss finite, nll > 0');
  });
});

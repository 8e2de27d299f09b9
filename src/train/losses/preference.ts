/**
 * Preference losses over sequence log-probabilities: DPO (Rafailov et al. 2023) and ORPO (Hong et al. 2024,
 * as trl's ORPOTrainer computes it). Each returns the loss and its derivatives with respect to the policy's
 * log-probabilities; `sequenceLogProb` turns those into gradients of the logits.
 */
import { defineContract } from '../../contract/index.js';
import { logSoftmaxRow } from './kl-distill.js';

export interface SequenceLogProb {
  /** Σ_{p ≥ from} log softmax(logits_{p−1})[x_p]: the log-probability of the response x_from.. given the prefix. */
  readonly logp: number;
  /** Response tokens scored (n − from). */
  readonly tokens: number;
  /** ∂logp/∂logits, [n, vocab]: row p−1 holds e_{x_p} − softmax(logits_{p−1}) for scored p, other rows 0. */
  readonly dLogp: Float32Array;
}

interface SeqInput {
  logits: Float32Array;
  tokens: ArrayLike<number>;
  from: number;
  vocab: number;
}

export const sequenceLogProbContract = defineContract<SeqInput, SequenceLogProb>({
  id: 'loss-preference-v1',
  equation: 'sequence_logp',
  spec: 'log π(y|x) = Σ_{p=from}^{n−1} log softmax(logits_{p−1})[x_p]; ∂/∂logits_{p−1} = e_{x_p} − softmax(logits_{p−1})',
  pre: [
    ['logits are [n, vocab]', ({ logits, tokens, vocab }) => logits.length === tokens.length * vocab],
    ['1 ≤ from < n', ({ from, tokens }) => Number.isInteger(from) && from >= 1 && from < tokens.length],
  ],
  post: [['log-probability ≤ 0', (_i, r) => r.logp <= 1e-9 && r.tokens >= 1]],
});

/** The log-probability of tokens[from..] given tokens[..from] under causal logits, with its gradient. */
export function sequenceLogProb(logits: Float32Array, tokens: ArrayLike<number>, from: number, vocab: number): SequenceLogProb {
  return sequenceLogProbContract.run({ logits, tokens, from, vocab }, () => {
    const dLogp = new Float32Array(logits.length);
    let logp = 0;
    for (let p = from; p < tokens.length; p++) {
      const o = (p - 1) * vocab;
      const lp = logSoftmaxRow(logits, o, vocab);
      const x = tokens[p] as number;
      logp += lp[x] as number;
      for (let i = 0; i < vocab; i++) dLogp[o + i] = (i === x ? 1 : 0) - Math.exp(lp[i] as number);
    }
    return { logp, tokens: tokens.length - from, dLogp };
  });
}

/** log σ(x), stable for large |x|. */
function logSigmoid(x: number): number {
  return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
}

/** σ(x). */
function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

export interface DpoInput {
  /** log πθ(y_w|x), log πθ(y_l|x), log πref(y_w|x), log πref(y_l|x) (sums over response tokens). */
  readonly policyChosen: number;
  readonly policyRejected: number;
  readonly refChosen: number;
  readonly refRejected: number;
  readonly beta: number;
}

export interface PreferenceLossResult {
  readonly loss: number;
  /** ∂loss/∂(policy chosen log-prob) and ∂loss/∂(policy rejected log-prob) (sum for DPO, mean for ORPO). */
  readonly dChosen: number;
  readonly dRejected: number;
  /** Implicit rewards and their margin (chosen − rejected); accuracy counts margin > 0. */
  readonly chosenReward: number;
  readonly rejectedReward: number;
  readonly margin: number;
}

export const dpoContract = defineContract<DpoInput, PreferenceLossResult>({
  id: 'loss-preference-v1',
  equation: 'dpo',
  spec: 'L = −log σ(β[(log πθ(y_w) − log πref(y_w)) − (log πθ(y_l) − log πref(y_l))]); ∂L/∂log πθ(y_w) = −β·σ(−z) = −∂L/∂log πθ(y_l)',
  pre: [['β > 0, finite log-probabilities', (i) => i.beta > 0 && [i.policyChosen, i.policyRejected, i.refChosen, i.refRejected].every(Number.isFinite)]],
  post: [['loss ≥ 0, gradients opposite', (_i, r) => r.loss >= 0 && r.dChosen <= 0 && Math.abs(r.dChosen + r.dRejected) <= 1e-12 * Math.max(1, Math.abs(r.dChosen))]],
});

/** DPO's loss of one pair; rewards are β·(log πθ − log πref). */
export function dpoLoss(input: DpoInput): PreferenceLossResult {
  return dpoContract.run(input, () => {
    const chosenReward = input.beta * (input.policyChosen - input.refChosen);
    const rejectedReward = input.beta * (input.policyRejected - input.refRejected);
    const z = chosenReward - rejectedReward;
    const g = input.beta * sigmoid(-z);
    return { loss: -logSigmoid(z), dChosen: -g, dRejected: g, chosenReward, rejectedReward, margin: z };
  });
}

export interface OrpoInput {
  /** Mean log-probability per response token of y_w and y_l under the policy (both < 0). */
  readonly chosenMean: number;
  readonly rejectedMean: number;
  readonly lambda: number;
}

export interface OrpoLossResult extends PreferenceLossResult {
  /** The SFT term −chosenMean and the odds-ratio term −log σ(log odds ratio) (without λ). */
  readonly nll: number;
  readonly oddsRatioLoss: number;
  readonly logOdds: number;
}

/** log(1 − e^a) for a < 0, accurate near both ends. */
function log1mExp(a: number): number {
  return a > -Math.LN2 ? Math.log(-Math.expm1(a)) : Math.log1p(-Math.exp(a));
}

export const orpoContract = defineContract<OrpoInput, OrpoLossResult>({
  id: 'loss-preference-v1',
  equation: 'orpo',
  spec: 'L = −ℓ_w + λ·(−log σ(log odds)), log odds = (ℓ_w − log(1−e^{ℓ_w})) − (ℓ_l − log(1−e^{ℓ_l})), ℓ = mean token log-prob; ∂(log odds)/∂ℓ = 1/(1−e^ℓ)',
  pre: [['λ ≥ 0, mean log-probabilities < 0', (i) => i.lambda >= 0 && i.chosenMean < 0 && i.rejectedMean < 0]],
  post: [['loss finite, nll > 0', (_i, r) => Number.isFinite(r.loss) && r.nll > 0]],
});

/** ORPO's loss of one pair (trl's ORPOTrainer with beta = λ); rewards are λ·ℓ as trl logs them. */
export function orpoLoss(input: OrpoInput): OrpoLossResult {
  return orpoContract.run(input, () => {
    const { chosenMean: a, rejectedMean: b, lambda } = input;
    const logOdds = a - log1mExp(a) - (b - log1mExp(b));
    const g = lambda * sigmoid(-logOdds);
    const chosenReward = lambda * a;
    const rejectedReward = lambda * b;
    return {
      loss: -a - lambda * logSigmoid(logOdds),
      dChosen: -1 - g / -Math.expm1(a),
      dRejected: g / -Math.expm1(b),
      chosenReward,
      rejectedReward,
      margin: chosenReward - rejectedReward,
      nll: -a,
      oddsRatioLoss: -logSigmoid(logOdds),
      logOdds,
    };
  });
}

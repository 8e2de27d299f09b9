/**
 * A preference-alignment run (DPO or ORPO) for the training loop. Reference log-probabilities are computed
 * once before training (the reference is frozen), so only the policy runs during training. Both methods
 * report the implicit reward margin β·((log πθ − log πref)(y_w) − (log πθ − log πref)(y_l)) and the
 * preference accuracy (margin > 0), so DPO and ORPO runs compare on one scale.
 */
import { dpoLoss, orpoLoss, sequenceLogProb } from '../losses/preference.js';
import type { StepReport, TrainableModel, TrainingOptions, TrainingRun } from '../types.js';
import type { TokenizedPair } from './data.js';
import type { LogitsSource } from '../distill/run.js';

export type AlignMethod = 'dpo' | 'orpo';

export interface AlignSettings {
  readonly method: AlignMethod;
  /** DPO's β, and the β of the reported implicit reward for both methods. */
  readonly beta: number;
  /** ORPO's λ (trl's ORPOConfig.beta). */
  readonly lambda: number;
}

/** A tokenized pair with the reference's log-probabilities of both responses. */
export interface AlignExample extends TokenizedPair {
  readonly refChosen: number;
  readonly refRejected: number;
}

function logp(logits: Float32Array, ids: readonly number[], from: number, vocab: number): number {
  return sequenceLogProb(logits, ids, from, vocab).logp;
}

/** Attaches the frozen reference's log π(y|x) of both responses to each pair. */
export function withReference(ref: LogitsSource, pairs: readonly TokenizedPair[], vocab: number): AlignExample[] {
  return pairs.map((p) => ({
    ...p,
    refChosen: logp(ref.logitsAll(p.chosen), p.chosen, p.chosenFrom, vocab),
    refRejected: logp(ref.logitsAll(p.rejected), p.rejected, p.rejectedFrom, vocab),
  }));
}

interface PairScore {
  loss: number;
  metrics: Record<string, number>;
  /** ∂loss/∂(sum log-prob) of the chosen and rejected responses. */
  dChosen: number;
  dRejected: number;
}

/** The loss of one pair from the policy's summed log-probabilities of both responses. */
export function scorePair(e: AlignExample, chosen: { logp: number; tokens: number }, rejected: { logp: number; tokens: number }, s: AlignSettings): PairScore {
  const margin = s.beta * (chosen.logp - e.refChosen - (rejected.logp - e.refRejected));
  const common = { reward_margin: margin, accuracy: margin > 0 ? 1 : 0 };
  if (s.method === 'dpo') {
    const r = dpoLoss({ policyChosen: chosen.logp, policyRejected: rejected.logp, refChosen: e.refChosen, refRejected: e.refRejected, beta: s.beta });
    return { loss: r.loss, metrics: { ...common, chosen_reward: r.chosenReward, rejected_reward: r.rejectedReward }, dChosen: r.dChosen, dRejected: r.dRejected };
  }
  const r = orpoLoss({ chosenMean: chosen.logp / chosen.tokens, rejectedMean: rejected.logp / rejected.tokens, lambda: s.lambda });
  return {
    loss: r.loss,
    metrics: { ...common, nll: r.nll, log_odds: r.logOdds, odds_accuracy: r.logOdds > 0 ? 1 : 0 },
    dChosen: r.dChosen / chosen.tokens,
    dRejected: r.dRejected / rejected.tokens,
  };
}

function scale(d: Float32Array, k: number): Float32Array {
  for (let i = 0; i < d.length; i++) d[i] = (d[i] as number) * k;
  return d;
}

export interface AlignRunInput {
  readonly policy: TrainableModel;
  readonly train: readonly AlignExample[];
  readonly val: readonly AlignExample[];
  readonly settings: AlignSettings;
  readonly options: TrainingOptions;
}

/** Metrics of one pair under the current policy without a tape (evaluation, or before training). */
export function evaluatePair(policy: TrainableModel, e: AlignExample, s: AlignSettings): StepReport {
  const V = policy.config.vocab_size;
  const c = sequenceLogProb(policy.logits(e.chosen), e.chosen, e.chosenFrom, V);
  const r = sequenceLogProb(policy.logits(e.rejected), e.rejected, e.rejectedFrom, V);
  const score = scorePair(e, c, r, s);
  return { loss: score.loss, weight: 1, metrics: score.metrics };
}

/** The TrainingRun of DPO/ORPO: one example = one pair (weight 1); both responses run with a tape. */
export function alignRun(input: AlignRunInput): TrainingRun<AlignExample> {
  const { policy, settings } = input;
  const V = policy.config.vocab_size;
  return {
    params: policy.parameters(),
    train: input.train,
    val: input.val,
    options: input.options,
    zeroGrad: () => policy.zeroGrad(),
    step(e): StepReport {
      const fc = policy.forward(e.chosen);
      const c = sequenceLogProb(fc.logits, e.chosen, e.chosenFrom, V);
      const fr = policy.forward(e.rejected);
      const r = sequenceLogProb(fr.logits, e.rejected, e.rejectedFrom, V);
      const score = scorePair(e, c, r, settings);
      fc.backward(scale(c.dLogp, score.dChosen));
      fr.backward(scale(r.dLogp, score.dRejected));
      return { loss: score.loss, weight: 1, metrics: score.metrics };
    },
    evaluate: (e) => evaluatePair(policy, e, settings),
  };
}

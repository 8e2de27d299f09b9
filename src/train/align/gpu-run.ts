import type { GpuTrainable } from '../gpu/trainable.js';
import { IGNORE } from '../losses/cross-entropy.js';
import type { MaskedTokens, PackedRows } from '../gpu/pack.js';
import type { DeviceTraining, DeviceUpdate, StepReport } from '../types.js';
import type { TokenizedPair } from './data.js';
import { type AlignExample, type AlignSettings, scorePair } from './run.js';

/**
 * DPO / ORPO with the policy's step on the GPU (src/train/gpu). Per micro-batch the chosen and rejected
 * responses of its pairs are packed and run forward once; their summed log-probabilities come back, the
 * host scores each pair (scorePair, as the CPU run), and the backward pass of the same rows runs with the
 * weight −∂loss/∂logp_seq / E on each response token: the CE kernel's (softmax − e_y)·w is then exactly
 * ∂loss/∂logits (∂logp/∂z = e_y − softmax), averaged over the group's E pairs as the CPU loop does.
 */

/** The response tokens of a sequence (positions ≥ from) as a target mask: row p predicts token p + 1. */
function responseMask(tokens: readonly number[], from: number): Uint8Array {
  return Uint8Array.from(tokens, (_v, i) => (i >= from ? 1 : 0));
}

function sequences(pairs: readonly TokenizedPair[]): MaskedTokens[] {
  return pairs.flatMap((p) => [
    { tokens: p.chosen, mask: responseMask(p.chosen, p.chosenFrom) },
    { tokens: p.rejected, mask: responseMask(p.rejected, p.rejectedFrom) },
  ]);
}

/** Σ log p over each packed sequence's target rows, and their count. */
function logProbs(packed: PackedRows, losses: Float32Array): { logp: number; tokens: number }[] {
  return packed.examples.map((e) => {
    let s = 0;
    for (let r = e.start; r < e.start + e.length; r++) s -= losses[r] ?? 0;
    return { logp: s, tokens: e.targets };
  });
}

/** The reference log-probabilities of every pair under the GPU model as it is now (before training: the base). */
export function gpuReference(gpu: GpuTrainable, pairs: readonly TokenizedPair[]): AlignExample[] {
  return pairs.map((p) => {
    const { packed, losses } = gpu.forwardLoss(sequences([p]));
    const [c, r] = logProbs(packed, losses);
    return { ...p, refChosen: c?.logp ?? 0, refRejected: r?.logp ?? 0 };
  });
}

/** One pair's report under the current policy, without gradients. */
export function gpuEvaluatePair(gpu: GpuTrainable, e: AlignExample, s: AlignSettings): StepReport {
  const { packed, losses } = gpu.forwardLoss(sequences([e]));
  const [c, r] = logProbs(packed, losses);
  const score = scorePair(e, c ?? { logp: 0, tokens: 0 }, r ?? { logp: 0, tokens: 0 }, s);
  return { loss: score.loss, weight: 1, metrics: score.metrics };
}

function microStep(gpu: GpuTrainable, pairs: readonly AlignExample[], s: AlignSettings, groupSize: number): StepReport[] {
  const { packed, losses } = gpu.forwardLoss(sequences(pairs));
  const lp = logProbs(packed, losses);
  const weight = new Float32Array(packed.n);
  const reports = pairs.map((e, i) => {
    const c = lp[2 * i] ?? { logp: 0, tokens: 0 };
    const r = lp[2 * i + 1] ?? { logp: 0, tokens: 0 };
    const score = scorePair(e, c, r, s);
    const spans = [packed.examples[2 * i], packed.examples[2 * i + 1]];
    [score.dChosen, score.dRejected].forEach((d, k) => {
      const span = spans[k];
      if (span) for (let row = span.start; row < span.start + span.length; row++) if (packed.targets[row] !== IGNORE) weight[row] = -d / groupSize;
    });
    return { loss: score.loss, weight: 1, metrics: score.metrics };
  });
  gpu.backwardWith(weight);
  return reports;
}

/** The loop's device for DPO / ORPO on the GPU trainer `gpu`. */
export function alignDevice(gpu: GpuTrainable, s: AlignSettings): DeviceTraining<AlignExample> {
  return {
    trainGroup(examples: readonly AlignExample[], u: DeviceUpdate): StepReport[] {
      const per = Math.max(1, u.batchSize);
      const reports: StepReport[] = [];
      for (let i = 0; i < examples.length; i += per) reports.push(...microStep(gpu, examples.slice(i, i + per), s, examples.length));
      gpu.update(u);
      return reports;
    },
    pull: (state) => gpu.device.pull(state),
    push: (state) => gpu.device.push(state),
  };
}

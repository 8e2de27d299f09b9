import { crossEntropy, nextTokenTargets } from '../../src/train/losses/cross-entropy.js';
import type { SequenceForward, StepReport, TrainParam, TrainableModel, TrainingOptions, TrainingRun } from '../../src/train/types.js';
import type { ArchConfig } from '../../src/tensor/bundle.js';

/**
 * A real (if small) trainable language model for the loop's tests: a bigram logit table W [V, V] plus a
 * bias [V]; the logits at position p are W[tokens[p]] + b. Its exact gradients make the loop testable before
 * (and independently of) the decoder's autograd.
 */
export class BigramModel implements TrainableModel {
  readonly config = {} as ArchConfig;
  readonly w: TrainParam;
  readonly b: TrainParam;

  constructor(readonly vocab: number, seed = 1) {
    let s = seed >>> 0;
    const rand = (): number => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 2 ** 32 - 0.5;
    };
    this.w = { name: 'bigram.weight', shape: [vocab, vocab], data: Float32Array.from({ length: vocab * vocab }, () => 0.1 * rand()), grad: new Float32Array(vocab * vocab) };
    this.b = { name: 'bigram.bias', shape: [vocab], data: new Float32Array(vocab), grad: new Float32Array(vocab) };
  }

  parameters(): readonly TrainParam[] {
    return [this.w, this.b];
  }

  logits(tokens: ArrayLike<number>): Float32Array {
    const V = this.vocab;
    const out = new Float32Array(tokens.length * V);
    for (let p = 0; p < tokens.length; p++) {
      const row = (tokens[p] ?? 0) * V;
      for (let k = 0; k < V; k++) out[p * V + k] = this.w.data[row + k]! + this.b.data[k]!;
    }
    return out;
  }

  forward(tokens: ArrayLike<number>): SequenceForward {
    const V = this.vocab;
    return {
      logits: this.logits(tokens),
      backward: (d: Float32Array) => {
        for (let p = 0; p < tokens.length; p++) {
          const row = (tokens[p] ?? 0) * V;
          for (let k = 0; k < V; k++) {
            this.w.grad[row + k]! += d[p * V + k]!;
            this.b.grad[k]! += d[p * V + k]!;
          }
        }
      },
    };
  }

  zeroGrad(): void {
    this.w.grad.fill(0);
    this.b.grad.fill(0);
  }
}

export const OPTIONS: TrainingOptions = { epochs: 3, batchSize: 2, gradAccum: 2, lr: 0.05, warmupRatio: 0.1, minLrRatio: 0.1, weightDecay: 0.01, maxGradNorm: 1, seed: 7 };

/** Sequences following a noisy cyclic pattern (t → t+1 mod V, sometimes t+2), so a bigram can learn them. */
export function cyclicData(count: number, len: number, vocab: number, seed: number): Int32Array[] {
  let s = seed >>> 0;
  const next = (): number => ((s = (Math.imul(s, 22695477) + 1) >>> 0), s / 2 ** 32);
  return Array.from({ length: count }, () => {
    const t = new Int32Array(len);
    t[0] = Math.floor(next() * vocab);
    for (let i = 1; i < len; i++) t[i] = (t[i - 1]! + (next() < 0.8 ? 1 : 2)) % vocab;
    return t;
  });
}

function report(model: BigramModel, tokens: Int32Array, grad: boolean): StepReport {
  const targets = nextTokenTargets(tokens);
  const f = grad ? model.forward(tokens) : { logits: model.logits(tokens), backward: () => undefined };
  const r = crossEntropy({ logits: f.logits, targets, vocab: model.vocab });
  if (grad) f.backward(r.dLogits);
  return { loss: r.loss, weight: tokens.length - 1, metrics: { length: tokens.length } };
}

export function bigramRun(model: BigramModel, train: Int32Array[], val: Int32Array[], options: TrainingOptions, extra: Partial<TrainingRun<Int32Array>> = {}): TrainingRun<Int32Array> {
  return {
    params: model.parameters(),
    train,
    val,
    options,
    step: (e) => report(model, e, true),
    evaluate: (e) => report(model, e, false),
    zeroGrad: () => model.zeroGrad(),
    ...extra,
  };
}

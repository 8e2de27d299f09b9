import type { TokenExample } from '../data/index.js';
import type { Trainable } from '../model/index.js';
import type { StepReport } from '../types.js';
import { crossEntropy, nextTokenTargets } from './cross-entropy.js';

/**
 * Mean masked next-token cross-entropy of one example, weighted by its target tokens; with `withGrad` the
 * forward pass keeps its tape and the gradient is added into the model's parameters.
 */
export function tokenExampleReport(model: Trainable, e: TokenExample, withGrad: boolean): StepReport {
  const targets = nextTokenTargets(e.tokens, e.mask);
  const vocab = model.config.vocab_size;
  let weight = 0;
  for (const t of targets) if (t >= 0) weight++;
  if (!withGrad) return { loss: crossEntropy({ logits: model.logits(e.tokens), targets, vocab }).loss, weight };
  const f = model.forward(e.tokens);
  const r = crossEntropy({ logits: f.logits, targets, vocab });
  f.backward(r.dLogits);
  return { loss: r.loss, weight };
}

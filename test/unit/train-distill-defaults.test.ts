import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { perplexity } from '../../src/eval/perplexity.js';
import { openModel } from '../../src/formats/open.js';
import { loadModel } from '../../src/model/index.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { DISTILL_DEFAULTS, distillRun, type LogitsSource } from '../../src/train/distill/run.js';
import { runTraining } from '../../src/train/loop.js';
import { createTrainableModel } from '../../src/train/model/index.js';
import type { TrainingOptions } from '../../src/train/types.js';
import { fixture } from '../helpers.js';

/**
 * Issue 18: at its defaults (DISTILL_DEFAULTS), distilling tiny-coder-llama into tiny-draft-llama gives a
 * student with a lower held-out perplexity than plain cross-entropy training of the same student on the same
 * windows, order, steps, learning rate and seed. Training: 48 windows of 64 tokens from the second half of
 * heldout.py.txt; held-out: the file's first 8 windows of 128 tokens (other modules). With the former
 * defaults (T = 3, α = 0.7) the distilled student was the worse one (see bench/distill.ts for the sweep).
 */
const teacherBundle = openModel(fixture('models/tiny-coder-llama'));
const teacherModel = loadModel(teacherBundle);
afterAll(() => teacherModel.dispose());

const tokenizer = loadTokenizer(teacherBundle.tokenizer ?? { json: '' });
const ids = tokenizer.encode(readFileSync(fixture('reference/heldout.py.txt'), 'utf8'), { addSpecialTokens: false });
const SEQ = 64;
const START = Math.floor(ids.length / 2);
const train = Array.from({ length: 48 }, (_v, i) => ids.slice(START + i * SEQ, START + (i + 1) * SEQ));
const options: TrainingOptions = { epochs: 1, batchSize: 1, gradAccum: 4, lr: 5e-4, warmupRatio: 0.05, minLrRatio: 0.1, weightDecay: 0, maxGradNorm: 1, seed: 0 };

/** The teacher's logits, once per window for both runs. */
const memo = new Map<ArrayLike<number>, Float32Array>();
const teacher: LogitsSource = {
  logitsAll(tokens) {
    const logits = memo.get(tokens) ?? teacherModel.logitsAll(tokens);
    memo.set(tokens, logits);
    return logits;
  },
};

/** Held-out perplexity of tiny-draft-llama after one epoch at (T, α); α = 0 is plain cross-entropy. */
function trainedHeldoutPpl(temperature: number, alpha: number): number {
  const student = createTrainableModel(openModel(fixture('models/tiny-draft-llama')), { method: 'full', seed: 0 });
  const history = runTraining(distillRun({ student, teachers: [teacher], train, val: [], settings: { strategy: 'standard', temperature, alpha }, options }));
  expect(history).toHaveLength(1);
  const model = loadModel(student.toBundle());
  try {
    return perplexity(model, ids, { context: 128, chunks: 8 }).perplexity;
  } finally {
    model.dispose();
  }
}

describe('apr distill defaults (issue 18)', () => {
  it('at DISTILL_DEFAULTS the distilled student beats plain CE training on held-out perplexity (same steps, seed, data) [ob:distill-beats-ce]', () => {
    const ce = trainedHeldoutPpl(DISTILL_DEFAULTS.temperature, 0);
    const kd = trainedHeldoutPpl(DISTILL_DEFAULTS.temperature, DISTILL_DEFAULTS.alpha);
    expect(Number.isFinite(ce) && Number.isFinite(kd)).toBe(true);
    // Measured: CE 22.68; T = 1, α = 0.9: 21.77; the former T = 3, α = 0.7: 23.99.
    expect(kd).toBeLessThan(0.98 * ce);
  });
});

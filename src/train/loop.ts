import { Rng } from '../model/rng.js';
import { AdamW } from './optim/adamw.js';
import { type CheckpointState, loadCheckpoint, saveCheckpoint } from './optim/checkpoint.js';
import { clipGradNorm, scaleGrads } from './optim/clip.js';
import { cosineLr } from './optim/schedule.js';
import type { EpochRecord, StepReport, TrainingOptions, TrainingRun } from './types.js';

/** Examples per optimizer step: micro-batch size × gradient-accumulation steps. */
function examplesPerStep(o: TrainingOptions): number {
  return Math.max(1, o.batchSize) * Math.max(1, o.gradAccum);
}

/** Optimizer steps in one epoch over `n` examples (a last, smaller group still makes a step). */
export function stepsPerEpoch(n: number, o: TrainingOptions): number {
  return Math.ceil(n / examplesPerStep(o));
}

/** The shuffled order of epoch `epoch` (0-based): Fisher–Yates driven by a stream derived from (seed, epoch). */
export function epochOrder(n: number, seed: number, epoch: number): number[] {
  const rng = new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(epoch + 1, 0x85ebca6b)) >>> 0);
  const order = Array.from({ length: n }, (_v, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    const t = order[i] ?? 0;
    order[i] = order[j] ?? 0;
    order[j] = t;
  }
  return order;
}

/** Weighted loss sum and per-metric sums over the examples of one pass. */
class Tally {
  private lossSum = 0;
  private nllSum = 0;
  private weight = 0;
  private count = 0;
  private readonly sums = new Map<string, number>();

  add(r: StepReport): void {
    this.lossSum += r.loss * r.weight;
    this.nllSum += (r.nll ?? r.loss) * r.weight;
    this.weight += r.weight;
    this.count++;
    for (const [k, v] of Object.entries(r.metrics ?? {})) this.sums.set(k, (this.sums.get(k) ?? 0) + v);
  }

  get loss(): number {
    return this.weight > 0 ? this.lossSum / this.weight : Number.NaN;
  }

  /** exp of the weighted mean next-token cross-entropy (StepReport.nll, else the loss). */
  get perplexity(): number {
    return Math.exp(this.weight > 0 ? this.nllSum / this.weight : Number.NaN);
  }

  metrics(): Record<string, number> {
    return Object.fromEntries([...this.sums].map(([k, v]) => [k, v / Math.max(1, this.count)]));
  }
}

function evaluate<E>(run: TrainingRun<E>): Tally | undefined {
  if (run.val.length === 0) return undefined;
  const t = new Tally();
  for (const e of run.val) t.add(run.evaluate(e));
  return t;
}

interface Position {
  step: number;
  readonly totalSteps: number;
  lr: number;
}

/** One epoch: groups of batchSize × gradAccum examples, gradients averaged, clipped, one AdamW step each. */
function trainEpoch<E>(run: TrainingRun<E>, adam: AdamW, epoch: number, pos: Position): Tally {
  const o = run.options;
  const group = examplesPerStep(o);
  const order = epochOrder(run.train.length, o.seed, epoch);
  const tally = new Tally();
  for (let start = 0; start < order.length; start += group) {
    const idx = order.slice(start, start + group);
    if (run.device) {
      deviceStep(run, run.device, adam, idx, pos, tally);
      continue;
    }
    run.zeroGrad();
    for (const i of idx) {
      const e = run.train[i];
      if (e !== undefined) tally.add(run.step(e));
    }
    scaleGrads(run.params, 1 / idx.length);
    clipGradNorm(run.params, o.maxGradNorm);
    pos.lr = cosineLr(pos.step, { lr: o.lr, totalSteps: pos.totalSteps, warmupRatio: o.warmupRatio, minLrRatio: o.minLrRatio });
    adam.step(pos.lr);
    pos.step++;
    run.onProgress?.(pos.step, pos.totalSteps);
  }
  run.zeroGrad();
  return tally;
}

/** One optimizer step run on the device: the same schedule, order and AdamW step count as the CPU step. */
function deviceStep<E>(run: TrainingRun<E>, device: NonNullable<TrainingRun<E>['device']>, adam: AdamW, idx: readonly number[], pos: Position, tally: Tally): void {
  const o = run.options;
  pos.lr = cosineLr(pos.step, { lr: o.lr, totalSteps: pos.totalSteps, warmupRatio: o.warmupRatio, minLrRatio: o.minLrRatio });
  const examples = idx.map((i) => run.train[i]).filter((e): e is E => e !== undefined);
  const step = ++adam.state.step;
  for (const r of device.trainGroup(examples, { lr: pos.lr, weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm, step, batchSize: o.batchSize })) tally.add(r);
  pos.step++;
  run.onProgress?.(pos.step, pos.totalSteps);
}

function record(epoch: number, train: Tally, val: Tally | undefined, lr: number, seconds: number): EpochRecord {
  const valLoss = val ? val.loss : null;
  return {
    epoch,
    trainLoss: train.loss,
    valLoss,
    trainPpl: train.perplexity,
    valPpl: val ? val.perplexity : null,
    lr,
    seconds,
    metrics: train.metrics(),
    valMetrics: val ? val.metrics() : {},
  };
}

/**
 * Trains `run.params` for `options.epochs` epochs and returns the history (one record per epoch). Seeded:
 * the same run gives bit-identical parameters; with `checkpointDir` the state is saved after every epoch
 * and a later call resumes after the last saved epoch, with the same result as an uninterrupted run.
 */
export function runTraining<E>(run: TrainingRun<E>): EpochRecord[] {
  const o = run.options;
  const adam = new AdamW(run.params, { weightDecay: o.weightDecay });
  const pos: Position = { step: 0, totalSteps: o.epochs * stepsPerEpoch(run.train.length, o), lr: 0 };
  const history: EpochRecord[] = [];
  let first = 0;
  const resumed = run.checkpointDir === undefined ? undefined : loadCheckpoint(run.checkpointDir, run.params, adam.state, o, run.train.length);
  if (resumed) {
    history.push(...resumed.history);
    first = resumed.epoch;
    pos.step = resumed.step;
    pos.lr = history.at(-1)?.lr ?? 0;
    run.device?.push(adam.state);
  }
  for (let epoch = first; epoch < o.epochs; epoch++) {
    const t0 = performance.now();
    const train = trainEpoch(run, adam, epoch, pos);
    const val = evaluate(run);
    const rec = record(epoch + 1, train, val, pos.lr, (performance.now() - t0) / 1000);
    history.push(rec);
    if (run.checkpointDir !== undefined) {
      run.device?.pull(adam.state);
      const state: CheckpointState = { epoch: epoch + 1, step: pos.step, history, options: o, rngSeed: o.seed, trainCount: run.train.length };
      saveCheckpoint(run.checkpointDir, run.params, adam.state, state);
    }
    run.onEpoch?.(rec);
  }
  run.device?.pull(adam.state);
  return history;
}

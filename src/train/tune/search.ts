/**
 * The trial loop of `apr tune`, independent of what a trial trains: the default configuration first (the
 * baseline), then random start-up trials, then TPE (or random) proposals; each trial reports its held-out
 * loss after every epoch and ASHA may stop it at a rung. The best complete trial wins (the earliest on ties).
 */
import { Rng } from '../../model/rng.js';
import { Asha } from './asha.js';
import { type TuneConfig, type TuneSpace, sampleRandom } from './space.js';
import { type TpeObservation, suggestTpe } from './tpe.js';

export type TuneStrategy = 'random' | 'tpe';
export type TuneScheduler = 'asha' | 'none';

export interface TrialRecord {
  /** 1-based. */
  readonly trial: number;
  readonly source: 'default' | 'random' | 'tpe';
  readonly config: TuneConfig;
  /** Held-out loss after each epoch run. */
  readonly valLosses: readonly number[];
  /** Held-out loss after the last epoch run. */
  readonly valLoss: number;
  readonly status: 'complete' | 'stopped';
}

export interface SearchOptions {
  readonly budget: number;
  readonly strategy: TuneStrategy;
  readonly scheduler: TuneScheduler;
  readonly space: TuneSpace;
  readonly seed: number;
  /** Trials (the baseline included) before TPE takes over. */
  readonly startup: number;
  /** ASHA reduction factor. */
  readonly eta: number;
  readonly baseline: TuneConfig;
  readonly onTrial?: (t: TrialRecord) => void;
}

/**
 * Trains one configuration; `onEpoch(epoch, valLoss)` is called after every epoch (1-based) and returns false
 * when the trial is to stop there. Returns the held-out losses of the epochs run.
 */
export type Objective = (config: TuneConfig, onEpoch: (epoch: number, valLoss: number) => boolean) => number[];

export interface SearchResult {
  readonly trials: TrialRecord[];
  readonly best: TrialRecord;
  readonly baseline: TrialRecord;
}

function propose(o: SearchOptions, index: number, trials: readonly TrialRecord[], rng: Rng): { source: TrialRecord['source']; config: TuneConfig } {
  if (index === 0) return { source: 'default', config: o.baseline };
  if (o.strategy === 'random' || index < o.startup) return { source: 'random', config: sampleRandom(o.space, rng) };
  const obs: TpeObservation[] = trials.map((t) => ({ config: t.config, value: t.valLoss, complete: t.status === 'complete' }));
  return { source: 'tpe', config: suggestTpe(o.space, obs, rng) };
}

function runTrial(o: SearchOptions, index: number, proposal: ReturnType<typeof propose>, objective: Objective, asha: Asha | undefined): TrialRecord {
  let stopped = false;
  const losses = objective(proposal.config, (epoch, loss) => {
    const go = asha === undefined ? true : asha.report(epoch, loss);
    stopped = !go && epoch < proposal.config.epochs;
    return !stopped;
  });
  const valLoss = losses.at(-1) ?? Number.NaN;
  return { trial: index + 1, source: proposal.source, config: proposal.config, valLosses: losses, valLoss, status: stopped || !Number.isFinite(valLoss) ? 'stopped' : 'complete' };
}

/** Runs `o.budget` trials of `objective` and returns them with the best and the baseline. */
export function runSearch(o: SearchOptions, objective: Objective): SearchResult {
  if (!(Number.isInteger(o.budget) && o.budget >= 1)) throw new Error(`budget must be an integer ≥ 1, got ${o.budget}`);
  const rng = new Rng((o.seed ^ 0x74756e65) >>> 0);
  const asha = o.scheduler === 'asha' ? new Asha({ eta: o.eta, minResource: 1 }) : undefined;
  const trials: TrialRecord[] = [];
  for (let i = 0; i < o.budget; i++) {
    const t = runTrial(o, i, propose(o, i, trials, rng), objective, asha);
    trials.push(t);
    o.onTrial?.(t);
  }
  const baseline = trials[0];
  if (baseline === undefined) throw new Error('no trial ran');
  const complete = trials.filter((t) => t.status === 'complete');
  const best = complete.reduce((b, t) => (t.valLoss < b.valLoss ? t : b), complete[0] ?? baseline);
  return { trials, best, baseline };
}

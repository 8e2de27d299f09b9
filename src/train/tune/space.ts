/**
 * The search space of `apr tune`: the LoRA finetuning hyper-parameters it searches and the distributions
 * they are drawn from — learning rate log-uniform on [lo, hi], rank, alpha and epochs from finite choices.
 */
import type { Rng } from '../../model/rng.js';

export interface TuneConfig {
  readonly lr: number;
  readonly rank: number;
  readonly alpha: number;
  readonly epochs: number;
}

export interface TuneSpace {
  /** Learning-rate bounds, sampled log-uniformly. */
  readonly lr: readonly [number, number];
  readonly rank: readonly number[];
  readonly alpha: readonly number[];
  readonly epochs: readonly number[];
}

/** The categorical dimensions, by name. */
export const CHOICE_KEYS = ['rank', 'alpha', 'epochs'] as const;

/** `apr finetune`'s own defaults for LoRA (the baseline every search starts with). */
export const DEFAULT_CONFIG: TuneConfig = { lr: 2e-4, rank: 16, alpha: 32, epochs: 3 };

export const DEFAULT_SPACE: TuneSpace = { lr: [5e-5, 5e-3], rank: [4, 8, 16, 32], alpha: [8, 16, 32, 64], epochs: [1, 2, 3] };

/** Why `s` is not a usable space, or undefined. */
export function spaceProblem(s: TuneSpace): string | undefined {
  const [lo, hi] = s.lr;
  if (!(lo > 0 && hi >= lo && Number.isFinite(hi))) return `learning-rate range must satisfy 0 < lo ≤ hi, got ${lo},${hi}`;
  for (const k of CHOICE_KEYS) {
    const c = s[k];
    if (c.length === 0 || !c.every((x) => Number.isInteger(x) && x >= 1)) return `${k} choices must be integers ≥ 1, got ${c.join(',') || '(none)'}`;
  }
  return undefined;
}

function pick<T>(rng: Rng, xs: readonly T[]): T {
  const x = xs[Math.floor(rng.next() * xs.length)] ?? xs[0];
  if (x === undefined) throw new Error('pick from an empty list');
  return x;
}

/** A learning rate kept to 3 significant digits, so that the configuration written is the one trained. */
export function roundLr(lr: number): number {
  return Number(lr.toPrecision(3));
}

/** One configuration drawn from the prior (log-uniform lr, uniform choices). */
export function sampleRandom(space: TuneSpace, rng: Rng): TuneConfig {
  const [lo, hi] = space.lr;
  const lr = roundLr(Math.exp(Math.log(lo) + rng.next() * (Math.log(hi) - Math.log(lo))));
  return { lr, rank: pick(rng, space.rank), alpha: pick(rng, space.alpha), epochs: pick(rng, space.epochs) };
}

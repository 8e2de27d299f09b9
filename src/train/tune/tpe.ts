/**
 * Tree-structured Parzen Estimator (Bergstra et al. 2011), univariate as Optuna's default: the finished
 * trials are split into the best ⌈γ·n⌉ ("good", γ = 0.25) and the rest; for each dimension a Parzen
 * estimator l(x) is fitted to the good values and g(x) to the others (each with a prior component), 24
 * candidates are drawn from l and the one maximising log l(x) − log g(x) is kept. The learning rate is
 * modelled in log space with truncated Gaussians; rank, alpha and epochs as categorical distributions.
 */
import type { Rng } from '../../model/rng.js';
import { CHOICE_KEYS, type TuneConfig, type TuneSpace, roundLr } from './space.js';

export interface TpeObservation {
  readonly config: TuneConfig;
  /** Held-out loss (lower is better). */
  readonly value: number;
  /** False when the trial was stopped early (ranked after every complete trial). */
  readonly complete: boolean;
}

const TPE_GAMMA = 0.25;
const TPE_CANDIDATES = 24;

/** Good first: complete trials by value, then stopped ones by value. */
export function splitGoodBad(obs: readonly TpeObservation[], gamma = TPE_GAMMA): { good: TpeObservation[]; bad: TpeObservation[] } {
  const rank = (o: TpeObservation): number => (o.complete ? 0 : 1);
  const sorted = [...obs].sort((a, b) => rank(a) - rank(b) || a.value - b.value);
  const n = Math.ceil(gamma * sorted.length);
  return { good: sorted.slice(0, n), bad: sorted.slice(n) };
}

const SQRT2 = Math.SQRT2;

/** erf, Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7). */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return x >= 0 ? y : -y;
}

function normalCdf(z: number): number {
  return 0.5 * (1 + erf(z / SQRT2));
}

interface Gaussian {
  readonly mu: number;
  readonly sigma: number;
}

/** A mixture of equally weighted Gaussians truncated to [lo, hi]: the observations plus the prior. */
export class TruncatedParzen {
  private readonly parts: Gaussian[];

  constructor(points: readonly number[], readonly lo: number, readonly hi: number) {
    const width = Math.max(hi - lo, 1e-12);
    const centres = [...points.map((p) => ({ mu: Math.min(hi, Math.max(lo, p)), prior: false })), { mu: (lo + hi) / 2, prior: true }].sort((a, b) => a.mu - b.mu);
    const minSigma = width / Math.min(100, 1 + centres.length);
    this.parts = centres.map(({ mu, prior }, i) => {
      const left = mu - (centres[i - 1]?.mu ?? lo);
      const right = (centres[i + 1]?.mu ?? hi) - mu;
      return { mu, sigma: prior ? width : Math.min(width, Math.max(minSigma, left, right)) };
    });
  }

  logPdf(x: number): number {
    let p = 0;
    for (const { mu, sigma } of this.parts) {
      const mass = normalCdf((this.hi - mu) / sigma) - normalCdf((this.lo - mu) / sigma);
      const z = (x - mu) / sigma;
      p += Math.exp(-0.5 * z * z) / (sigma * Math.sqrt(2 * Math.PI) * Math.max(mass, 1e-300));
    }
    return Math.log(p / this.parts.length);
  }

  sample(rng: Rng): number {
    const g = this.parts[Math.floor(rng.next() * this.parts.length)] ?? { mu: (this.lo + this.hi) / 2, sigma: this.hi - this.lo };
    for (let tries = 0; tries < 64; tries++) {
      const u = Math.max(rng.next(), 1e-300);
      const x = g.mu + g.sigma * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
      if (x >= this.lo && x <= this.hi) return x;
    }
    return Math.min(this.hi, Math.max(this.lo, g.mu));
  }
}

/** A categorical distribution over choice indices: observed counts plus a prior weight of 1 spread evenly. */
export function categoricalWeights(indices: readonly number[], k: number): number[] {
  const w = Array.from({ length: k }, () => 1 / k);
  for (const i of indices) if (i >= 0 && i < k) w[i] = (w[i] ?? 0) + 1;
  const total = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / total);
}

function drawIndex(rng: Rng, w: readonly number[]): number {
  let u = rng.next();
  for (let i = 0; i < w.length; i++) {
    u -= w[i] ?? 0;
    if (u < 0) return i;
  }
  return w.length - 1;
}

/** argmax over `n` candidates drawn by `draw` of `score` (the first on ties). */
function bestOf<T>(n: number, draw: () => T, score: (x: T) => number): T {
  let best = draw();
  let bestScore = score(best);
  for (let i = 1; i < n; i++) {
    const x = draw();
    const s = score(x);
    if (s > bestScore) [best, bestScore] = [x, s];
  }
  return best;
}

function suggestLr(space: TuneSpace, good: readonly TpeObservation[], bad: readonly TpeObservation[], rng: Rng): number {
  const [lo, hi] = [Math.log(space.lr[0]), Math.log(space.lr[1])];
  const l = new TruncatedParzen(good.map((o) => Math.log(o.config.lr)), lo, hi);
  const g = new TruncatedParzen(bad.map((o) => Math.log(o.config.lr)), lo, hi);
  return roundLr(Math.exp(bestOf(TPE_CANDIDATES, () => l.sample(rng), (x) => l.logPdf(x) - g.logPdf(x))));
}

function suggestChoice(choices: readonly number[], pick: (c: TuneConfig) => number, good: readonly TpeObservation[], bad: readonly TpeObservation[], rng: Rng): number {
  const l = categoricalWeights(good.map((o) => choices.indexOf(pick(o.config))), choices.length);
  const g = categoricalWeights(bad.map((o) => choices.indexOf(pick(o.config))), choices.length);
  const i = bestOf(TPE_CANDIDATES, () => drawIndex(rng, l), (j) => Math.log(l[j] ?? 0) - Math.log(g[j] ?? 1));
  return choices[i] ?? choices[0] ?? 1;
}

/** The next configuration TPE proposes after `obs` (deterministic given the rng's state). */
export function suggestTpe(space: TuneSpace, obs: readonly TpeObservation[], rng: Rng): TuneConfig {
  const { good, bad } = splitGoodBad(obs);
  const lr = suggestLr(space, good, bad, rng);
  const [rank, alpha, epochs] = CHOICE_KEYS.map((k) => suggestChoice(space[k], (c) => c[k], good, bad, rng));
  return { lr, rank: rank ?? 1, alpha: alpha ?? 1, epochs: epochs ?? 1 };
}

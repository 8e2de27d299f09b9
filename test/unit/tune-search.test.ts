import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/model/rng.js';
import { Asha } from '../../src/train/tune/asha.js';
import { type Objective, runSearch } from '../../src/train/tune/search.js';
import { DEFAULT_CONFIG, type TuneConfig, type TuneSpace, sampleRandom } from '../../src/train/tune/space.js';
import { TruncatedParzen, categoricalWeights, splitGoodBad, suggestTpe } from '../../src/train/tune/tpe.js';

const SPACE: TuneSpace = { lr: [1e-5, 1e-1], rank: [4, 8, 16, 32], alpha: [8, 16, 32, 64], epochs: [1, 2, 4] };

/** A synthetic objective: best at lr 1e-3, rank 8, alpha 16; more epochs help a little. */
function loss(c: TuneConfig, epoch: number): number {
  return (Math.log10(c.lr) + 3) ** 2 + Math.abs(Math.log2(c.rank / 8)) * 0.3 + Math.abs(Math.log2(c.alpha / 16)) * 0.2 + 1 / epoch;
}

const synthetic: Objective = (c, onEpoch) => {
  const out: number[] = [];
  for (let e = 1; e <= c.epochs; e++) {
    out.push(loss(c, e));
    if (!onEpoch(e, loss(c, e))) break;
  }
  return out;
};

describe('ASHA', () => {
  it('[ob:tune-asha] has rungs at r·η^k and promotes only the best ⌊n/η⌋ at a rung (the best while n < η)', () => {
    const a = new Asha({ eta: 2, minResource: 1 });
    expect([1, 2, 3, 4, 8].map((r) => a.rungOf(r))).toEqual([0, 1, undefined, 2, 3]);
    expect(a.report(1, 5)).toBe(true); // alone: the best
    expect(a.report(1, 6)).toBe(false); // n = 2, top 1 = 5
    expect(a.report(1, 4)).toBe(true); // the new best
    expect(a.report(1, 5.5)).toBe(false); // n = 4, top 2 = {4, 5}
    expect(a.report(1, 5)).toBe(true); // ties the 2nd best of 5
    expect(a.report(3, 100)).toBe(true); // not a rung: never stopped there
    expect(a.report(2, Number.NaN)).toBe(false); // a diverged trial stops
    expect(a.snapshot()).toEqual({ 0: [5, 6, 4, 5.5, 5], 1: [Infinity] });
    const b = new Asha({ eta: 3, minResource: 1 });
    expect([1, 2, 3, 1.5, 1].map((v) => b.report(1, v))).toEqual([true, false, false, false, true]); // n = 4: only the best of 4 (⌊4/3⌋ = 1)
  });

  it('[ob:tune-asha] stops weak trials early in a search, never the baseline', () => {
    const r = runSearch({ budget: 10, strategy: 'random', scheduler: 'asha', space: SPACE, seed: 3, startup: 3, eta: 2, baseline: { ...DEFAULT_CONFIG, epochs: 4 } }, synthetic);
    expect(r.trials[0]?.status).toBe('complete');
    const stopped = r.trials.filter((t) => t.status === 'stopped');
    expect(stopped.length).toBeGreaterThan(0);
    for (const t of stopped) expect(t.valLosses.length).toBeLessThan(t.config.epochs);
    const none = runSearch({ budget: 10, strategy: 'random', scheduler: 'none', space: SPACE, seed: 3, startup: 3, eta: 2, baseline: DEFAULT_CONFIG }, synthetic);
    expect(none.trials.every((t) => t.status === 'complete' && t.valLosses.length === t.config.epochs)).toBe(true);
  });
});

describe('TPE', () => {
  it('[ob:tune-tpe] splits good/bad at ⌈γn⌉ with stopped trials ranked last, and the Parzen density integrates to 1', () => {
    const obs = [5, 1, 3, 2, 4].map((v, i) => ({ config: { ...DEFAULT_CONFIG, rank: i + 1 }, value: v, complete: v !== 1 }));
    const { good, bad } = splitGoodBad(obs);
    expect(good.map((o) => o.value)).toEqual([2, 3]);
    expect(bad.map((o) => o.value)).toEqual([4, 5, 1]);
    const p = new TruncatedParzen([-3, -2.5, -7], -11.5, -2.3);
    let mass = 0;
    const n = 20_000;
    const h = (p.hi - p.lo) / n;
    for (let i = 0; i < n; i++) mass += Math.exp(p.logPdf(p.lo + (i + 0.5) * h)) * h;
    expect(mass).toBeCloseTo(1, 3);
    expect(categoricalWeights([0, 0, 2], 4)).toEqual([2.25 / 4, 0.25 / 4, 1.25 / 4, 0.25 / 4]);
  });

  it('[ob:tune-tpe] is deterministic for a seed and concentrates on the optimum better than random search', () => {
    const run = (strategy: 'tpe' | 'random', seed: number) => runSearch({ budget: 40, strategy, scheduler: 'none', space: SPACE, seed, startup: 8, eta: 2, baseline: DEFAULT_CONFIG }, synthetic);
    expect(JSON.stringify(run('tpe', 7))).toBe(JSON.stringify(run('tpe', 7)));
    expect(JSON.stringify(run('tpe', 7))).not.toBe(JSON.stringify(run('tpe', 8)));
    const tail = (s: ReturnType<typeof run>) => s.trials.slice(-20).reduce((a, t) => a + t.valLoss, 0) / 20;
    for (const seed of [1, 2, 3]) expect(tail(run('tpe', seed))).toBeLessThan(tail(run('random', seed)));
    // every suggestion stays inside the space
    const rng = new Rng(1);
    const obs = Array.from({ length: 12 }, () => sampleRandom(SPACE, rng)).map((c) => ({ config: c, value: loss(c, 1), complete: true }));
    for (let i = 0; i < 50; i++) {
      const c = suggestTpe(SPACE, obs, rng);
      expect(c.lr).toBeGreaterThanOrEqual(SPACE.lr[0]);
      expect(c.lr).toBeLessThanOrEqual(SPACE.lr[1]);
      expect(SPACE.rank).toContain(c.rank);
      expect(SPACE.alpha).toContain(c.alpha);
      expect(SPACE.epochs).toContain(c.epochs);
    }
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { della } from '../../../src/train/merge/della.js';
import { dellaLinear, dellaLinearMerge } from '../../../src/train/merge/della-linear.js';
import { bits, job, vec } from './helpers.js';

const PARAMS = { lambda: 1, normalize: false, rescale: true };

describe('della_linear (merge-della-linear-v1)', () => {
  it('averages to task arithmetic over seeds, opposite signs included (3000 seeds, 6 standard errors) [ob:della-linear-expected-value]', () => {
    const cols = 16;
    const base = Float32Array.from({ length: 2 * cols }, (_v, i) => Math.sin(i));
    // two task vectors that disagree in sign at every other entry: a TIES election would drop one side
    const d1 = Array.from({ length: 2 * cols }, (_v, i) => ((i * 37) % 23) / 10 - 1.05);
    const d2 = d1.map((v, i) => (i % 2 ? -0.7 * v : 0.4 * v + 0.1));
    const xs = [d1, d2].map((d) => Float32Array.from(base, (b, i) => b + (d[i] as number)));
    const ws = [1, 0.6];
    const seeds = 3000;
    const sum = new Float64Array(base.length);
    for (let s = 0; s < seeds; s++) {
      const out = dellaLinearMerge(job(base, xs, PARAMS, ws.map((weight) => ({ weight, density: 0.5, epsilon: 0.2 })), { shape: [2, cols], seed: s }));
      out.forEach((o, i) => (sum[i] = (sum[i] as number) + o - (base[i] as number)));
    }
    // each kept entry is δ/p with p in [0.3, 0.7]; Var(w δ m/p) = w² δ² (1 − p)/p <= w² δ² · 0.7/0.3
    sum.forEach((v, i) => {
      const xsi = xs.map((x) => (x[i] as number) - (base[i] as number));
      const mean = xsi.reduce((s, d, k) => s + (ws[k] as number) * d, 0);
      const se = Math.sqrt(xsi.reduce((s, d, k) => s + (ws[k] as number) ** 2 * d * d, 0) * (0.7 / 0.3) / seeds);
      expect(Math.abs(v / seeds - mean), `entry ${i}`).toBeLessThanOrEqual(6 * se + 1e-6);
    });
  });

  it('is a function of the seed: same seed same drops, another seed other drops [ob:della-linear-seeded]', () => {
    const base = Float32Array.from({ length: 256 }, (_v, i) => Math.cos(i));
    const x = Float32Array.from(base, (b, i) => b + Math.sin(3 * i));
    const run = (seed: number) => bits(dellaLinearMerge(job(base, [x], PARAMS, [{ weight: 1, density: 0.5, epsilon: 0.1 }], { shape: [16, 16], seed })));
    expect(run(7)).toEqual(run(7));
    expect(run(8)).not.toEqual(run(7));
  });

  it('merges models equal to the base into the base, bit for bit [ob:della-linear-self-identity]', () => {
    fc.assert(fc.property(vec(20), fc.integer({ min: 0, max: 1 << 20 }), fc.boolean(), (x, seed, normalize) => {
      const mp = [0, 1].map(() => ({ weight: 0.7, density: 0.4, epsilon: 0.15 }));
      expect(bits(dellaLinearMerge(job(x, [x, Float32Array.from(x)], { ...PARAMS, normalize }, mp, { seed })))).toEqual(bits(x));
    }));
  });

  it('has mergekit’s defaults (normalize off, rescale on, epsilon 0.15) and della keeps the sign election', () => {
    const defaults = (m: typeof della) => Object.fromEntries([...m.params, ...m.tensorParams].map((p) => [p.name, p.default]));
    expect(defaults(dellaLinear)).toEqual({ lambda: 1, normalize: false, rescale: true, weight: 1, density: 1, epsilon: 0.15 });
    expect(defaults(della)).toEqual({ lambda: 1, normalize: true, rescale: true, weight: 1, density: 1, epsilon: 0.15 });
    // at density 1 nothing is dropped: della_linear is task arithmetic, della keeps only the elected side
    const b = Float32Array.from([0, 0]);
    const mp = [{ weight: 1, density: 1, epsilon: 0.15 }, { weight: 1, density: 1, epsilon: 0.15 }];
    const xs = [Float32Array.from([1, 1]), Float32Array.from([-0.25, -0.25])];
    expect(Array.from(dellaLinear.merge(job(b, xs, PARAMS, mp)))).toEqual([0.75, 0.75]);
    expect(Array.from(della.merge(job(b, xs, PARAMS, mp)))).toEqual([1, 1]);
  });
});

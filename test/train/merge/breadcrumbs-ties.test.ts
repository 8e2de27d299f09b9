import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { breadcrumbs } from '../../../src/train/merge/breadcrumbs.js';
import { breadcrumbsTies, breadcrumbsTiesMerge } from '../../../src/train/merge/breadcrumbs-ties.js';
import { l1Norm, magnitudeOutliers, rescaleToL1 } from '../../../src/train/merge/sparsify.js';
import { bits, distinct, expectClose, f32, job, vec } from './helpers.js';

/** The breadcrumbs band computed from scratch: keep magnitude ranks [n_bot, n − n_top), L1-rescaled on request. */
function bandRef(delta: number[], density: number, gamma: number, rescale: boolean): number[] {
  const n = delta.length;
  let nTop = Math.floor(gamma * n);
  let nBot = n - Math.floor(density * n) - nTop;
  if (nBot < 0) {
    nTop += nBot;
    nBot = 0;
  }
  const order = delta.map((v, i) => [Math.abs(v), i] as const).sort((p, q) => p[0] - q[0]).map((p) => p[1]);
  const keep = new Set(order.slice(nBot, n - nTop));
  const kept = delta.map((v, i) => (keep.has(i) ? v : 0));
  const before = delta.reduce((s, v) => s + Math.abs(v), 0);
  const after = kept.reduce((s, v) => s + Math.abs(v), 0);
  return rescale && before >= 1e-7 && after >= 1e-7 ? kept.map((v) => (v * before) / after) : kept;
}

/** TIES mixing from scratch: elect sign(Σ w δ), sum the agreeing w δ, divide by their Σ w (normalize), × λ. */
function tiesRef(base: Float32Array, deltas: number[][], ws: number[], lambda: number, normalize: boolean): number[] {
  return Array.from(base, (b, i) => {
    const wd = deltas.map((d, k) => (ws[k] as number) * (d[i] as number));
    const elected = wd.reduce((s, v) => s + v, 0) >= 0 ? 1 : -1;
    let mixed = 0;
    let div = 0;
    wd.forEach((v, k) => {
      if (Math.sign(v) === elected) {
        mixed += v;
        div += ws[k] as number;
      }
    });
    return b + lambda * (normalize ? mixed / (div === 0 ? 1 : div) : mixed);
  });
}

describe('breadcrumbs_ties (merge-breadcrumbs-ties-v1)', () => {
  const base = f32([0.1, -0.2, 0.3, 0.05, -0.4, 0.6, 0.0, -0.1, 0.25, 0.15]);
  const offsets = [
    [0.5, -0.01, 0.2, 0.03, -0.3, 0.08, 0.12, -0.07, 0.9, 0.02],
    [-0.4, 0.05, 0.1, -0.2, 0.25, -0.06, 0.11, 0.3, -0.01, -0.15],
    [0.02, -0.3, -0.12, 0.4, 0.07, 0.2, -0.05, -0.09, 0.6, 0.33],
  ];
  const xs = offsets.map((o) => Float32Array.from(base, (b, i) => b + (o[i] as number)));
  const ws = [1, 0.5, 2];

  it('matches the band, L1 rescale, sign election and disjoint mean computed from scratch [ob:breadcrumbs-ties-worked-example]', () => {
    for (const [normalize, rescale, lambda] of [[false, false, 1], [true, true, 0.8], [true, false, 1.5]] as const) {
      // density 0.6, gamma 0.1 of 10 entries: the largest is dropped as an outlier and the 3 smallest, 6 kept
      const deltas = xs.map((x) => bandRef(Array.from(x, (v, i) => v - (base[i] as number)), 0.6, 0.1, rescale));
      const out = breadcrumbsTiesMerge(job(base, xs, { lambda, normalize, rescale }, ws.map((weight) => ({ weight, density: 0.6, gamma: 0.1 }))));
      expectClose(out, tiesRef(base, deltas, ws, lambda, normalize));
    }
  });

  it('moves each element only in the elected sign [ob:breadcrumbs-ties-sign-agreement]', () => {
    fc.assert(fc.property(distinct(30), fc.array(distinct(30), { minLength: 2, maxLength: 4 }), fc.double({ min: 0.2, max: 1, noNaN: true }), fc.double({ min: 0, max: 0.2, noNaN: true }), fc.boolean(), (b, xs2, d, gamma, rescale) => {
      const mp = xs2.map((_x, k) => ({ weight: 0.5 + k, density: d, gamma }));
      const out = breadcrumbsTiesMerge(job(b, xs2, { lambda: 1, normalize: true, rescale }, mp));
      const deltas = xs2.map((x) => bandRef(Array.from(x, (v, i) => v - (b[i] as number)), d, gamma, rescale));
      out.forEach((o, i) => {
        const elected = deltas.reduce((s, dd, k) => s + (0.5 + k) * (dd[i] as number), 0) >= 0 ? 1 : -1;
        const moved = Math.sign(o - (b[i] as number));
        expect(moved === 0 || moved === elected).toBe(true);
      });
    }));
  });

  it('with rescale keeps the L1 norm of each sparsified task vector [ob:breadcrumbs-rescale-l1]', () => {
    fc.assert(fc.property(vec(40), fc.double({ min: 0.05, max: 1, noNaN: true }), fc.double({ min: 0, max: 0.3, noNaN: true }), (x, d, gamma) => {
      const delta = Float64Array.from(x);
      const before = x.reduce((s, v) => s + Math.abs(v), 0);
      magnitudeOutliers(delta, d, gamma);
      const kept = l1Norm(delta);
      rescaleToL1(delta, before);
      if (before >= 1e-7 && kept >= 1e-7) expect(Math.abs(l1Norm(delta) - before)).toBeLessThanOrEqual(1e-12 * before);
      else expect(l1Norm(delta)).toBe(kept);
    }));
  });

  it('merges models equal to the base into the base, bit for bit [ob:breadcrumbs-ties-self-identity]', () => {
    fc.assert(fc.property(vec(20), fc.boolean(), (x, rescale) => {
      const mp = [0, 1].map(() => ({ weight: 1, density: 0.8, gamma: 0.05 }));
      expect(bits(breadcrumbsTiesMerge(job(x, [x, Float32Array.from(x)], { lambda: 1, normalize: true, rescale }, mp)))).toEqual(bits(x));
    }));
  });

  it('has mergekit’s parameters and defaults, shared with breadcrumbs (no sign election there)', () => {
    const defaults = (m: typeof breadcrumbs) => Object.fromEntries([...m.params, ...m.tensorParams].map((p) => [p.name, p.default]));
    const expected = { lambda: 1, normalize: false, rescale: false, weight: 1, density: 1, gamma: 0.01 };
    expect(defaults(breadcrumbsTies)).toEqual(expected);
    expect(defaults(breadcrumbs)).toEqual(expected);
    // breadcrumbs sums without an election: two opposite task vectors cancel, breadcrumbs_ties keeps the larger
    const b = f32([0, 0]);
    const up = f32([1, 1]);
    const down = f32([-0.5, -0.5]);
    const mp = [{ weight: 1, density: 1, gamma: 0 }, { weight: 1, density: 1, gamma: 0 }];
    expect(Array.from(breadcrumbs.merge(job(b, [up, down], { lambda: 1, normalize: false, rescale: false }, mp)))).toEqual([0.5, 0.5]);
    expect(Array.from(breadcrumbsTies.merge(job(b, [up, down], { lambda: 1, normalize: false, rescale: false }, mp)))).toEqual([1, 1]);
  });
});

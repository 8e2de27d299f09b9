import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { karcher, karcherMerge } from '../../../src/train/merge/karcher.js';
import { bits, expectClose, job, norm, vec } from './helpers.js';

const P = { max_iter: 10, tol: 1e-5 };
const merge = (xs: Float32Array[], params = P) => karcherMerge(job(undefined, xs, params, xs.map(() => ({}))));

/** ‖out − ref‖ relative to ‖ref‖. */
const relErr = (out: ArrayLike<number>, ref: ArrayLike<number>): number =>
  Math.sqrt(Array.from(out).reduce((s, o, i) => s + (o - (ref[i] as number)) ** 2, 0)) / norm(ref);

describe('karcher (merge-karcher-v1)', () => {
  it('on a circle puts the mean direction at the mean angle, scaled by the mean radius [ob:karcher-circle-mean]', () => {
    // points r_k (cos φ_k, sin φ_k) in a plane of R⁴ within a half turn: the Riemannian mean on the circle is the
    // arithmetic mean of the angles (the circle is flat), so out = mean(r) (cos φ̄, sin φ̄)
    const phis = [0.1, 0.5, 1.2];
    const rs = [1, 2, 0.5];
    const xs = phis.map((p, k) => Float32Array.from([0, (rs[k] as number) * Math.cos(p), 0, (rs[k] as number) * Math.sin(p)]));
    const phiBar = phis.reduce((s, p) => s + p, 0) / 3;
    const rBar = rs.reduce((s, r) => s + r, 0) / 3;
    // stated bound 1e-6: one float32 rounding of each entry (6e-8 relative) and float32 inputs' angles (1e-7)
    expect(relErr(merge(xs), [0, rBar * Math.cos(phiBar), 0, rBar * Math.sin(phiBar)])).toBeLessThanOrEqual(1e-6);
    // the plain normalized Euclidean mean (the initial guess) is measurably elsewhere: the iteration matters
    const euclid = [0, 1, 2, 3].map((i) => xs.reduce((s, x) => s + (x[i] as number) / norm(x), 0));
    expect(Math.abs(Math.atan2(euclid[3] as number, euclid[1] as number) - phiBar)).toBeGreaterThan(1e-3);
  });

  it('of two models is the geodesic midpoint of their directions at the mean norm [ob:karcher-two-point-midpoint]', () => {
    fc.assert(fc.property(vec(16), vec(16), (a, b0) => {
      fc.pre(norm(a) > 1e-2 && norm(b0) > 1e-2);
      const dot = a.reduce((s, v, i) => s + v * (b0[i] as number), 0);
      const b = dot < 0 ? b0.map((v) => -v) : b0;
      const m = Array.from(a, (v, i) => v / norm(a) + (b[i] as number) / norm(b));
      fc.pre(norm(m) > 1e-3);
      const scale = (norm(a) + norm(b)) / 2 / norm(m);
      expect(relErr(merge([a, b]), m.map((v) => v * scale))).toBeLessThanOrEqual(1e-5);
    }));
  });

  it('has the mean of the input norms as its norm [ob:karcher-norm]', () => {
    fc.assert(fc.property(fc.array(vec(12), { minLength: 2, maxLength: 4 }), (xs) => {
      fc.pre(xs.every((x) => norm(x) > 1e-3));
      const mean = xs.reduce((s, x) => s + norm(x), 0) / xs.length;
      expect(Math.abs(norm(merge(xs)) - mean)).toBeLessThanOrEqual(1e-6 * mean);
    }));
  });

  it('merges copies of one tensor into it bit for bit [ob:karcher-self-identity]', () => {
    fc.assert(fc.property(vec(30), fc.integer({ min: 2, max: 4 }), (x, copies) => {
      // mergekit returns zeros when every norm is below tol (1e-5): identity is claimed above that
      fc.pre(norm(x) > 1e-5);
      expect(bits(merge(Array.from({ length: copies }, () => Float32Array.from(x))))).toEqual(bits(x));
    }));
  });

  it('follows mergekit at the edges: one model is returned, max_iter 0 gives the normalized Euclidean mean', () => {
    const a = Float32Array.from([3, 4]);
    expect(bits(merge([a]))).toEqual(bits(a));
    const b = Float32Array.from([0, 2]);
    // â = (0.6, 0.8), b̂ = (0, 1): mean (0.3, 0.9)/‖·‖, times the mean norm 3.5
    const m = [0.3, 0.9];
    expectClose(merge([a, b], { max_iter: 0, tol: 1e-5 }), m.map((v) => (3.5 * v) / norm(m)));
    expect(karcher.params).toEqual([{ name: 'max_iter', default: 10 }, { name: 'tol', default: 1e-5 }]);
  });
});

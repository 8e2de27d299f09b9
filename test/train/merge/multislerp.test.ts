import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { multislerp, multislerpMerge } from '../../../src/train/merge/multislerp.js';
import { bits, expectClose, f32, job, norm, vec } from './helpers.js';

const P = { normalize_weights: true, eps: 1e-8 };
const merge = (xs: Float32Array[], ws: number[], params = P) => multislerpMerge(job(undefined, xs, params, ws.map((weight) => ({ weight }))));

/** The multislerp formula of mergekit's docs and source, step by step on plain arrays. */
function multislerpRef(xs: Float32Array[], weights: number[], eps: number): number[] {
  const total = weights.reduce((s, w) => s + w, 0);
  const w = weights.map((v) => v / total);
  const norms = xs.map((x) => norm(x));
  const units = xs.map((x, k) => Array.from(x, (v) => v / ((norms[k] as number) + eps)));
  const n = xs[0]?.length ?? 0;
  const meanRaw = Array.from({ length: n }, (_v, i) => units.reduce((s, u, k) => s + (w[k] as number) * (u[i] as number), 0));
  const mean = meanRaw.map((v) => v / norm(meanRaw));
  const tangent = Array.from({ length: n }, (_v, i) =>
    units.reduce((s, u, k) => {
      const d = u.reduce((t, v, j) => t + v * (mean[j] as number), 0);
      return s + (w[k] as number) * ((u[i] as number) - d * (mean[i] as number));
    }, 0),
  );
  const tn = norm(tangent) + eps;
  const scale = norms.reduce((s, v, k) => s + v * (w[k] as number), 0);
  return mean.map((m, i) => scale * (m * Math.cos(tn) + (tangent[i] as number) * (Math.sin(tn) / tn)));
}

describe('multislerp (merge-multislerp-v1)', () => {
  it('matches the formula computed step by step on three 3 × 4 tensors [ob:multislerp-worked-example]', () => {
    const xs = [0, 1, 2].map((k) => Float32Array.from({ length: 12 }, (_v, i) => Math.sin(i + 1) + 0.4 * Math.cos((k + 2) * i)));
    expectClose(merge(xs, [1, 2, 0.5]), multislerpRef(xs, [1, 2, 0.5], 1e-8));
    // by hand: (1, 0) and (0, 1), equal weights: direction (1, 1)/√2, mean norm 1
    expectClose(merge([f32([1, 0]), f32([0, 1])], [1, 1]), [Math.SQRT1_2, Math.SQRT1_2]);
  });

  it('has the weighted mean of the input norms as its norm [ob:multislerp-norm]', () => {
    fc.assert(fc.property(fc.array(fc.tuple(vec(12), fc.double({ min: 0.1, max: 5, noNaN: true })), { minLength: 2, maxLength: 4 }), (parts) => {
      const xs = parts.map((p) => p[0]);
      fc.pre(xs.every((x) => norm(x) > 1e-3));
      const ws = parts.map((p) => p[1]);
      const total = ws.reduce((s, w) => s + w, 0);
      const mean = xs.reduce((s, x, k) => s + (norm(x) * (ws[k] as number)) / total, 0);
      // the sum of unit directions must not vanish (mergekit refuses that case)
      fc.pre(norm(Array.from({ length: 12 }, (_v, i) => xs.reduce((s, x, k) => s + ((ws[k] as number) * (x[i] as number)) / norm(x), 0))) > 1e-3);
      expect(Math.abs(norm(merge(xs, ws)) - mean)).toBeLessThanOrEqual(1e-6 * mean);
    }));
  });

  /** The pair (167° apart) that a random seed once drew; kept as a fixed example. */
  const NEAR_ANTIPODAL_A = Float32Array.from([0, 0, 0, 0, 0, 0, 0, 0, -0.00974995642900467, 0, 0, 0.0022222399711608887, 0, 0, 0, 0]);
  const NEAR_ANTIPODAL_B = Float32Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0.10662473738193512, -0.0000317866142722778, 0, 0, 0, 0, 0, 0]);

  it('of two models with equal weights is the geodesic midpoint at the mean norm [ob:multislerp-two-point-midpoint]', () => {
    fc.assert(fc.property(vec(16), vec(16), (a, b) => {
      fc.pre(norm(a) > 1e-2 && norm(b) > 1e-2);
      const m = Array.from(a, (v, i) => v / norm(a) + (b[i] as number) / norm(b));
      fc.pre(norm(m) > 1e-2);
      const scale = (norm(a) + norm(b)) / 2 / norm(m);
      const out = merge([a, b], [1, 1]);
      const err = Math.sqrt(Array.from(out).reduce((s, o, i) => s + (o - (m[i] as number) * scale) ** 2, 0));
      // The float32 unit directions carry ~2^-24 relative error each; their sum loses relative precision by the
      // cancellation factor (|â| + |b̂|) / |â + b̂| = 2 / |m| (a seed drew a 167° pair: factor 9, error 4e-6 relative).
      const cancellation = 2 / norm(m);
      expect(err).toBeLessThanOrEqual(2e-6 * cancellation * norm(m) * scale);
    }), { examples: [[NEAR_ANTIPODAL_A, NEAR_ANTIPODAL_B]] });
  });

  it('merges copies of one tensor into it bit for bit [ob:multislerp-self-identity]', () => {
    fc.assert(fc.property(vec(30), fc.array(fc.double({ min: 0.1, max: 5, noNaN: true }), { minLength: 2, maxLength: 4 }), (x, ws) => {
      expect(bits(merge(ws.map(() => Float32Array.from(x)), ws))).toEqual(bits(x));
    }));
  });

  it('follows mergekit at the edges: one model returned, antipodal pair falls back to lerp, unnormalized weights scale', () => {
    const a = f32([1, -2, 3]);
    expect(bits(merge([a], [0.3]))).toEqual(bits(a));
    expectClose(merge([a, a.map((v) => -v)], [1, 1]), [0, 0, 0]);
    expectClose(merge([a, a], [1, 1], { normalize_weights: false, eps: 1e-8 }), [2, -4, 6]);
    expect(() => merge([f32([1, 0]), f32([-1, 0]), f32([0, 0])], [1, 1, 0])).toThrow(/weighted sum of the directions is zero/);
    expect(multislerp.params).toEqual([{ name: 'normalize_weights', default: true }, { name: 'eps', default: 1e-8 }]);
  });
});

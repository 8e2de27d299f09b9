import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sce, sceMerge, sceSelectMask } from '../../../src/train/merge/sce.js';
import { bits, distinct, expectClose, f32, job, vec } from './helpers.js';

/** mergekit's sce computed from scratch on plain arrays. */
function sceRef(base: Float32Array, xs: Float32Array[], topk: number): number[] {
  const n = base.length;
  let tvs = xs.map((x) => Array.from(x, (v, i) => v - (base[i] as number)));
  if (topk < 1) {
    // Select: population variance across the models per position; keep the ⌊topk · #nonzero⌋ largest
    const variance = Array.from({ length: n }, (_v, i) => {
      const col = tvs.map((t) => t[i] as number);
      const m = col.reduce((s, v) => s + v, 0) / col.length;
      return col.reduce((s, v) => s + (v - m) ** 2, 0) / col.length;
    });
    const k = Math.floor(variance.filter((v) => v !== 0).length * topk);
    const keep = new Set(variance.map((v, i) => [v, i] as const).sort((p, q) => q[0] - p[0]).slice(0, k).map((p) => p[1]));
    tvs = tvs.map((t) => t.map((v, i) => (keep.has(i) ? v : 0)));
  }
  // Calculate: w_k = mean(δ_k²) normalized over the models (uniform if the sum is below 1e-6)
  const ms = tvs.map((t) => t.reduce((s, v) => s + v * v, 0) / n);
  const total = ms.reduce((s, v) => s + v, 0);
  const w = ms.map((m) => (Math.abs(total) < 1e-6 ? 1 / ms.length : m / total));
  // Erase: keep the entries whose sign is that of Σ_k δ_k, then the weighted mean of what is left
  return Array.from(base, (b, i) => {
    const elected = tvs.reduce((s, t) => s + (t[i] as number), 0) >= 0 ? 1 : -1;
    let num = 0;
    let den = 0;
    tvs.forEach((t, k) => {
      if (Math.sign(t[i] as number) === elected) {
        num += (w[k] as number) * (t[i] as number);
        den += w[k] as number;
      }
    });
    return b + num / Math.max(den, 1e-6);
  });
}

describe('sce (merge-sce-v1)', () => {
  const base = f32([0.2, -0.1, 0.4, 0, -0.3, 0.15, 0.05, -0.25]);
  const offsets = [
    [0.9, -0.02, 0.3, 0.4, -0.8, 0.01, 0.2, 0.05],
    [-0.5, 0.03, 0.35, 0.5, 0.6, -0.02, -0.1, 0.05],
    [0.7, -0.04, -0.2, 0.45, -0.9, 0.03, 0.25, -0.3],
  ];
  const xs = offsets.map((o) => Float32Array.from(base, (b, i) => b + (o[i] as number)));

  it('matches the Select, Calculate and Erase steps computed from scratch [ob:sce-worked-example]', () => {
    for (const topk of [1, 0.5, 0.25]) expectClose(sceMerge(job(base, xs, { select_topk: topk }, [{}, {}, {}])), sceRef(base, xs, topk));
    // large task vectors: the mean-square weights are not uniform (Σ mean(δ²) ≈ 300 > 1e-6)
    const big = xs.map((x, k) => Float32Array.from(x, (v, i) => (base[i] as number) + (k + 1) * 10 * (v - (base[i] as number))));
    expectClose(sceMerge(job(base, big, { select_topk: 0.5 }, [{}, {}, {}])), sceRef(base, big, 0.5));
  });

  it('selects exactly ⌊τ · #(non-zero variance)⌋ positions, the highest-variance ones [ob:sce-select-count]', () => {
    fc.assert(fc.property(fc.array(vec(40), { minLength: 2, maxLength: 4 }), fc.double({ min: 0, max: 1, noNaN: true }), (tvs, topk) => {
      const deltas = tvs.map((t) => Float64Array.from(t));
      const mask = sceSelectMask(deltas, topk);
      const variance = Array.from({ length: 40 }, (_v, i) => {
        const col = deltas.map((d) => d[i] as number);
        const m = col.reduce((s, v) => s + v, 0) / col.length;
        return col.reduce((s, v) => s + (v - m) ** 2, 0) / col.length;
      });
      const nz = variance.filter((v) => v !== 0).length;
      const kept = variance.filter((_v, i) => mask[i]);
      const dropped = variance.filter((_v, i) => !mask[i]);
      expect(kept.length).toBe(topk >= 1 ? 40 : Math.floor(nz * topk));
      if (kept.length > 0 && dropped.length > 0) expect(Math.min(...kept)).toBeGreaterThanOrEqual(Math.max(...dropped));
    }));
  });

  it('moves each element only in the sign of the summed selected task vectors [ob:sce-sign-agreement]', () => {
    fc.assert(fc.property(distinct(24), fc.array(distinct(24), { minLength: 2, maxLength: 4 }), fc.double({ min: 0.1, max: 1, noNaN: true }), (b, models, topk) => {
      const out = sceMerge(job(b, models, { select_topk: topk }, models.map(() => ({}))));
      out.forEach((o, i) => {
        const moved = Math.sign(o - (b[i] as number));
        // at a selected position the selected task vectors are the full ones; elsewhere they are 0 and nothing moves
        const sum = models.reduce((s, x) => s + (x[i] as number) - (b[i] as number), 0);
        expect(moved === 0 || moved === (sum >= 0 ? 1 : -1)).toBe(true);
      });
    }));
  });

  it('merges models equal to the base into the base, bit for bit [ob:sce-self-identity]', () => {
    fc.assert(fc.property(vec(20), fc.double({ min: 0, max: 1, noNaN: true }), (x, topk) => {
      expect(bits(sceMerge(job(x, [x, Float32Array.from(x)], { select_topk: topk }, [{}, {}])))).toEqual(bits(x));
    }));
  });

  it('has mergekit’s parameter (select_topk, default 1) and no per-model weight', () => {
    expect(sce.params).toEqual([{ name: 'select_topk', default: 1 }]);
    expect(sce.tensorParams).toEqual([]);
  });
});

import { describe, expect, it } from 'vitest';
import type { Rng } from '../../../src/model/rng.js';
import { dellaMagprune, l1Norm, magnitudeOutliers, magnitudeTrim, randomDrop, rescaleToL1, smallestMask } from '../../../src/train/merge/sparsify.js';

/**
 * mergekit's sparsify.py, case by case, on vectors small enough to work out by hand. The random methods are
 * driven by a stub generator: a constant draw c keeps exactly the elements whose keep-probability exceeds c, so
 * the probability formula is checked without depending on the order in which draws are made.
 */
const constant = (c: number): Rng => ({ next: () => c }) as unknown as Rng;
const sequence = (xs: number[]): Rng => {
  let i = 0;
  return { next: () => xs[i++] ?? Number.NaN } as unknown as Rng;
};
const f64 = (...v: number[]): Float64Array => Float64Array.from(v);

describe('smallestMask: the m smallest |a_i|, ties to the lower index', () => {
  it('counts and ties', () => {
    expect(Array.from(smallestMask([3, -1, 2, 1], 0))).toEqual([0, 0, 0, 0]);
    expect(Array.from(smallestMask([3, -1, 2, 1], -2))).toEqual([0, 0, 0, 0]);
    expect(Array.from(smallestMask([3, -1, 2, 1], 4))).toEqual([1, 1, 1, 1]);
    expect(Array.from(smallestMask([3, -1, 2, 1], 9))).toEqual([1, 1, 1, 1]);
    expect(Array.from(smallestMask([3, -1, 2, 1], 1))).toEqual([0, 1, 0, 0]); // |−1| = |1|: the lower index
    expect(Array.from(smallestMask([3, -1, 2, 1], 2))).toEqual([0, 1, 0, 1]);
    expect(Array.from(smallestMask([3, -1, 2, 1], 3))).toEqual([0, 1, 1, 1]);
    expect(Array.from(smallestMask([2, 2, 2, 1, 2], 3))).toEqual([1, 1, 0, 1, 0]);
    expect(Array.from(smallestMask([5, 4, 3, 2, 1], 2))).toEqual([0, 0, 0, 1, 1]);
  });
});

describe('magnitude (TIES trim): keep the ⌊density·n⌋ largest |δ|', () => {
  it('keeps the largest, refuses a density that keeps nothing, leaves density ≥ 1 alone', () => {
    const d = f64(0.1, -3, 2, -0.5, 1);
    magnitudeTrim(d, 0.4); // ⌊2⌋ = 2 kept
    expect(Array.from(d)).toEqual([0, -3, 2, 0, 0]);
    const e = f64(0.1, -3, 2, -0.5, 1);
    magnitudeTrim(e, 0.99); // ⌊4.95⌋ = 4: only the smallest goes
    expect(Array.from(e)).toEqual([0, -3, 2, -0.5, 1]);
    const all = f64(1, 2);
    magnitudeTrim(all, 1);
    expect(Array.from(all)).toEqual([1, 2]);
    expect(() => magnitudeTrim(f64(1, 2, 3), 0.3)).toThrow('density 0.3 keeps no element of a tensor of 3');
    const one = f64(1, -2, 3);
    magnitudeTrim(one, 1 / 3 + 1e-9); // ⌊1.000000003⌋ = 1
    expect(Array.from(one)).toEqual([0, 0, 3]);
  });
});

describe('random (DARE): keep with probability density, rescale by 1/density', () => {
  it('a draw below density keeps (scaled), at or above drops; density ≥ 1 draws nothing', () => {
    const d = f64(1, -2, 4, 8);
    randomDrop(d, 0.5, true, sequence([0.1, 0.5, 0.49, 0.9]));
    expect(Array.from(d)).toEqual([2, 0, 8, 0]);
    const e = f64(1, -2);
    randomDrop(e, 0.25, false, constant(0.2));
    expect(Array.from(e)).toEqual([1, -2]);
    const f = f64(1, -2);
    randomDrop(f, 1, true, sequence([]));
    expect(Array.from(f)).toEqual([1, -2]);
  });
});

describe('magnitude_outliers (Model Breadcrumbs)', () => {
  const ten = (): Float64Array => f64(0.5, -10, 3, 0.1, -7, 2, 9, -0.2, 4, 6); // ranks by |δ|: 0.1, 0.2, 0.5, 2, 3, 4, 6, 7, 9, 10
  it('drops the γ·n largest and the rest of the smallest, keeping ⌊density·n⌋', () => {
    const d = ten();
    magnitudeOutliers(d, 0.5, 0.2); // keep 5, top 2 (10, 9), bottom 3 (0.1, 0.2, 0.5)
    expect(Array.from(d)).toEqual([0, 0, 3, 0, -7, 2, 0, 0, 4, 6]);
  });
  it('when density + γ > 1 the top cut shrinks so that ⌊density·n⌋ stay', () => {
    const d = ten();
    magnitudeOutliers(d, 0.9, 0.3); // keep 9, top 3, bottom −2 → top 1, bottom 0
    expect(Array.from(d)).toEqual([0.5, 0, 3, 0.1, -7, 2, 9, -0.2, 4, 6]);
  });
  it('γ = 0 drops only the smallest; density ≥ 1 changes nothing', () => {
    const d = ten();
    magnitudeOutliers(d, 0.8, 0);
    expect(Array.from(d)).toEqual([0.5, -10, 3, 0, -7, 2, 9, 0, 4, 6]);
    const e = ten();
    magnitudeOutliers(e, 1, 0.5);
    expect(Array.from(e)).toEqual(Array.from(ten()));
  });
});

describe('della_magprune: p_r = density − ε + 2ε·r/(cols − 1) for magnitude rank r = 0.. in each row, rescaled by 1/p_r', () => {
  it('a constant draw c keeps exactly the ranks with p_r > c, each divided by its p_r', () => {
    // one row of 5, density 0.5, ε 0.2: p = 0.3, 0.4, 0.5, 0.6, 0.7 for ranks 0..4
    const row = [0.4, -0.1, 0.5, -0.3, 0.2]; // ranks: 0.1→0, 0.2→1, 0.3→2, 0.4→3, 0.5→4
    const d = f64(...row);
    dellaMagprune(d, 5, 0.5, 0.2, true, constant(0.45));
    const p = [0.3, 0.4, 0.5, 0.6, 0.7];
    const rank = [3, 0, 4, 2, 1];
    // (tolerance: p_r is computed as density − ε + 2ε·r/4 in float64; 1e-12 relative)
    row.forEach((x, i) => {
      const pr = p[rank[i]!]!;
      if (pr > 0.45) expect(Math.abs(d[i]! - x / pr)).toBeLessThan(1e-12);
      else expect(d[i]).toBe(0);
    });
    const unscaled = f64(...row);
    dellaMagprune(unscaled, 5, 0.5, 0.2, false, constant(0.45));
    expect(Array.from(unscaled)).toEqual([0.4, 0, 0.5, -0.3, 0]);
  });

  it('rows are ranked separately; a one-column tensor keeps with p = density', () => {
    const d = f64(1, 2, 3, 30, 20, 10);
    dellaMagprune(d, 3, 0.5, 0.2, false, constant(0.55)); // p = 0.3, 0.5, 0.7 per row: only each row's largest
    expect(Array.from(d)).toEqual([0, 0, 3, 30, 0, 0]);
    const col = f64(1, 2);
    dellaMagprune(col, 1, 0.5, 0.2, true, sequence([0.49, 0.5]));
    expect(Array.from(col)).toEqual([2, 0]);
  });

  it('equal magnitudes rank in index order (the lower index gets the lower keep-probability)', () => {
    const d = f64(1, -1, 1);
    dellaMagprune(d, 3, 0.5, 0.2, true, constant(0.4)); // p = 0.3, 0.5, 0.7 by index
    expect(d[0]).toBe(0);
    expect(d[1]).toBeCloseTo(-1 / 0.5, 12);
    expect(d[2]).toBeCloseTo(1 / 0.7, 12);
  });

  it('each row draws cols times, in rank order: row 2 sees the draws after row 1’s', () => {
    // draws 0.9, 0.9 for row 1 (drop both), then 0.1, 0.9 for row 2 (keep its smaller, drop its larger)
    const d = f64(1, 2, 3, 4);
    dellaMagprune(d, 2, 0.5, 0.2, false, sequence([0.9, 0.9, 0.1, 0.9]));
    expect(Array.from(d)).toEqual([0, 0, 3, 0]);
  });

  it('refuses density ± ε outside (0, 1); density ≥ 1 changes nothing', () => {
    expect(() => dellaMagprune(f64(1, 2), 2, 0.2, 0.2, true, constant(0))).toThrow('della: density ± epsilon must lie in (0, 1), got 0.2 ± 0.2');
    expect(() => dellaMagprune(f64(1, 2), 2, 0.8, 0.2, true, constant(0))).toThrow(/must lie in \(0, 1\)/);
    expect(() => dellaMagprune(f64(1, 2), 2, 0.5, 0.49, true, constant(0))).not.toThrow();
    const d = f64(1, 2);
    dellaMagprune(d, 2, 1, 0.5, true, constant(0.99));
    expect(Array.from(d)).toEqual([1, 2]);
  });
});

describe('rescale to the L1 norm before sparsifying', () => {
  it('scales by ‖δ‖₁ before / after; skips when either is below 1e-7', () => {
    const d = f64(1, -1, 0);
    rescaleToL1(d, 6);
    expect(Array.from(d)).toEqual([3, -3, 0]);
    const tinyBefore = f64(1, -1);
    rescaleToL1(tinyBefore, 5e-8);
    expect(Array.from(tinyBefore)).toEqual([1, -1]);
    const tinyAfter = f64(4e-8, 0);
    rescaleToL1(tinyAfter, 1);
    expect(Array.from(tinyAfter)).toEqual([4e-8, 0]);
    const edge = f64(1e-7, 0);
    rescaleToL1(edge, 2e-7); // neither is below 1e-7: scaled
    expect(edge[0]).toBeCloseTo(2e-7, 20);
    expect(l1Norm([1, -2.5, 0.5])).toBe(4);
  });
});

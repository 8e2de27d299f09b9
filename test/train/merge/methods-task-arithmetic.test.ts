import { describe, expect, it } from 'vitest';
import type { ParamValues, TensorJob } from '../../../src/train/merge/method.js';
import { taskArithmeticMerge } from '../../../src/train/merge/task-arithmetic.js';
import { type TaskArithmeticSpec, signsAgree, taskArithmeticCore } from '../../../src/train/merge/task-vectors.js';
import { tiesMerge } from '../../../src/train/merge/ties.js';

/**
 * mergekit's generalized_task_arithmetic.py, transcribed (no sparsification here): weighted δ_k = w_k (x_k − base);
 * with a consensus method, mask = sign(δ_k) == majority sign (sum: sign of Σ_k w_k δ_k; count: sign of Σ_k sign δ_k;
 * a tie counts as +), mixed = Σ_k mask·w_k δ_k, divisor = Σ_k mask·w_k (0 → 1); without consensus, mixed = Σ_k w_k δ_k
 * and divisor = Σ_k w_k (|·| < 1e-8 → 1); mixed /= divisor when normalizing; out = base + λ·mixed.
 */
function reference(base: number[], xs: number[][], weights: number[], o: { normalize: boolean; lambda: number; consensus?: 'sum' | 'count' }): number[] {
  return base.map((b, i) => {
    const d = xs.map((x, k) => weights[k]! * (x[i]! - b));
    let mixed: number;
    let divisor: number;
    if (o.consensus) {
      const vote = o.consensus === 'sum' ? d.reduce((s, v) => s + v, 0) : d.reduce((s, v) => s + Math.sign(v), 0);
      const majority = vote >= 0 ? 1 : -1;
      const mask = d.map((v) => (Math.sign(v) === majority ? 1 : 0));
      mixed = d.reduce((s, v, k) => s + mask[k]! * v, 0);
      divisor = weights.reduce((s, w, k) => s + mask[k]! * w, 0);
      if (divisor === 0) divisor = 1;
    } else {
      mixed = d.reduce((s, v) => s + v, 0);
      divisor = weights.reduce((s, w) => s + w, 0);
      if (Math.abs(divisor) < 1e-8) divisor = 1;
    }
    if (o.normalize) mixed /= divisor;
    return Math.fround(b + o.lambda * mixed);
  });
}

const BASE = [0.5, -1, 2, 0, 1.5, -0.25];
const XS = [
  [1.5, -2, 2, 0, 1, 0.75],
  [-0.5, 1, 2, 0, 2.5, -1.25],
  [0.5, -3, 1, 0, 3.5, 0.5],
];

function job(weights: number[], params: ParamValues, base = BASE, xs = XS): TensorJob {
  return {
    name: 'model.layers.0.mlp.up_proj.weight', shape: [2, 3], base: Float32Array.from(base), inputs: xs.map((x) => Float32Array.from(x)),
    params, modelParams: weights.map((weight) => ({ weight, density: 1 })), seed: 1,
  };
}

// Every value here is a small binary fraction: float64 sums are exact and the one float32 rounding agrees.
describe('generalized task arithmetic against mergekit’s formula', () => {
  it.each([
    [[1, 1, 1], false, 1],
    [[2, -1, 0.5], false, 0.5],
    [[1, 3, 4], true, 1],
    [[1, -1, 0], true, 2], // Σ w = 0: no division
    [[1e-8, 0, 0], true, 1], // Σ w = 1e-8 is not below 1e-8: divided by it
  ])('task_arithmetic, weights %j, normalize %s, λ %s', (weights, normalize, lambda) => {
    const got = taskArithmeticMerge(job(weights, { normalize, lambda }));
    const want = reference(BASE, XS, weights, { normalize, lambda });
    got.forEach((g, i) => expect(Math.abs(g - want[i]!), `element ${i}: ${g} vs ${want[i]}`).toBeLessThanOrEqual(Math.abs(want[i]!) * 2 ** -23));
  });

  it.each([
    [[1, 1, 1], true, 1],
    [[1, 2, 0.5], true, 0.5],
    [[3, 1, 1], false, 1],
    [[0.25, 1, 2], true, 2],
  ])('ties (sum consensus, density 1), weights %j, normalize %s, λ %s', (weights, normalize, lambda) => {
    const got = tiesMerge(job(weights, { normalize, lambda }));
    expect(Array.from(got)).toEqual(reference(BASE, XS, weights, { normalize, lambda, consensus: 'sum' }));
  });

  it('a tied vote elects +: one model up by 1, one down by 1, equal weights', () => {
    const got = tiesMerge(job([1, 1], { normalize: true, lambda: 1 }, [0], [[1], [-1]]));
    expect(Array.from(got)).toEqual([1]);
  });

  it('count consensus: the sign most models have, whatever their size', () => {
    const spec: TaskArithmeticSpec = { method: 'count_test', consensus: 'count' };
    const j = job([1, 1, 1], { normalize: true, lambda: 1 }, [0, 0], [[10, -1], [-1, 10], [-1, 10]]);
    // element 0: votes +, −, − → − wins: mean of the two −1 → −1; element 1: −, +, + → + wins: 10
    expect(Array.from(taskArithmeticCore(j, spec))).toEqual([-1, 10]);
    expect(Array.from(taskArithmeticCore(j, spec))).toEqual(reference([0, 0], [[10, -1], [-1, 10], [-1, 10]], [1, 1, 1], { normalize: true, lambda: 1, consensus: 'count' }));
    // the sum consensus picks + for element 0 (10 − 1 − 1 > 0)
    expect(Array.from(taskArithmeticCore(j, { method: 'sum_test', consensus: 'sum' }))).toEqual([10, 10]);
    expect(signsAgree(j, spec, Float32Array.from([-1, 10]))).toBe(true);
    expect(signsAgree(j, spec, Float32Array.from([10, 10]))).toBe(false);
  });

  it('signsAgree holds trivially without a base, a consensus or inputs', () => {
    const j = job([1], { normalize: true, lambda: 1 }, [0], [[1]]);
    const up = Float32Array.from([-5]);
    expect(signsAgree(j, { method: 'x', consensus: 'sum' }, up)).toBe(false);
    expect(signsAgree({ ...j, base: undefined }, { method: 'x', consensus: 'sum' }, up)).toBe(true);
    expect(signsAgree(j, { method: 'x' }, up)).toBe(true);
    expect(signsAgree({ ...j, inputs: [], modelParams: [] }, { method: 'x', consensus: 'sum' }, up)).toBe(true);
  });

  it('no other model: the base, as a copy; a −0 base entry with a zero delta stays −0', () => {
    const base = Float32Array.from([-0, 1]);
    const alone = taskArithmeticMerge({ ...job([], { normalize: false, lambda: 1 }), base, inputs: [], modelParams: [] });
    expect(Object.is(alone[0], -0)).toBe(true);
    expect(alone).not.toBe(base);
    const same = taskArithmeticMerge({ ...job([1], { normalize: false, lambda: 1 }), base, inputs: [Float32Array.from([-0, 2])], modelParams: [{ weight: 1 }] });
    expect(Object.is(same[0], -0)).toBe(true);
    expect(same[1]).toBe(2);
  });
});

import { describe, expect, it } from 'vitest';
import { ContractViolation } from '../../../src/contract/violation.js';
import { breadcrumbsContract, breadcrumbsMerge } from '../../../src/train/merge/breadcrumbs.js';
import { breadcrumbsTiesMerge } from '../../../src/train/merge/breadcrumbs-ties.js';
import { dareLinearMerge, dareTiesContract, dareTiesMerge } from '../../../src/train/merge/dare.js';
import { dellaContract, dellaMerge } from '../../../src/train/merge/della.js';
import { dellaLinearMerge } from '../../../src/train/merge/della-linear.js';
import { linearContract, linearMerge } from '../../../src/train/merge/linear.js';
import type { ParamValues, TensorJob } from '../../../src/train/merge/method.js';
import { modelStockContract, modelStockMerge } from '../../../src/train/merge/model-stock.js';
import { nearswapContract, nearswapMerge } from '../../../src/train/merge/nearswap.js';
import { slerp, slerpContract, slerpTensors } from '../../../src/train/merge/slerp.js';
import { taskArithmeticContract, taskArithmeticMerge } from '../../../src/train/merge/task-arithmetic.js';
import { tiesContract, tiesMerge } from '../../../src/train/merge/ties.js';

/**
 * Every pre- and postcondition of the merge contracts fires on an input (or an output) that breaks it, and only
 * then: each case names the clause it expects, from the contract's own text (contracts/merge-*.yaml), and a
 * matching valid case shows the clause does not fire where it should not. (Tests run with APR_CONTRACTS=full.)
 */
function clause(f: () => unknown): string | undefined {
  try {
    f();
    return undefined;
  } catch (e) {
    if (e instanceof ContractViolation) return `${e.kind}: ${e.clause}`;
    throw e;
  }
}

const f32 = (...v: number[]): Float32Array => Float32Array.from(v);

function job(base: Float32Array | undefined, inputs: Float32Array[], params: ParamValues, modelParams: ParamValues[] = inputs.map(() => ({}))): TensorJob {
  return { name: 't', shape: [inputs[0]?.length ?? base?.length ?? 0], base, inputs, params, modelParams, seed: 7 };
}

describe('linear (merge-linear-v1)', () => {
  const P = { normalize: true };
  it('preconditions', () => {
    expect(clause(() => linearMerge(job(undefined, [], P, [])))).toBe('pre: at least one model');
    expect(clause(() => linearMerge(job(undefined, [f32(1, 2), f32(1)], P, [{ weight: 1 }, { weight: 1 }])))).toBe('pre: inputs of one length');
    expect(clause(() => linearMerge(job(undefined, [f32(1), f32(2)], P, [{ weight: 1 }, { weight: -1 }])))).toBe('pre: weights sum to non-zero when normalizing');
    // without normalize a zero weight sum is fine: out = 1·1 − 1·2
    expect(Array.from(linearMerge(job(undefined, [f32(1), f32(2)], { normalize: false }, [{ weight: 1 }, { weight: -1 }])))).toEqual([-1]);
  });

  it('postconditions', () => {
    const two = job(undefined, [f32(1, 4), f32(3, 2)], P, [{ weight: 1 }, { weight: 1 }]);
    expect(clause(() => linearContract.run(two, () => f32(2)))).toBe('post: output length');
    expect(clause(() => linearContract.run(two, () => f32(2, 3)))).toBeUndefined();
    expect(clause(() => linearContract.run(two, () => f32(0.5, 3)))).toBe('post: convex combination stays within the inputs’ range');
    expect(clause(() => linearContract.run(two, () => f32(2, 4.5)))).toBe('post: convex combination stays within the inputs’ range');
    expect(clause(() => linearContract.run(two, () => f32(3, 2)))).toBeUndefined(); // the range's ends are inside
    // with a negative weight, or without normalize, the result need not be a convex combination
    const neg = job(undefined, [f32(1, 4), f32(3, 2)], P, [{ weight: 2 }, { weight: -1 }]);
    expect(clause(() => linearContract.run(neg, () => f32(-1, 6)))).toBeUndefined();
    expect(clause(() => linearContract.run({ ...two, params: { normalize: false } }, () => f32(4, 6)))).toBeUndefined();
    const same = job(undefined, [f32(1, -0), f32(1, -0)], P, [{ weight: 1 }, { weight: 3 }]);
    expect(clause(() => linearContract.run(same, () => f32(1, 0)))).toBe('post: copies of one tensor merge to it bit for bit');
    expect(clause(() => linearContract.run({ ...same, params: { normalize: false } }, () => f32(4, 0)))).toBeUndefined();
  });

  it('merges with float64 accumulation: Σ w_i x_i / Σ w_i, and −0 ⊕ −0 stays −0', () => {
    const out = linearMerge(job(undefined, [f32(1, -0, 2 ** 24), f32(2, -0, 1)], P, [{ weight: 1 }, { weight: 3 }]));
    expect(out[0]).toBe(1.75);
    expect(Object.is(out[1], -0)).toBe(true);
    expect(out[2]).toBe(Math.fround((2 ** 24 + 3) / 4));
  });
});

describe('slerp (merge-slerp-v1)', () => {
  it('preconditions and postconditions', () => {
    expect(clause(() => slerpTensors(f32(1, 0), f32(0), 0.5))).toBe('pre: same length');
    expect(clause(() => slerpTensors(f32(1, 0), f32(0, 1), -0.1))).toBe('pre: t in [0, 1]');
    expect(clause(() => slerpTensors(f32(1, 0), f32(0, 1), 1.1))).toBe('pre: t in [0, 1]');
    const a = f32(3, 0);
    const b = f32(0, 4);
    expect(clause(() => slerpContract.run({ a, b, t: 0 }, () => f32(3, 1e-7)))).toBe('post: t = 0 gives a');
    expect(clause(() => slerpContract.run({ a, b, t: 1 }, () => f32(1e-7, 4)))).toBe('post: t = 1 gives b');
    // ‖out‖ must lie in [min(‖a‖, ‖b‖)·(1 − 1.3e-4), max(‖a‖, ‖b‖)·(1 + 1e-6)] = [2.99961, 4.000004]
    expect(clause(() => slerpContract.run({ a, b, t: 0.5 }, () => f32(2.9994, 0)))).toBe('post: norm between the inputs’ norms (â·b̂ ≥ 0)');
    expect(clause(() => slerpContract.run({ a, b, t: 0.5 }, () => f32(2.9997, 0)))).toBeUndefined();
    expect(clause(() => slerpContract.run({ a, b, t: 0.5 }, () => f32(0, 4.00001)))).toBe('post: norm between the inputs’ norms (â·b̂ ≥ 0)');
    expect(clause(() => slerpContract.run({ a, b, t: 0.5 }, () => f32(0, 4.000002)))).toBeUndefined();
    // â·b̂ < 0: no norm bound
    expect(clause(() => slerpContract.run({ a, b: f32(-1, 1), t: 0.5 }, () => f32(0, 0)))).toBeUndefined();
  });

  it('the cosine leaves vectors of norm ≤ 1e-8 unnormalized (mergekit): a tiny a is "orthogonal enough" to interpolate by sines', () => {
    // a = (1e-9, 0), b = (1, 0): â·b̂ with a unnormalized is 1e-9 → θ ≈ π/2: s0 = sin((1 − t)θ)/sin θ, s1 = sin(tθ)/sin θ
    const a = f32(1e-9, 0);
    const b = f32(1, 0);
    const theta = Math.acos(Math.fround(1e-9) * 1);
    const out = slerpTensors(a, b, 0.25);
    expect(out[0]).toBe(Math.fround((Math.sin(0.75 * theta) / Math.sin(theta)) * Math.fround(1e-9) + Math.sin(0.25 * theta) / Math.sin(theta)));
    // parallel vectors (|cos| > 0.9995) fall back to lerp: (1 − t)·a + t·b
    expect(Array.from(slerpTensors(f32(1, 2), f32(2, 4), 0.25))).toEqual([1.25, 2.5]);
    // exactly at the threshold mergekit still interpolates by sines (only |cos| > 0.9995 is lerp)
  });
});

describe('slerp as a merge method', () => {
  it('interpolates from the base (t = 0) to the other model (t = 1); alone, the base is copied; no base is refused', () => {
    const base = f32(1, 2);
    expect(Array.from(slerp.merge(job(base, [f32(2, 4)], { t: 0.5 })))).toEqual([1.5, 3]); // parallel: lerp
    expect(Array.from(slerp.merge(job(base, [f32(2, 4)], { t: 1 })))).toEqual([2, 4]);
    const alone = slerp.merge(job(base, [], { t: 0.5 }));
    expect(Array.from(alone)).toEqual([1, 2]);
    expect(alone).not.toBe(base);
    expect(() => slerp.merge(job(undefined, [f32(1)], { t: 0.5 }))).toThrow('slerp needs a base model (--base-model)');
  });
});

describe('nearswap (merge-nearswap-v1)', () => {
  it('pre- and postconditions', () => {
    expect(clause(() => nearswapMerge(job(undefined, [f32(1)], { t: 0.5 })))).toBe('pre: a base tensor');
    expect(clause(() => nearswapMerge(job(f32(1), [f32(1), f32(2)], { t: 0.5 })))).toBe('pre: at most one model besides the base');
    const j = job(f32(0, 1), [f32(2, -1)], { t: 0.5 });
    expect(clause(() => nearswapContract.run(j, () => f32(2.1, 0)))).toBe('post: each entry between the base’s and the other’s');
    expect(clause(() => nearswapContract.run(j, () => f32(1, -1.5)))).toBe('post: each entry between the base’s and the other’s');
    expect(clause(() => nearswapContract.run(j, () => f32(0, 1)))).toBeUndefined();
    expect(clause(() => nearswapContract.run(j, () => f32(2, -1)))).toBeUndefined();
    const same = job(f32(0.5, -0), [f32(0.5, -0)], { t: 0.5 });
    expect(clause(() => nearswapContract.run(same, () => f32(0.5, 0)))).toBe('post: a model equal to the base merges to the base bit for bit');
  });

  it('w = clamp(t / max(|a − b|, 1e-6), 0, 1); out = w·b + (1 − w)·a; with no other model the base is returned (a copy)', () => {
    const base = f32(0, 1, 5, 2);
    const out = nearswapMerge(job(base, [f32(0.25, 3, 5.0000005, -2)], { t: 0.5 }));
    // |a − b| = 0.25 → w = 1 (swap); 2 → w = 0.25; 5e-7 → max(…, 1e-6) → w = 1; 4 → w = 0.125
    expect(Array.from(out)).toEqual([0.25, Math.fround(0.25 * 3 + 0.75 * 1), Math.fround(5.0000005), Math.fround(0.125 * -2 + 0.875 * 2)]);
    const alone = nearswapMerge(job(base, [], { t: 0.5 }));
    expect(Array.from(alone)).toEqual(Array.from(base));
    expect(alone).not.toBe(base);
  });
});

describe('the task-vector methods: preconditions', () => {
  const base = f32(0, 0, 0, 0);
  const x = f32(1, -2, 3, -4);
  const cases: [string, (j: TensorJob) => Float32Array, ParamValues, ParamValues, string][] = [
    ['ties', tiesMerge, { lambda: 1, normalize: true }, { weight: 1, density: 0 }, 'pre: density in (0, 1]'],
    ['ties', tiesMerge, { lambda: 1, normalize: true }, { weight: 1, density: 1.5 }, 'pre: density in (0, 1]'],
    ['dare_ties', dareTiesMerge, { lambda: 1, normalize: false, rescale: true }, { weight: 1, density: 0 }, 'pre: density = 1 − p in (0, 1]'],
    ['dare_linear', dareLinearMerge, { lambda: 1, normalize: false, rescale: true }, { weight: 1, density: 1.01 }, 'pre: density = 1 − p in (0, 1]'],
    ['della', dellaMerge, { lambda: 1, normalize: true, rescale: true }, { weight: 1, density: 0.5, epsilon: 0.5 }, 'pre: density ± epsilon in (0, 1)'],
    ['della', dellaMerge, { lambda: 1, normalize: true, rescale: true }, { weight: 1, density: 0.7, epsilon: 0.3 }, 'pre: density ± epsilon in (0, 1)'],
    ['della_linear', dellaLinearMerge, { lambda: 1, normalize: false, rescale: true }, { weight: 1, density: 0.2, epsilon: 0.2 }, 'pre: density ± epsilon in (0, 1)'],
    ['breadcrumbs', breadcrumbsMerge, { lambda: 1, normalize: false, rescale: false }, { weight: 1, density: 0.5, gamma: -0.01 }, 'pre: 0 ≤ gamma, 0 < density ≤ 1'],
    ['breadcrumbs', breadcrumbsMerge, { lambda: 1, normalize: false, rescale: false }, { weight: 1, density: 0, gamma: 0.01 }, 'pre: 0 ≤ gamma, 0 < density ≤ 1'],
    ['breadcrumbs_ties', breadcrumbsTiesMerge, { lambda: 1, normalize: false, rescale: false }, { weight: 1, density: 1.2, gamma: 0.01 }, 'pre: 0 ≤ gamma, 0 < density ≤ 1'],
  ];
  it.each(cases)('%s refuses %j / %j', (_name, merge, params, bad, expected) => {
    const good = { ...bad, density: 0.5, ...(bad['epsilon'] !== undefined ? { epsilon: 0.1 } : {}), ...(bad['gamma'] !== undefined ? { gamma: 0.01 } : {}) };
    // the clause checks every model: one good model before the bad one does not hide it
    expect(clause(() => merge(job(base, [x, x], params, [good, bad])))).toBe(expected);
    expect(clause(() => merge(job(base, [x, x], params, [good, good])))).toBeUndefined();
    expect(clause(() => merge(job(undefined, [x], params, [good])))).toBe('pre: a base tensor');
  });

  it('the edges of the ranges are allowed: density 1 (and della’s density ≥ 1 skips ε), gamma 0', () => {
    const p = { lambda: 1, normalize: false, rescale: true };
    expect(clause(() => tiesMerge(job(base, [x], { lambda: 1, normalize: true }, [{ weight: 1, density: 1 }])))).toBeUndefined();
    expect(clause(() => dareTiesMerge(job(base, [x], p, [{ weight: 1, density: 1 }])))).toBeUndefined();
    expect(clause(() => dellaMerge(job(base, [x], p, [{ weight: 1, density: 1, epsilon: 0.5 }])))).toBeUndefined();
    expect(clause(() => breadcrumbsMerge(job(base, [x], { ...p, rescale: false }, [{ weight: 1, density: 1, gamma: 0 }])))).toBeUndefined();
    expect(clause(() => taskArithmeticMerge(job(undefined, [x], { lambda: 1, normalize: false }, [{ weight: 1, density: 1 }])))).toBe('pre: a base tensor');
  });
});

describe('the task-vector methods: postconditions', () => {
  const base = f32(0, 0, 0, 0);
  const same = job(f32(1, -0, 2, 3), [f32(1, -0, 2, 3), f32(1, -0, 2, 3)], { lambda: 1, normalize: true, rescale: false }, [
    { weight: 1, density: 1, gamma: 0, epsilon: 0.1 },
    { weight: 1, density: 1, gamma: 0, epsilon: 0.1 },
  ]);
  it('models equal to the base must merge to the base bit for bit', () => {
    for (const c of [tiesContract, dareTiesContract, dellaContract, breadcrumbsContract, taskArithmeticContract]) {
      expect(clause(() => c.run(same, () => f32(1, 0, 2, 3)))).toBe('post: models equal to the base merge to the base bit for bit');
      expect(clause(() => c.run(same, () => f32(1, -0, 2, 3)))).toBeUndefined();
    }
  });

  it('TIES-style methods: the output moves from the base only in the elected sign (sign of Σ_k w_k δ_k, + on a tie)', () => {
    // δ_0 = (+2, −1, +1, 0), δ_1 = (−1, +3, −1, 0): elected signs (+, +, + (tie 0 → +), +)
    const j = job(base, [f32(2, -1, 1, 0), f32(-1, 3, -1, 0)], { lambda: 1, normalize: true }, [
      { weight: 1, density: 1 },
      { weight: 1, density: 1 },
    ]);
    expect(clause(() => tiesContract.run(j, () => f32(2, 3, 1, 0)))).toBeUndefined();
    expect(clause(() => tiesContract.run(j, () => f32(-1, 3, 1, 0)))).toBe('post: output moves only in the elected sign');
    expect(clause(() => tiesContract.run(j, () => f32(2, -1, 1, 0)))).toBe('post: output moves only in the elected sign');
    expect(clause(() => tiesContract.run(j, () => f32(2, 3, -1, 0)))).toBe('post: output moves only in the elected sign');
    expect(clause(() => tiesContract.run(j, () => f32(2, 3, 1, -0.5)))).toBe('post: output moves only in the elected sign');
    // a negative λ flips the direction the output moves in
    const neg = { ...j, params: { lambda: -1, normalize: true } };
    expect(clause(() => tiesContract.run(neg, () => f32(-2, -3, -1, 0)))).toBeUndefined();
    expect(clause(() => tiesContract.run(neg, () => f32(2, -3, -1, 0)))).toBe('post: output moves only in the elected sign');
    // and the merge itself meets it: (+2 only) / 1, (+3 only) / 1, (+1 only) / 1, nothing
    expect(Array.from(tiesMerge(j))).toEqual([2, 3, 1, 0]);
  });

  it('model_stock: pre- and postconditions', () => {
    expect(clause(() => modelStockMerge(job(undefined, [f32(1), f32(2)], { filter_wise: false })))).toBe('pre: a base tensor');
    expect(clause(() => modelStockMerge(job(f32(0), [f32(1)], { filter_wise: false })))).toBe('pre: at least two models besides the base');
    const j = job(f32(1, -0), [f32(1, -0), f32(1, -0)], { filter_wise: false });
    expect(clause(() => modelStockContract.run(j, () => f32(1, 0)))).toBe('post: models equal to the base merge to the base bit for bit');
  });
});

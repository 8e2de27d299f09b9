import { describe, expect, test } from 'vitest';
import { violatedClause } from '../helpers.js';
import { Rng } from '../../src/model/rng.js';
import { distributionContract, sampleContract, sampleFromProbabilities, samplingDistribution } from '../../src/model/sampling.js';

const f32 = (...v: number[]): Float32Array => Float32Array.from(v);
const ids = (logits: Float32Array, opts: Parameters<typeof samplingDistribution>[1]): number[] => Array.from(samplingDistribution(logits, opts).ids);

describe('sampling distribution edge cases', () => {
  test('the softmax is max-shifted: logits of 1000 give the exact two-token distribution (e^1000 overflows)', () => {
    const c = samplingDistribution(f32(1000, 0, 999), { temperature: 1 });
    // token 1 has probability e^−1000 = 0 in float64 and is dropped; the others are 1/(1 + e^−1) and e^−1/(1 + e^−1)
    expect(Array.from(c.ids)).toEqual([0, 2]);
    expect(c.probs[0]).toBeCloseTo(1 / (1 + Math.exp(-1)), 14);
    expect(c.probs[1]).toBeCloseTo(Math.exp(-1) / (1 + Math.exp(-1)), 14);
  });

  test('tokens of probability 0 are never candidates, with or without top-k', () => {
    expect(ids(f32(0, -1000), { temperature: 1 })).toEqual([0]);
    // top-k of 3 over one live token and three zeros: the 3rd largest probability is 0
    expect(ids(f32(0, -1000, -1000, -1000), { temperature: 1, topK: 3 })).toEqual([0]);
  });

  test('equal probabilities are ordered by token id', () => {
    expect(ids(f32(1, 2, 2, 1), { temperature: 1 })).toEqual([1, 2, 0, 3]);
  });

  test('top-p stops as soon as the mass reaches p (0.5 of two equal tokens keeps one)', () => {
    const c = samplingDistribution(f32(0, 0), { temperature: 1, topP: 0.5 });
    expect(Array.from(c.ids)).toEqual([0]);
    expect(Array.from(c.probs)).toEqual([1]);
  });

  test('without top-k (or with k = vocabulary) top-p measures p against the whole distribution, not the pre-filtered one', () => {
    // p = (0.5, 0.39, 0.09, 0.02), top-p 0.9: 0.5 + 0.39 = 0.89 < 0.9, so the third token is needed. Token 3 lies under
    // the pre-filter's (1 − 0.9)/4 = 0.025; measuring 0.9 of the remaining 0.98 (0.882) would wrongly stop at two.
    const logits = f32(Math.log(0.5), Math.log(0.39), Math.log(0.09), Math.log(0.02));
    for (const topK of [0, 4]) {
      const c = samplingDistribution(logits, { temperature: 1, topP: 0.9, topK });
      expect(Array.from(c.ids)).toEqual([0, 1, 2]);
      c.probs.forEach((q, i) => expect(q).toBeCloseTo([0.5, 0.39, 0.09][i]! / 0.98, 6));
    }
  });

  test('sampleFromProbabilities scales the draw by the total: unnormalised weights 1, 1, 1, 1 are uniform (4000 draws, 5σ)', () => {
    const rng = new Rng(11);
    const counts = [0, 0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[sampleFromProbabilities([1, 1, 1, 1], rng)]!++;
    // binomial(4000, 1/4): σ = √(4000 · 1/4 · 3/4) ≈ 27.4
    for (const c of counts) expect(Math.abs(c - 1000)).toBeLessThan(5 * 27.4);
  });
});

describe('sampling contracts as guards', () => {
  const input = { logits: f32(0.5, 0.25, 0), opts: { temperature: 1 }, history: [] };
  const clause = violatedClause;
  test('distribution post: sums to 1, sorted by decreasing probability, ≥ 1 id, ids in range', () => {
    const post = (c: { ids: number[]; probs: number[] }): string => clause(() => distributionContract.checkPost(input, { ids: Uint32Array.from(c.ids), probs: Float64Array.from(c.probs) }));
    expect(post({ ids: [2, 0], probs: [0.75, 0.25] })).toBe('none');
    expect(post({ ids: [0, 1], probs: [0.5, 0.4] })).toBe('probabilities sum to 1');
    expect(post({ ids: [0, 1, 2], probs: [0.5, 0.2, 0.3] })).toBe('sorted by decreasing probability');
    expect(post({ ids: [], probs: [] })).toBe('probabilities sum to 1');
    expect(post({ ids: [3], probs: [1] })).toBe('ids in range');
    expect(post({ ids: [], probs: [1] })).toBe('ids in range');
  });

  test('token post: an integer id in [0, vocab), the arg-max when greedy', () => {
    const greedy = { ...input, opts: { temperature: 0 }, rng: new Rng(1) };
    const sampled = { ...greedy, opts: { temperature: 1 } };
    expect(clause(() => sampleContract.checkPost(greedy, 0))).toBe('none');
    expect(clause(() => sampleContract.checkPost(sampled, 2))).toBe('none');
    for (const bad of [-1, 3, 1.5]) expect(clause(() => sampleContract.checkPost(sampled, bad))).toBe('token id in range');
    expect(clause(() => sampleContract.checkPost(greedy, 1))).toBe('greedy picks the arg-max');
  });
});

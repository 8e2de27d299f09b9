import { describe, expect, test } from 'vitest';
import { applyRepetitionPenalty, argmax, createSampler, Rng, sampleFromProbabilities, sampleToken, samplingDistribution, tokenProbabilities } from '../../src/model/sampling.js';

const logp = (ps: number[]): Float32Array => Float32Array.from(ps.map(Math.log));

describe('sampling', () => {
  test('argmax takes the first of tied maxima (as torch.argmax)', () => {
    expect(argmax([1, 3, 3, 2])).toBe(1);
    expect(argmax(Float32Array.of(-Infinity, -5))).toBe(1);
  });

  test('repetition penalty follows transformers: l>0 → l/p, l<0 → l·p, each seen token once', () => {
    const l = Float32Array.of(2, -2, 1, 4);
    applyRepetitionPenalty(l, [0, 1, 1, 1], 2);
    expect(Array.from(l)).toEqual([1, -4, 1, 4]);
  });

  test('greedy picks the arg-max after the penalty and draws nothing from the generator', () => {
    const rng = new Rng(5);
    const before = new Rng(5).next();
    expect(sampleToken(Float32Array.of(1, 3, 2.5), {}, rng, [])).toBe(1);
    expect(sampleToken(Float32Array.of(1, 3, 2.5), { repetitionPenalty: 1.5 }, rng, [1])).toBe(2);
    expect(rng.next()).toBe(before);
  });

  test('top-p keeps the smallest head reaching p (transformers: drop where ascending cumsum ≤ 1 − p)', () => {
    const d = samplingDistribution(logp([0.5, 0.3, 0.15, 0.05]), { temperature: 1, topP: 0.75 });
    expect(Array.from(d.ids)).toEqual([0, 1]);
    // logits are float32 (log p rounded to 2^-24 relative), hence 6 digits
    expect(d.probs[0]).toBeCloseTo(0.5 / 0.8, 6);
    const all = samplingDistribution(logp([0.5, 0.3, 0.15, 0.05]), { temperature: 1, topP: 0.99 });
    expect(Array.from(all.ids)).toEqual([0, 1, 2, 3]);
  });

  test('top-k keeps k (ties with the k-th included); min-p drops below minP·max', () => {
    expect(Array.from(samplingDistribution(logp([0.1, 0.4, 0.3, 0.2]), { temperature: 1, topK: 2 }).ids)).toEqual([1, 2]);
    expect(Array.from(samplingDistribution(Float32Array.of(1, 2, 2, 0), { temperature: 1, topK: 2 }).ids)).toEqual([1, 2]);
    expect(Array.from(samplingDistribution(Float32Array.of(3, 2, 2, 0), { temperature: 1, topK: 2 }).ids)).toEqual([0, 1, 2]);
    expect(Array.from(samplingDistribution(logp([0.5, 0.3, 0.15, 0.05]), { temperature: 1, minP: 0.2 }).ids)).toEqual([0, 1, 2]);
  });

  test('temperature rescales the logits before the softmax', () => {
    const p = tokenProbabilities(Float32Array.of(0, Math.log(3)), { temperature: 0.5 });
    expect(p[1]! / p[0]!).toBeCloseTo(9, 5);
  });

  test('draw frequencies match the distribution (seeded, 40,000 draws; 5σ bound)', () => {
    const probs = [0.5, 0.25, 0.15, 0.1];
    const sample = createSampler({ temperature: 1, seed: 11 });
    const counts = [0, 0, 0, 0];
    const N = 40000;
    for (let i = 0; i < N; i++) counts[sample(logp(probs))]!++;
    probs.forEach((p, i) => expect(Math.abs(counts[i]! / N - p)).toBeLessThan(5 * Math.sqrt((p * (1 - p)) / N)));
  });

  test('sampleFromProbabilities follows a dense distribution and never picks a zero', () => {
    const rng = new Rng(3);
    const counts = [0, 0, 0];
    for (let i = 0; i < 20000; i++) counts[sampleFromProbabilities([0.2, 0, 0.8], rng)]!++;
    expect(counts[1]).toBe(0);
    expect(Math.abs(counts[0]! / 20000 - 0.2)).toBeLessThan(0.015);
  });

  test('same seed → same tokens; another seed → another stream', () => {
    const logits = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i));
    const run = (seed: number): number[] => {
      const s = createSampler({ temperature: 1.2, topP: 0.95, seed });
      return Array.from({ length: 40 }, () => s(logits));
    };
    expect(run(7)).toEqual(run(7));
    expect(run(7)).not.toEqual(run(8));
  });

  test('Rng.next is uniform on [0, 1) (mean and variance over 100,000 draws)', () => {
    const rng = new Rng(123);
    let s = 0;
    let s2 = 0;
    const N = 100000;
    let inRange = true;
    for (let i = 0; i < N; i++) {
      const u = rng.next();
      inRange &&= u >= 0 && u < 1;
      s += u;
      s2 += u * u;
    }
    expect(inRange).toBe(true);
    expect(Math.abs(s / N - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(s2 / N - s ** 2 / N ** 2 - 1 / 12)).toBeLessThan(0.002);
  });

  test('contract refuses invalid options', () => {
    expect(() => sampleToken(Float32Array.of(1, 2), { temperature: 1, topP: 0 }, new Rng(1))).toThrow(/topP/);
    expect(() => sampleToken(Float32Array.of(1, 2), { temperature: -1 }, new Rng(1))).toThrow(/temperature/);
  });
});

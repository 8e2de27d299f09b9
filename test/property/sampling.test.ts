import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { argmax, Rng, sampleToken, samplingDistribution, type SamplingOptions } from '../../src/model/sampling.js';

const logitsArb = fc.array(fc.float({ min: -20, max: 20, noNaN: true }), { minLength: 1, maxLength: 60 }).map((a) => Float32Array.from(a));
const optsArb: fc.Arbitrary<SamplingOptions> = fc.record({
  temperature: fc.double({ min: 0.05, max: 3, noNaN: true }),
  topK: fc.integer({ min: 0, max: 70 }),
  topP: fc.double({ min: 0.01, max: 1, noNaN: true }),
  minP: fc.double({ min: 0, max: 1, noNaN: true }),
});

/** Softmax at temperature T, float64, written independently of src/model/sampling. */
function softmaxT(l: Float32Array, t: number): number[] {
  const m = Math.max(...l);
  const e = Array.from(l, (v) => Math.exp((v - m) / t));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / z);
}

describe('sampling distribution', () => {
  test('[ob:sampling-normalised] probabilities sum to 1, sorted, and kept tokens dominate dropped ones', () => {
    fc.assert(fc.property(logitsArb, optsArb, (logits, opts) => {
      const d = samplingDistribution(logits, opts);
      expect(Math.abs(d.probs.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-9);
      const p = softmaxT(logits, opts.temperature ?? 1);
      const kept = new Set(d.ids);
      const minKept = Math.min(...Array.from(d.ids, (i) => p[i]!));
      p.forEach((v, i) => {
        if (!kept.has(i)) expect(v).toBeLessThanOrEqual(minKept * (1 + 1e-12));
      });
      // relative probabilities among kept tokens are the softmax ratios
      const z = Array.from(d.ids, (i) => p[i]!).reduce((a, b) => a + b, 0);
      d.ids.forEach((id, j) => expect(Math.abs(d.probs[j]! - p[id]! / z)).toBeLessThan(1e-9));
    }), { numRuns: 300 });
  });

  test('[ob:sampling-top-p-minimal] top-p keeps the smallest head whose mass reaches p', () => {
    fc.assert(fc.property(logitsArb, fc.double({ min: 0.01, max: 0.99, noNaN: true }), (logits, topP) => {
      const d = samplingDistribution(logits, { temperature: 1, topP });
      const p = softmaxT(logits, 1);
      const mass = Array.from(d.ids, (i) => p[i]!);
      const total = mass.reduce((a, b) => a + b, 0);
      const withoutLast = total - mass[mass.length - 1]!;
      // Reaches p (allowing float64 noise), and without its smallest member would not.
      expect(total).toBeGreaterThanOrEqual(topP - 1e-12);
      expect(withoutLast).toBeLessThan(topP + 1e-12);
    }), { numRuns: 300 });
  });

  test('[ob:sampling-top-k-size] top-k keeps exactly k tokens when probabilities are distinct', () => {
    fc.assert(fc.property(fc.uniqueArray(fc.integer({ min: -1000, max: 1000 }), { minLength: 2, maxLength: 50 }), fc.integer({ min: 1, max: 60 }), (vals, k) => {
      const logits = Float32Array.from(vals, (v) => v / 100);
      const d = samplingDistribution(logits, { temperature: 1, topK: k });
      const positive = softmaxT(logits, 1).filter((v) => v > 0).length;
      expect(d.ids.length).toBe(Math.min(k, positive));
    }), { numRuns: 200 });
  });

  test('[ob:sampling-greedy-argmax] temperature 0 returns the arg-max', () => {
    fc.assert(fc.property(logitsArb, fc.integer(), (logits, seed) => {
      expect(sampleToken(logits, { temperature: 0 }, new Rng(seed))).toBe(argmax(logits));
    }), { numRuns: 200 });
  });

  test('[ob:sampling-deterministic] the same seed gives the same token stream', () => {
    fc.assert(fc.property(logitsArb, optsArb, fc.integer(), (logits, opts, seed) => {
      const a = new Rng(seed);
      const b = new Rng(seed);
      for (let i = 0; i < 5; i++) expect(sampleToken(logits, opts, a)).toBe(sampleToken(logits, opts, b));
    }), { numRuns: 100 });
  });

  test('[ob:sampling-support] a sampled token always has non-zero probability under the distribution', () => {
    fc.assert(fc.property(logitsArb, optsArb, fc.integer(), (logits, opts, seed) => {
      const ids = new Set(samplingDistribution(logits, opts).ids);
      const rng = new Rng(seed);
      for (let i = 0; i < 5; i++) expect(ids.has(sampleToken(logits, opts, rng))).toBe(true);
    }), { numRuns: 100 });
  });
});

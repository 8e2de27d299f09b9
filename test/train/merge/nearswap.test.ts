import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { nearswap, nearswapMerge } from '../../../src/train/merge/nearswap.js';
import { bits, expectClose, f32, job, vec } from './helpers.js';

describe('nearswap (merge-nearswap-v1)', () => {
  it('matches mergekit’s documented formula on a worked example [ob:nearswap-worked-example]', () => {
    const a = f32([0.5, -1, 2, 0, 1e-8, 3, -0.25, 0.1]);
    const b = f32([0.6, 1, 2, -0.1, 2e-8, 2.5, 0.75, 0.1]);
    const t = 0.25;
    // mergekit docs: weight = (t / |base − secondary|).clamp(0, 1) with |·| floored at 1e-6; w·secondary + (1 − w)·base
    const ref = Array.from(a, (ai, i) => {
      const bi = b[i] as number;
      const w = Math.min(1, Math.max(0, t / Math.max(Math.abs(ai - bi), 1e-6)));
      return w * bi + (1 - w) * ai;
    });
    const out = nearswapMerge(job(a, [b], { t }, [{}]));
    expectClose(out, ref);
    // by hand: |0.5 − 0.6| = 0.1 <= t → swapped; |−1 − 1| = 2 → w = 1/8 → −1 + 2/8 = −0.75; |3 − 2.5| = 0.5 → w = ½ → 2.75
    expect(out[0]).toBe(b[0]);
    expect(out[1]).toBe(-0.75);
    expect(out[5]).toBe(2.75);
    expect(out[6]).toBe(-0.25 + 0.25); // |−0.25 − 0.75| = 1 → w = ¼ → −0.25 + ¼·1
  });

  it('keeps each entry between the base’s and the other’s [ob:nearswap-between]', () => {
    fc.assert(fc.property(vec(24), vec(24), fc.double({ min: -1, max: 50, noNaN: true }), (a, b, t) => {
      const out = nearswapMerge(job(a, [b], { t }, [{}]));
      out.forEach((o, i) => {
        expect(o).toBeGreaterThanOrEqual(Math.min(a[i] as number, b[i] as number));
        expect(o).toBeLessThanOrEqual(Math.max(a[i] as number, b[i] as number));
      });
    }));
  });

  it('takes the other model’s value exactly where the two are within t [ob:nearswap-swaps-near]', () => {
    fc.assert(fc.property(vec(24), vec(24), fc.double({ min: 1e-3, max: 50, noNaN: true }), (a, b, t) => {
      const out = nearswapMerge(job(a, [b], { t }, [{}]));
      out.forEach((o, i) => {
        // value equality: w = 1 gives 1·b + 0·a, where −0 + 0 is +0 (as in mergekit)
        if (Math.max(Math.abs((a[i] as number) - (b[i] as number)), 1e-6) <= t) expect(o === b[i]).toBe(true);
      });
    }));
  });

  it('merges a model equal to the base into the base, bit for bit [ob:nearswap-self-identity]', () => {
    fc.assert(fc.property(vec(30), fc.double({ min: 0, max: 10, noNaN: true }), (x, t) => {
      expect(bits(nearswapMerge(job(x, [Float32Array.from(x)], { t }, [{}])))).toEqual(bits(x));
    }));
  });

  it('has mergekit’s parameters: t required (no default), no per-model parameters; no other model returns the base', () => {
    expect(nearswap.params).toEqual([{ name: 't' }]);
    expect(nearswap.tensorParams).toEqual([]);
    const a = f32([1, -0, 3]);
    expect(bits(nearswapMerge(job(a, [], { t: 1 }, [])))).toEqual(bits(a));
  });
});

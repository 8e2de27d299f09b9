import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IGNORE, crossEntropy, nextTokenTargets } from '../../src/train/losses/cross-entropy.js';

/** Direct float64 definition: mean over counted rows of −log(exp z_y / Σ exp z_k). */
function direct(z: Float32Array, targets: Int32Array, v: number): number {
  let total = 0, count = 0;
  targets.forEach((y, p) => {
    if (y === IGNORE) return;
    let s = 0;
    for (let k = 0; k < v; k++) s += Math.exp(z[p * v + k]!);
    total += -Math.log(Math.exp(z[p * v + y]!) / s);
    count++;
  });
  return count ? total / count : 0;
}

const caseArb = fc
  .record({ n: fc.integer({ min: 1, max: 5 }), v: fc.integer({ min: 2, max: 12 }) })
  .chain(({ n, v }) =>
    fc.record({
      n: fc.constant(n),
      v: fc.constant(v),
      z: fc.array(fc.double({ min: -6, max: 6, noNaN: true }), { minLength: n * v, maxLength: n * v }),
      y: fc.array(fc.integer({ min: -1, max: v - 1 }), { minLength: n, maxLength: n }),
    }),
  )
  .map(({ n, v, z, y }) => ({ n, v, z: Float32Array.from(z), t: Int32Array.from(y, (k) => (k < 0 ? IGNORE : k)) }));

describe('masked cross-entropy', () => {
  // Tolerance 1e-4: central differences with h = 1e-3 on float32 logits; the loss is evaluated in float64
  // from float32 inputs, so the truncation error O(h²·|L'''|) ≈ 1e-7 and rounding ≈ 1e-7/h ≈ 1e-4 at worst.
  it('[ob:ce-grad-finite-difference] gradient equals central finite differences within 1e-4', () => {
    fc.assert(
      fc.property(caseArb, ({ v, z, t }) => {
        const { dLogits } = crossEntropy({ logits: z, targets: t, vocab: v });
        const h = 1e-3;
        for (let i = 0; i < z.length; i++) {
          const zp = Float64Array.from(z), zm = Float64Array.from(z);
          zp[i]! += h;
          zm[i]! -= h;
          const fd = (directF64(zp, t, v) - directF64(zm, t, v)) / (2 * h);
          expect(Math.abs(dLogits[i]! - fd)).toBeLessThanOrEqual(1e-4);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('[ob:ce-matches-definition] loss equals the float64 definition within 1e-6', () => {
    fc.assert(
      fc.property(caseArb, ({ v, z, t }) => {
        const l = crossEntropy({ logits: z, targets: t, vocab: v }).loss;
        expect(Math.abs(l - direct(z, t, v))).toBeLessThanOrEqual(1e-6 * Math.max(1, l));
      }),
      { numRuns: 200 },
    );
  });

  it('[ob:ce-mask-invariance] ignored rows do not touch the loss or gradient', () => {
    fc.assert(
      fc.property(caseArb, fc.double({ min: -50, max: 50, noNaN: true }), ({ v, z, t }, c) => {
        const a = crossEntropy({ logits: z, targets: t, vocab: v });
        const z2 = Float32Array.from(z);
        t.forEach((y, p) => {
          if (y === IGNORE) for (let k = 0; k < v; k++) z2[p * v + k] = c * (k + 1);
        });
        const b = crossEntropy({ logits: z2, targets: t, vocab: v });
        expect(b.loss).toBe(a.loss);
        expect(Array.from(b.dLogits)).toEqual(Array.from(a.dLogits));
        t.forEach((y, p) => {
          if (y === IGNORE) expect(a.dLogits.subarray(p * v, (p + 1) * v).every((d) => d === 0)).toBe(true);
        });
      }),
    );
  });

  it('[ob:ce-stable] per-row shifts keep the loss within 1e-5; logits of 1e30 stay finite', () => {
    fc.assert(
      fc.property(caseArb, fc.integer({ min: -10000, max: 10000 }), ({ v, z, t }, c) => {
        const a = crossEntropy({ logits: z, targets: t, vocab: v }).loss;
        // z + c is rounded to float32 (error ≤ ulp(|c|)/2 per logit), so the bound grows with |c|.
        const shifted = z.map((x) => x + c);
        const roundingBound = Math.abs(c) * 2 ** -23 * 4;
        expect(Math.abs(crossEntropy({ logits: shifted, targets: t, vocab: v }).loss - a)).toBeLessThanOrEqual(Math.max(1e-5, roundingBound));
      }),
    );
    const huge = Float32Array.from([1e30, -1e30, 3e29, 0]);
    const r = crossEntropy({ logits: huge, targets: Int32Array.from([2]), vocab: 4 });
    expect(r.loss).toBeCloseTo(1e30 - 3e29, -25);
    expect(r.dLogits.every(Number.isFinite)).toBe(true);
  });

  it('next-token targets shift by one and honour the mask', () => {
    expect(Array.from(nextTokenTargets([5, 6, 7, 8]))).toEqual([6, 7, 8, IGNORE]);
    expect(Array.from(nextTokenTargets([5, 6, 7, 8], [0, 0, 1, 1]))).toEqual([IGNORE, 7, 8, IGNORE]);
  });

  it('no counted position gives loss 0 and a zero gradient', () => {
    const r = crossEntropy({ logits: new Float32Array(6).fill(1), targets: Int32Array.from([IGNORE, IGNORE]), vocab: 3 });
    expect(r.loss).toBe(0);
    expect(r.dLogits.every((d) => d === 0)).toBe(true);
  });
});

function directF64(z: Float64Array, targets: Int32Array, v: number): number {
  let total = 0, count = 0;
  targets.forEach((y, p) => {
    if (y === IGNORE) return;
    let m = -Infinity;
    for (let k = 0; k < v; k++) m = Math.max(m, z[p * v + k]!);
    let s = 0;
    for (let k = 0; k < v; k++) s += Math.exp(z[p * v + k]! - m);
    total += m + Math.log(s) - z[p * v + y]!;
    count++;
  });
  return count ? total / count : 0;
}

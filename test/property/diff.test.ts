import fc from 'fast-check';
import { describe, it } from 'vitest';
import { compareVectors } from '../../src/ops/diff.js';

const vec = (n: number) => fc.float32Array({ minLength: n, maxLength: n, noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 });
const pair = fc.integer({ min: 1, max: 64 }).chain((n) => fc.tuple(vec(n), vec(n)));

describe('tensor diff (op-diff-v1)', () => {
  it('is zero against itself [ob:diff-self-zero]', () => {
    fc.assert(fc.property(vec(17), (a) => {
      const { maxAbs, cosine } = compareVectors(a, a);
      const nonZero = a.some((x) => x !== 0);
      return maxAbs === 0 && (!nonZero || Math.abs(cosine - 1) <= 1e-12);
    }));
  });
  it('is symmetric [ob:diff-symmetric]', () => {
    fc.assert(fc.property(pair, ([a, b]) => {
      const x = compareVectors(a, b);
      const y = compareVectors(b, a);
      return x.maxAbs === y.maxAbs && x.cosine === y.cosine;
    }));
  });
  it('keeps cosine in [-1, 1] [ob:diff-cosine-range]', () => {
    fc.assert(fc.property(pair, ([a, b]) => {
      const { cosine } = compareVectors(a, b);
      return cosine >= -1 && cosine <= 1;
    }));
  });
});

import { defineContract } from '../contract/index.js';
import { passAtKEstimate } from '../eval/pass-at-k.js';

export interface PassAtKInput {
  n: number;
  c: number;
  k: number;
}

const isCount = (x: number): boolean => Number.isSafeInteger(x) && x >= 0;

export const passAtKContract = defineContract<PassAtKInput, number>({
  id: 'eval-pass-at-k-v1',
  equation: 'pass_at_k',
  spec: 'pass@k(n,c,k) = 1 − C(n−c,k)/C(n,k), stable form 1 − ∏_{i=n−c+1}^{n} (1 − k/i)',
  pre: [
    ['n, c, k are non-negative integers', ({ n, c, k }) => isCount(n) && isCount(c) && isCount(k)],
    ['1 ≤ k ≤ n', ({ n, k }) => k >= 1 && k <= n],
    ['c ≤ n', ({ n, c }) => c <= n],
  ],
  post: [
    ['result in [0, 1]', (_in, p) => p >= 0 && p <= 1],
    ['c = 0 gives 0', ({ c }, p) => c !== 0 || p === 0],
    ['n − c < k gives 1', ({ n, c, k }, p) => n - c >= k || p === 1],
  ],
});

/** pass@k for one problem with n samples of which c passed. */
export function passAtK(n: number, c: number, k: number): number {
  return passAtKContract.run({ n, c, k }, () => passAtKEstimate(n, c, k));
}

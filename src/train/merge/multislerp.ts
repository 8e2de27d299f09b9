import { defineContract } from '../../contract/index.js';
import { type MergeMethod, type TensorJob, bool, identicalInputsPreserved, num } from './method.js';

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) ** 2;
  return Math.sqrt(s);
}

interface Sphere {
  /** x_k / (‖x_k‖ + eps). */
  units: Float64Array[];
  norms: number[];
}

function toSphere(xs: readonly Float32Array[], eps: number): Sphere {
  const norms = xs.map(norm);
  const units = xs.map((x, k) => {
    const u = new Float64Array(x.length);
    const d = (norms[k] as number) + eps;
    for (let i = 0; i < u.length; i++) u[i] = (x[i] as number) / d;
    return u;
  });
  return { units, norms };
}

/** The weights used: w_k / Σ w with normalize_weights, else as given. */
function mixWeights(job: TensorJob): number[] {
  const w = job.modelParams.map((p) => num(p, 'weight'));
  if (!bool(job.params, 'normalize_weights')) return w;
  const total = w.reduce((s, v) => s + v, 0);
  return w.map((v) => v / total);
}

/** Σ_k w_k x_k: mergekit's fallback for two antipodal inputs whose weights cancel (and here for all-zero inputs). */
function lerpFallback(xs: readonly Float32Array[], w: readonly number[]): Float32Array {
  const out = new Float32Array((xs[0] as Float32Array).length);
  for (let i = 0; i < out.length; i++) {
    let acc = -0;
    xs.forEach((x, k) => (acc += (w[k] as number) * (x[i] as number)));
    out[i] = acc;
  }
  return out;
}

/** Σ_k w_k (û_k − (û_k·m) m): the weighted tangent vectors at the mean direction m. */
function tangentAt(mean: Float64Array, units: readonly Float64Array[], w: readonly number[]): Float64Array {
  const tangent = new Float64Array(mean.length);
  units.forEach((u, k) => {
    let d = 0;
    for (let i = 0; i < u.length; i++) d += (u[i] as number) * (mean[i] as number);
    const wk = w[k] as number;
    for (let i = 0; i < u.length; i++) tangent[i] = (tangent[i] as number) + wk * ((u[i] as number) - d * (mean[i] as number));
  });
  return tangent;
}

/**
 * mergekit's `multislerp`: barycentric interpolation on the hypersphere. The unit directions are averaged with
 * the weights, the weighted tangent vectors at that mean direction are mapped back with the exponential map,
 * and the result is scaled by the weighted mean of the norms.
 */
function multislerpTensors(xs: readonly Float32Array[], w: readonly number[], eps: number): Float32Array {
  const first = xs[0];
  if (!first) throw new Error('multislerp needs at least one model');
  if (xs.length === 1) return first.slice();
  const { units, norms } = toSphere(xs, eps);
  // accumulated from −0 and a zero tangent term not added, so that an entry −0 in every model stays −0
  const mean = new Float64Array(first.length).fill(-0);
  units.forEach((u, k) => {
    const wk = w[k] as number;
    for (let i = 0; i < u.length; i++) mean[i] = (mean[i] as number) + wk * (u[i] as number);
  });
  const meanNorm = norm(mean);
  if (meanNorm < eps) {
    if (xs.length === 2 || norms.every((v) => v === 0)) return lerpFallback(xs, w);
    throw new Error('multislerp: the weighted sum of the directions is zero (antipodal models with balancing weights); use other weights');
  }
  for (let i = 0; i < mean.length; i++) mean[i] = (mean[i] as number) / meanNorm;
  const tangent = tangentAt(mean, units, w);
  const tn = norm(tangent) + eps;
  const cs = Math.cos(tn);
  const sn = Math.sin(tn) / tn;
  const scale = norms.reduce((s, v, k) => s + v * (w[k] as number), 0);
  const out = new Float32Array(mean.length);
  for (let i = 0; i < out.length; i++) {
    const m = mean[i] as number;
    const t = tangent[i] as number;
    out[i] = scale * (t === 0 ? m * cs : m * cs + t * sn);
  }
  return out;
}

export const multislerpContract = defineContract<TensorJob, Float32Array>({
  id: 'merge-multislerp-v1',
  equation: 'multislerp',
  spec: 'û_k = x_k/(‖x_k‖+ε); m = Σ w_k û_k / ‖Σ w_k û_k‖; τ = Σ w_k (û_k − (û_k·m) m); out = (Σ w_k ‖x_k‖)(m cos(‖τ‖+ε) + τ sin(‖τ‖+ε)/(‖τ‖+ε))',
  pre: [
    ['at least one model', (j) => j.inputs.length >= 1],
    ['weights sum to non-zero when normalizing', (j) => !bool(j.params, 'normalize_weights') || Math.abs(j.modelParams.reduce((s, p) => s + num(p, 'weight'), 0)) > 1e-12],
  ],
  post: [
    ['output length', (j, out) => out.length === (j.inputs[0]?.length ?? 0)],
    ['copies of one tensor merge to it bit for bit (normalized weights)', (j, out) => !bool(j.params, 'normalize_weights') || identicalInputsPreserved(j, out)],
  ],
});

export function multislerpMerge(job: TensorJob): Float32Array {
  return multislerpContract.run(job, () => multislerpTensors(job.inputs, mixWeights(job), num(job.params, 'eps')));
}

export const multislerp: MergeMethod = {
  name: 'multislerp',
  description: 'Multi-SLERP: weighted barycentric interpolation of any number of models on the hypersphere (tangent space at the weighted mean)',
  inputs: 'all',
  minInputs: 1,
  maxInputs: Infinity,
  params: [
    { name: 'normalize_weights', default: true },
    { name: 'eps', default: 1e-8 },
  ],
  tensorParams: [{ name: 'weight', default: 1 }],
  merge: multislerpMerge,
};

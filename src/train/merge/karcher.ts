import { defineContract } from '../../contract/index.js';
import { type MergeMethod, type TensorJob, identicalInputsPreserved, num } from './method.js';

function norm(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) ** 2;
  return Math.sqrt(s);
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) * (b[i] as number);
  return s;
}

/** Σ_k α_k v_k, accumulated from −0 so that a −0 shared by every v_k stays −0. */
function weightedSum(vs: readonly Float64Array[], alphas: readonly number[], n: number): Float64Array {
  const u = new Float64Array(n).fill(-0);
  vs.forEach((v, k) => {
    const a = alphas[k] as number;
    for (let i = 0; i < n; i++) u[i] = (u[i] as number) + a * (v[i] as number);
  });
  return u;
}

/** x · s in float64. */
function scaled(x: ArrayLike<number>, s: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < out.length; i++) out[i] = (x[i] as number) * s;
  return out;
}

function scaleInPlace(u: Float64Array, s: number): void {
  for (let i = 0; i < u.length; i++) u[i] = (u[i] as number) * s;
}

/** One fixed-point step u ← exp_u(Σ_k α_k log_u(ŷ_k)); false once the tangent step is below tol. */
function karcherStep(u: Float64Array, units: readonly Float64Array[], alphas: readonly number[], tol: number): boolean {
  const tangent = new Float64Array(u.length);
  units.forEach((y, k) => {
    const c = Math.max(-1, Math.min(1, dot(u, y)));
    const theta = Math.acos(c);
    if (theta < tol) return;
    const f = ((alphas[k] as number) * theta) / Math.sin(theta);
    for (let i = 0; i < u.length; i++) tangent[i] = (tangent[i] as number) + f * ((y[i] as number) - c * (u[i] as number));
  });
  const tn = norm(tangent);
  if (tn < tol) return false;
  const cs = Math.cos(tn);
  const sn = Math.sin(tn) / tn;
  for (let i = 0; i < u.length; i++) u[i] = cs * (u[i] as number) + sn * (tangent[i] as number);
  const un = norm(u);
  if (un > tol) scaleInPlace(u, 1 / un);
  return true;
}

/**
 * mergekit's `karcher_merge_tensors` with equal weights 1/N: the Riemannian (Karcher) mean of the directions
 * x_k/‖x_k‖ on the unit sphere (fixed-point iteration from the normalized mean, at most max_iter steps, stopped
 * when the tangent step is below tol), scaled by the mean of the norms ‖x_k‖.
 */
function karcherMean(xs: readonly Float32Array[], maxIter: number, tol: number): Float32Array {
  const n = xs[0]?.length ?? 0;
  if (xs.length === 1) return (xs[0] ?? new Float32Array(0)).slice();
  const alpha = 1 / xs.length;
  const norms = xs.map(norm);
  const valid = xs.flatMap((x, k) => ((norms[k] as number) > tol ? [k] : []));
  if (valid.length === 0) return new Float32Array(n);
  const units = valid.map((k) => scaled(xs[k] as Float32Array, 1 / (norms[k] as number)));
  const alphas = valid.map(() => 1 / valid.length);
  const u = weightedSum(units, alphas, n);
  const un = norm(u);
  if (un < tol) u.set(units[0] as Float64Array);
  else scaleInPlace(u, 1 / un);
  for (let it = 0; it < maxIter; it++) if (!karcherStep(u, units, alphas, tol)) break;
  const scale = norms.reduce((s, v) => s + alpha * v, 0);
  return new Float32Array(scaled(u, scale));
}

export const karcherContract = defineContract<TensorJob, Float32Array>({
  id: 'merge-karcher-v1',
  equation: 'karcher',
  spec: 'û = argmin_{‖u‖=1} Σ_k arccos²(u·x_k/‖x_k‖) (≤ max_iter fixed-point steps, tol); out = (Σ_k ‖x_k‖ / N) · û',
  pre: [
    ['at least one model', (j) => j.inputs.length >= 1],
    ['max_iter ≥ 0', (j) => num(j.params, 'max_iter') >= 0],
  ],
  post: [['copies of one tensor merge to it bit for bit', (j, out) => identicalInputsPreserved(j, out)]],
});

export function karcherMerge(job: TensorJob): Float32Array {
  return karcherContract.run(job, () => karcherMean(job.inputs, num(job.params, 'max_iter'), num(job.params, 'tol')));
}

export const karcher: MergeMethod = {
  name: 'karcher',
  description: 'Karcher (Riemannian) mean of the models’ directions on the sphere, scaled by their mean norm (equal weights)',
  inputs: 'all',
  minInputs: 1,
  maxInputs: Infinity,
  params: [
    { name: 'max_iter', default: 10 },
    { name: 'tol', default: 1e-5 },
  ],
  tensorParams: [],
  merge: karcherMerge,
};

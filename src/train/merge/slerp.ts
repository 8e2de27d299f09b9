import { defineContract } from '../../contract/index.js';
import { type MergeMethod, type TensorJob, bitEqual, num, requireBase } from './method.js';

/** mergekit's threshold above which |â·b̂| counts as parallel and slerp falls back to lerp. */
const DOT_THRESHOLD = 0.9995;
/**
 * Relative tolerance of the norm-between obligation: the lerp fallback shrinks the norm by at most
 * 1 − √((1 + 0.9995)/2) ≈ 1.25e-4 (at t = ½); float32 rounding adds ~1e-7.
 */
export const SLERP_NORM_TOLERANCE = 1.3e-4;

function norm(a: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] as number) ** 2;
  return Math.sqrt(s);
}

/** â·b̂ in float64 (a vector of norm ≤ 1e-8 is left unnormalized, as mergekit does). */
function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += (a[i] as number) * (b[i] as number);
  const na = norm(a);
  const nb = norm(b);
  return dot / (na > 1e-8 ? na : 1) / (nb > 1e-8 ? nb : 1);
}

/** For â·b̂ ≥ 0 the norm of slerp(a, b, t) lies between ‖a‖ and ‖b‖ (see the contract YAML for why). */
function normBetween(a: Float32Array, b: Float32Array, out: Float32Array): boolean {
  if (cosine(a, b) < 0) return true;
  const na = norm(a);
  const nb = norm(b);
  const no = norm(out);
  return no >= Math.min(na, nb) * (1 - SLERP_NORM_TOLERANCE) - 1e-30 && no <= Math.max(na, nb) * (1 + 1e-6) + 1e-30;
}

interface SlerpInput {
  a: Float32Array;
  b: Float32Array;
  t: number;
}

export const slerpContract = defineContract<SlerpInput, Float32Array>({
  id: 'merge-slerp-v1',
  equation: 'slerp',
  spec: 'slerp(a,b,t) = sin((1−t)θ)/sin θ · a + sin(tθ)/sin θ · b, θ = arccos(â·b̂); lerp when |â·b̂| > 0.9995',
  pre: [
    ['same length', ({ a, b }) => a.length === b.length],
    ['t in [0, 1]', ({ t }) => t >= 0 && t <= 1],
  ],
  post: [
    ['t = 0 gives a', ({ a, t }, out) => t !== 0 || bitEqual(out, a)],
    ['t = 1 gives b', ({ b, t }, out) => t !== 1 || bitEqual(out, b)],
    ['norm between the inputs’ norms (â·b̂ ≥ 0)', ({ a, b }, out) => normBetween(a, b, out)],
  ],
});

/** Spherical interpolation of two tensors seen as flat vectors, exactly as mergekit's `slerp`. */
export function slerpTensors(a: Float32Array, b: Float32Array, t: number): Float32Array {
  return slerpContract.run({ a, b, t }, () => {
    const dot = cosine(a, b);
    let s0 = 1 - t;
    let s1 = t;
    if (Math.abs(dot) <= DOT_THRESHOLD) {
      const theta0 = Math.acos(dot);
      const sin0 = Math.sin(theta0);
      s0 = Math.sin(theta0 - theta0 * t) / sin0;
      s1 = Math.sin(theta0 * t) / sin0;
    }
    // The endpoints are copied so that −0 and NaN payloads survive bit for bit.
    if (s1 === 0) return Float32Array.from(a);
    if (s0 === 0) return Float32Array.from(b);
    const out = new Float32Array(a.length);
    // Stryker disable next-line EqualityOperator: i <= a.length writes out[n], past the end of the Float32Array (a no-op)
    for (let i = 0; i < a.length; i++) out[i] = s0 * (a[i] as number) + s1 * (b[i] as number);
    return out;
  });
}

export const slerp: MergeMethod = {
  name: 'slerp',
  description: 'spherical interpolation from the base model (t = 0) to the other model (t = 1); t may be a per-layer gradient',
  inputs: 'task',
  minInputs: 0,
  maxInputs: 1,
  params: [{ name: 't', default: 0.5 }],
  tensorParams: [],
  merge(job: TensorJob): Float32Array {
    const base = requireBase(job, 'slerp');
    const other = job.inputs[0];
    return other ? slerpTensors(base, other, num(job.params, 't')) : Float32Array.from(base);
  },
};

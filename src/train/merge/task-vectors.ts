import type { Rng } from '../../model/rng.js';
import { type ParamDef, type TensorJob, bool, num, requireBase, rngFor, taskVector } from './method.js';

/**
 * mergekit's generalized task arithmetic: task vectors δ_k = x_k − base are sparsified, weighted, optionally
 * restricted to the elected sign (TIES consensus), summed, optionally normalized by the sum of the weights
 * that contributed, scaled by λ and added to the base.
 */
export interface TaskArithmeticSpec {
  readonly method: string;
  /** 'sum': elect the sign of Σ_k w_k δ_k (TIES); 'count': the sign most inputs have. */
  readonly consensus?: 'sum' | 'count';
  /** Sparsifies one weighted-to-be task vector in place. */
  readonly sparsify?: (delta: Float64Array, job: TensorJob, input: number, rng: Rng) => void;
}

export const TASK_PARAMS: readonly ParamDef[] = [{ name: 'lambda', default: 1 }];
export const TASK_TENSOR_PARAMS: readonly ParamDef[] = [{ name: 'weight', default: 1 }, { name: 'density', default: 1 }];

/** Sparsified, weighted task vectors w_k · sparsify(x_k − base). */
export function weightedDeltas(job: TensorJob, spec: TaskArithmeticSpec): Float64Array[] {
  const base = requireBase(job, spec.method);
  return job.inputs.map((x, k) => {
    const d = taskVector(x, base);
    spec.sparsify?.(d, job, k, rngFor(job, k));
    const w = num(job.modelParams[k] ?? {}, 'weight');
    // Stryker disable next-line EqualityOperator: i <= d.length writes d[n], past the end of the Float64Array (a no-op)
    for (let i = 0; i < d.length; i++) d[i] = (d[i] as number) * w;
    return d;
  });
}

/** The elected sign per element (+1 or −1; +1 where the vote is tied, as mergekit's `>= 0`). */
function electedSigns(deltas: readonly Float64Array[], consensus: 'sum' | 'count', n: number): Int8Array {
  const sign = new Int8Array(n);
  // Stryker disable next-line EqualityOperator: i <= n writes sign[n], past the end of the Int8Array (a no-op)
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (const d of deltas) s += consensus === 'sum' ? (d[i] as number) : Math.sign(d[i] as number);
    sign[i] = s >= 0 ? 1 : -1;
  }
  return sign;
}

function addDelta(base: number, delta: number): number {
  return delta === 0 ? base : base + delta; // keeps a −0 base bit for bit
}

/** Combines weighted task vectors into the merged tensor (float64 sums, one rounding to float32). */
function mixDeltas(job: TensorJob, spec: TaskArithmeticSpec, deltas: readonly Float64Array[]): Float32Array {
  const base = requireBase(job, spec.method);
  const n = base.length;
  const normalize = bool(job.params, 'normalize');
  const lambda = num(job.params, 'lambda');
  const weights = job.modelParams.map((p) => num(p, 'weight'));
  const elected = spec.consensus ? electedSigns(deltas, spec.consensus, n) : undefined;
  const plainDivisor = weights.reduce((s, w) => s + w, 0);
  const out = new Float32Array(n);
  // Stryker disable next-line EqualityOperator: i <= n writes out[n], past the end of the Float32Array (a no-op)
  for (let i = 0; i < n; i++) {
    let mixed = 0;
    let divisor = 0;
    for (let k = 0; k < deltas.length; k++) {
      const d = (deltas[k] as Float64Array)[i] as number;
      if (elected && Math.sign(d) !== elected[i]) continue;
      mixed += d;
      divisor += weights[k] as number;
    }
    if (!elected) divisor = Math.abs(plainDivisor) < 1e-8 ? 1 : plainDivisor;
    else if (divisor === 0) divisor = 1;
    if (normalize) mixed /= divisor;
    out[i] = addDelta(base[i] as number, mixed * lambda);
  }
  return out;
}

/** The whole generalized task arithmetic merge of one tensor. */
export function taskArithmeticCore(job: TensorJob, spec: TaskArithmeticSpec): Float32Array {
  const base = requireBase(job, spec.method);
  // Stryker disable next-line ConditionalExpression: a shortcut: with no inputs mixDeltas adds a zero delta to every base entry (addDelta keeps −0), the same copy of the base
  if (job.inputs.length === 0) return Float32Array.from(base);
  return mixDeltas(job, spec, weightedDeltas(job, spec));
}

/**
 * Where the merged tensor moved away from the base, it moved in the elected direction:
 * sign(out_i − base_i) ∈ {elected_i, 0}. Recomputes the (seeded, deterministic) sparsified deltas.
 */
export function signsAgree(job: TensorJob, spec: TaskArithmeticSpec, out: Float32Array): boolean {
  const base = job.base;
  if (!base || !spec.consensus || job.inputs.length === 0) return true;
  const elected = electedSigns(weightedDeltas(job, spec), spec.consensus, base.length);
  const lambda = num(job.params, 'lambda');
  for (let i = 0; i < out.length; i++) {
    const moved = Math.sign((out[i] as number) - (base[i] as number)) * Math.sign(lambda);
    if (moved !== 0 && moved !== elected[i]) return false;
  }
  return true;
}

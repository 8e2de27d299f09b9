import { Rng } from '../../model/rng.js';

/** A parameter a merge method reads: global (`parameters:`) or per model (`models[i].parameters`). */
export interface ParamDef {
  readonly name: string;
  readonly default?: number | boolean;
}

export type ParamValues = Readonly<Record<string, number | boolean>>;

/**
 * One output tensor's merge job. All arrays have the same length (row-major, `shape`). `base` is the base
 * model's tensor (methods that work on task vectors δ_i = x_i − base need it); `inputs` are the other models'
 * tensors (for `linear`, every listed model, base included when listed).
 */
export interface TensorJob {
  readonly name: string;
  readonly shape: readonly number[];
  readonly base: Float32Array | undefined;
  readonly inputs: readonly Float32Array[];
  /** Global parameters resolved for this tensor (defaults filled in). */
  readonly params: ParamValues;
  /** Per-input parameters resolved for this tensor, aligned with `inputs`. */
  readonly modelParams: readonly ParamValues[];
  /**
   * The base model's own per-model parameters (its `weight`, ...), for methods that also weigh the base slot
   * (nuslerp between two models); absent when the planner does not supply them (weight 1 is assumed).
   */
  readonly baseParams?: ParamValues;
  /** Seed for this tensor's random choices (derived from --seed and the tensor name). */
  readonly seed: number;
}

export interface MergeMethod {
  /** mergekit's `merge_method` name. */
  readonly name: string;
  readonly description: string;
  /** 'task': base plus task vectors of the other models; 'all': every listed model (linear). */
  readonly inputs: 'all' | 'task';
  /** Fewest / most non-base inputs accepted. */
  readonly minInputs: number;
  readonly maxInputs: number;
  readonly params: readonly ParamDef[];
  readonly tensorParams: readonly ParamDef[];
  merge(job: TensorJob): Float32Array;
}

/** A numeric parameter (booleans are refused). */
export function num(p: ParamValues, name: string): number {
  const v = p[name];
  if (typeof v !== 'number') throw new Error(`merge parameter '${name}' must be a number, got ${String(v)}`);
  return v;
}

export function bool(p: ParamValues, name: string): boolean {
  const v = p[name];
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  throw new Error(`merge parameter '${name}' must be true or false, got ${String(v)}`);
}

/** 32-bit FNV-1a of a string. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** The seed of one tensor: independent of the order in which a writer pulls tensors. */
export function tensorSeed(seed: number, name: string): number {
  return fnv1a(`${seed >>> 0}:${name}`);
}

export function rngFor(job: TensorJob, input: number): Rng {
  return new Rng((job.seed ^ Math.imul(input + 1, 0x9e3779b1)) >>> 0);
}

/** x_i − base_i in float64 (exact unless the two exponents are more than 29 apart). */
export function taskVector(x: Float32Array, base: Float32Array): Float64Array {
  const d = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) d[i] = (x[i] as number) - (base[i] as number);
  return d;
}

export function requireBase(job: TensorJob, method: string): Float32Array {
  if (!job.base) throw new Error(`${method} needs a base model (--base-model)`);
  return job.base;
}

/** Rows × columns of a tensor seen as a matrix (1-D tensors are one row). */
export function rowsCols(shape: readonly number[]): { rows: number; cols: number } {
  const cols = shape.length === 0 ? 1 : (shape[shape.length - 1] as number);
  let rows = 1;
  for (let i = 0; i < shape.length - 1; i++) rows *= shape[i] as number;
  return { rows, cols };
}

export function sameLength(a: ArrayLike<number>, arrays: readonly ArrayLike<number>[]): boolean {
  return arrays.every((x) => x.length === a.length);
}

export function bitEqual(x: Float32Array, y: Float32Array): boolean {
  if (x.length !== y.length) return false;
  const a = new Uint32Array(x.buffer, x.byteOffset, x.length);
  const b = new Uint32Array(y.buffer, y.byteOffset, y.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Merging copies of one tensor returns that tensor bit for bit (checked when every input equals the first). */
export function identicalInputsPreserved(job: TensorJob, out: Float32Array): boolean {
  const ref = job.base ?? job.inputs[0];
  if (!ref || !job.inputs.every((x) => bitEqual(x, ref))) return true;
  return bitEqual(out, ref);
}

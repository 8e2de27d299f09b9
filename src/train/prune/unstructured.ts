import type { ModelBundle } from '../../tensor/bundle.js';
import type { TensorRef, TensorStore } from '../../tensor/store.js';
import { type FloatDType, computedRef, outputDType, readFloats } from '../merge/floats.js';
import { magnitudePrune } from './magnitude.js';
import type { NmPattern } from './select.js';
import { zeroCount } from './select.js';
import { sparseGptPrune } from './sparsegpt.js';
import type { ActivationStats } from './stats.js';
import { isPrunable, linearTarget } from './targets.js';
import { wandaPrune } from './wanda.js';

export type UnstructuredMethod = 'magnitude' | 'wanda' | 'sparsegpt';

export interface UnstructuredOptions {
  method: UnstructuredMethod;
  ratio: number;
  pattern?: NmPattern | undefined;
  /** magnitude only: compare per output row (default) or over the whole tensor. */
  group?: 'row' | 'tensor';
  includeEmbeddings?: boolean;
  stats?: ActivationStats | undefined;
  blockSize?: number;
  damp?: number;
  dtype?: FloatDType | undefined;
}

/** What pruning did to one tensor. */
export interface TensorPruneReport {
  name: string;
  shape: number[];
  elements: number;
  zeros_before: number;
  zeros_after: number;
  sparsity: number;
  /** Σ|W| of the pruned weights / Σ|W| (how much weight mass the mask removed). */
  l1_removed_fraction: number;
}

function l1RemovedFraction(before: Float32Array, after: Float32Array): number {
  let total = 0;
  let removed = 0;
  for (let i = 0; i < before.length; i++) {
    const a = Math.abs(before[i] as number);
    total += a;
    if (after[i] === 0) removed += a;
  }
  return total > 0 ? removed / total : 0;
}

/** Prunes one weight matrix with the chosen method. */
function pruneTensor(ref: TensorRef, opts: UnstructuredOptions): Float32Array {
  const w = readFloats(ref);
  const rows = ref.shape[0] ?? 1;
  const cols = ref.shape.length > 1 ? (ref.shape[1] as number) : 1;
  const base = { name: ref.name, w, rows, cols, ratio: opts.ratio, pattern: opts.pattern };
  const target = linearTarget(ref.name);
  if (opts.method === 'magnitude' || !target) return magnitudePrune({ ...base, group: opts.method === 'magnitude' ? (opts.group ?? 'row') : 'row' });
  if (opts.method === 'wanda') {
    const inputNorms = opts.stats?.columnNorms(target.layer, target.site);
    if (!inputNorms) throw new Error(`wanda: no calibration statistics for ${ref.name}`);
    return wandaPrune({ ...base, inputNorms });
  }
  const hessian = opts.stats?.hessianOf(target.layer, target.site);
  if (!hessian) throw new Error(`sparsegpt: no calibration Hessian for ${ref.name}`);
  return sparseGptPrune({ ...base, hessian, ...(opts.blockSize ? { blockSize: opts.blockSize } : {}), ...(opts.damp !== undefined ? { damp: opts.damp } : {}) });
}

/** Report for a tensor pruned from `before` to `after`. */
function pruneReport(ref: TensorRef, before: Float32Array, after: Float32Array): TensorPruneReport {
  const zerosAfter = zeroCount(after);
  return {
    name: ref.name, shape: [...ref.shape], elements: after.length, zeros_before: zeroCount(before), zeros_after: zerosAfter,
    sparsity: zerosAfter / after.length, l1_removed_fraction: l1RemovedFraction(before, after),
  };
}

/**
 * The pruned model's tensors, lazily: prunable weights are pruned when the writer reads them (one at a time),
 * every other tensor passes through unchanged. `onTensor` receives each pruned tensor's report.
 */
export function prunedStore(bundle: ModelBundle, opts: UnstructuredOptions, onTensor?: (r: TensorPruneReport) => void): TensorStore {
  const refs = new Map<string, TensorRef>();
  for (const name of bundle.tensors.names()) {
    const src = bundle.tensors.get(name);
    if (!src) continue;
    if (!isPrunable(name, opts.includeEmbeddings ?? false) || src.shape.length !== 2) {
      refs.set(name, src);
      continue;
    }
    refs.set(name, computedRef(name, outputDType(src.dtype, opts.dtype), src.shape, () => {
      const out = pruneTensor(src, opts);
      onTensor?.(pruneReport(src, readFloats(src), out));
      return out;
    }));
  }
  return { names: () => [...refs.keys()], get: (n) => refs.get(n), close: () => bundle.tensors.close() };
}

/** The names unstructured pruning would touch. */
export function prunableNames(bundle: ModelBundle, includeEmbeddings: boolean): string[] {
  return bundle.tensors.names().filter((n) => isPrunable(n, includeEmbeddings) && bundle.tensors.get(n)?.shape.length === 2);
}

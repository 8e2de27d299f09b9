import { defineContract } from '../contract/index.js';
import { openModel } from '../formats/open.js';
import { toFloat32 } from '../tensor/codecs/index.js';
import type { TensorRef } from '../tensor/store.js';

export interface TensorDiff {
  name: string;
  max_abs_diff: number;
  cosine: number;
}

export interface DiffResult {
  a: string;
  b: string;
  tensors: TensorDiff[];
  max_abs_diff: number;
  only_in_a: string[];
  only_in_b: string[];
  shape_mismatch: { name: string; a: number[]; b: number[] }[];
  identical: boolean;
}

/** max |a−b| and cosine(a, b) of two equal-length vectors, accumulated in float64. */
export function compareVectors(a: Float32Array, b: Float32Array): { maxAbs: number; cosine: number } {
  return diffContract.run({ a, b }, () => {
    let maxAbs = 0;
    let dot = 0;
    let na = 0;
    let nb = 0;
    for (let i = 0; i < a.length; i++) {
      const x = a[i] ?? 0;
      const y = b[i] ?? 0;
      const d = Math.abs(x - y);
      if (d > maxAbs || Number.isNaN(d)) maxAbs = d;
      dot += x * y;
      na += x * x;
      nb += y * y;
    }
    const denom = Math.sqrt(na) * Math.sqrt(nb);
    const cosine = denom === 0 ? (na === nb ? 1 : 0) : Math.max(-1, Math.min(1, dot / denom));
    return { maxAbs, cosine };
  });
}

export const diffContract = defineContract<{ a: Float32Array; b: Float32Array }, { maxAbs: number; cosine: number }>({
  id: 'op-diff-v1',
  equation: 'tensor_diff',
  spec: 'max_abs_diff = max_i |a_i − b_i|, cosine = a·b / (‖a‖‖b‖) ∈ [−1, 1]',
  pre: [['same length', ({ a, b }) => a.length === b.length]],
  post: [
    ['max_abs_diff ≥ 0 or NaN', (_i, r) => r.maxAbs >= 0 || Number.isNaN(r.maxAbs)],
    ['cosine in [−1, 1] or NaN', (_i, r) => (r.cosine >= -1 && r.cosine <= 1) || Number.isNaN(r.cosine)],
  ],
});

function floats(t: TensorRef): Float32Array {
  return toFloat32(t.dtype, t.shape, t.read());
}

export const modelDiffContract = defineContract<{ a: string; b: string }, DiffResult>({
  id: 'op-diff-v1',
  equation: 'model_diff',
  spec: 'diff(A, B): per common tensor t, tensor_diff(deq(A_t), deq(B_t)); max_abs_diff = max_t; identical ⇔ max = 0 and no name/shape mismatch',
  pre: [['two paths', ({ a, b }) => a.length > 0 && b.length > 0]],
  post: [
    ['overall max is the max of the per-tensor maxima', (_i, r) => r.tensors.every((t) => !(t.max_abs_diff > r.max_abs_diff))],
    ['identical implies no mismatch', (_i, r) => !r.identical || (r.max_abs_diff === 0 && r.only_in_a.length + r.only_in_b.length + r.shape_mismatch.length === 0)],
  ],
});

/** `apr diff`: per-tensor max |a−b| and cosine after dequantization, streaming one tensor pair at a time. */
export function diffModels(pathA: string, pathB: string): DiffResult {
  return modelDiffContract.run({ a: pathA, b: pathB }, () => diffBundles(pathA, pathB));
}

function diffBundles(pathA: string, pathB: string): DiffResult {
  const a = openModel(pathA);
  const b = openModel(pathB);
  try {
    const namesB = new Set(b.tensors.names());
    const result: DiffResult = { a: pathA, b: pathB, tensors: [], max_abs_diff: 0, only_in_a: [], only_in_b: [], shape_mismatch: [], identical: true };
    for (const name of a.tensors.names()) {
      const ta = a.tensors.get(name);
      const tb = b.tensors.get(name);
      if (!ta) continue;
      if (!tb) {
        result.only_in_a.push(name);
        continue;
      }
      namesB.delete(name);
      if (ta.shape.length !== tb.shape.length || ta.shape.some((d, i) => d !== tb.shape[i])) {
        result.shape_mismatch.push({ name, a: [...ta.shape], b: [...tb.shape] });
        continue;
      }
      const { maxAbs, cosine } = compareVectors(floats(ta), floats(tb));
      result.tensors.push({ name, max_abs_diff: maxAbs, cosine });
      if (maxAbs > result.max_abs_diff || Number.isNaN(maxAbs)) result.max_abs_diff = maxAbs;
    }
    result.only_in_b = [...namesB].sort();
    result.identical = result.max_abs_diff === 0 && result.only_in_a.length === 0 && result.only_in_b.length === 0 && result.shape_mismatch.length === 0;
    return result;
  } finally {
    a.tensors.close();
    b.tensors.close();
  }
}

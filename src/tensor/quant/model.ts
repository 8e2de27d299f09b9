/**
 * A whole model under a scheme: the per-tensor plan (target dtype, bytes, bits per weight) and a lazy output
 * bundle whose tensors quantize inside `read()`, so a writer pulls and quantizes one tensor at a time.
 */
import type { ModelBundle } from '../bundle.js';
import { type DType, byteSize, elementCount } from '../dtype.js';
import { MemoryTensorStore, type TensorRef } from '../store.js';
import { decode, encode } from './index.js';
import { SCHEMES, type SchemeName, type TensorInfo, selectionContext, targetType } from './recipes.js';

export interface PlanEntry {
  name: string;
  shape: number[];
  from: DType;
  to: DType;
  /** Bytes of the tensor in `to`. */
  bytes: number;
}

export interface QuantPlan {
  scheme: SchemeName;
  pure: boolean;
  /** llama_ftype (general.file_type) of the result, for schemes llama.cpp has. */
  ftype?: number;
  entries: PlanEntry[];
  parameters: number;
  /** Sum of the tensors' bytes in their target dtypes. */
  bytes: number;
  /** Sum of the tensors' bytes in the source. */
  sourceBytes: number;
  /** 8·bytes / parameters over all tensors. */
  bitsPerWeight: number;
  /** The same over the tensors whose dtype is a block-quantized one (the usual "bpw" of a scheme). */
  quantizedBitsPerWeight: number;
}

export interface PlanOptions {
  pure?: boolean;
  /** Whether an importance matrix will be used (changes llama.cpp's q4_0/q5_0 ffn_down choice). */
  imatrix?: boolean;
}

function infos(bundle: ModelBundle): TensorInfo[] {
  const out: TensorInfo[] = [];
  for (const name of bundle.tensors.names()) {
    const t = bundle.tensors.get(name);
    if (t) out.push({ name, dtype: t.dtype, shape: t.shape });
  }
  return out;
}

/** The target dtype and size of every tensor of `bundle` under `scheme`. */
export function planBundle(bundle: ModelBundle, scheme: SchemeName, opts: PlanOptions = {}): QuantPlan {
  const s = SCHEMES[scheme];
  const tensors = infos(bundle);
  const { num_layers: layers, num_heads: heads, num_kv_heads: kvHeads, tie_word_embeddings: tied } = bundle.config;
  const ctx = selectionContext(tensors, layers, { tied, heads, kvHeads, pure: opts.pure ?? false, imatrix: opts.imatrix ?? false });
  let parameters = 0, bytes = 0, sourceBytes = 0, qParams = 0, qBytes = 0;
  const entries = tensors.map((t): PlanEntry => {
    const to = targetType(t, s, ctx);
    const n = elementCount(t.shape);
    const size = byteSize(to, t.shape);
    parameters += n;
    bytes += size;
    sourceBytes += bundle.tensors.get(t.name)?.byteLength ?? 0;
    if (to !== 'F32' && to !== 'F16' && to !== 'BF16') {
      qParams += n;
      qBytes += size;
    }
    return { name: t.name, shape: [...t.shape], from: t.dtype, to, bytes: size };
  });
  return {
    scheme,
    pure: opts.pure ?? false,
    ...('ftype' in s ? { ftype: s.ftype } : {}),
    entries,
    parameters,
    bytes,
    sourceBytes,
    bitsPerWeight: parameters ? (8 * bytes) / parameters : 0,
    quantizedBitsPerWeight: qParams ? (8 * qBytes) / qParams : 0,
  };
}

/**
 * A tensor converted to `to` when read; the source bytes pass through when the dtype does not change.
 * `imatrix` (one importance weight per column) weights the quantization as llama-quantize --imatrix does.
 */
export function convertedRef(ref: TensorRef, to: DType, onRead?: (name: string, values: number) => void, imatrix?: Float32Array): TensorRef {
  const n = elementCount(ref.shape);
  return {
    name: ref.name,
    dtype: to,
    shape: ref.shape,
    byteLength: byteSize(to, ref.shape),
    read: () => {
      const src = ref.read();
      onRead?.(ref.name, n);
      return to === ref.dtype ? src : encode(to, decode(ref.dtype, src, n), imatrix);
    },
  };
}

/** The importance weights (one per column) to quantize a tensor with, by name; undefined for none. */
export type ImportanceLookup = (name: string) => Float32Array | undefined;

/**
 * `bundle` with every tensor converted as `plan` says, lazily (the source stays open until the caller closes
 * it); `importance` gives each tensor's imatrix weights, if any.
 */
export function quantizedBundle(bundle: ModelBundle, plan: QuantPlan, onRead?: (name: string, values: number) => void, importance?: ImportanceLookup): ModelBundle {
  const store = new MemoryTensorStore();
  for (const e of plan.entries) {
    const ref = bundle.tensors.get(e.name);
    if (ref) store.addRef(convertedRef(ref, e.to, onRead, importance?.(e.name)));
  }
  const close = (): void => bundle.tensors.close();
  return { ...bundle, tensors: { names: () => store.names(), get: (n) => store.get(n), close } };
}

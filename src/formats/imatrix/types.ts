/**
 * llama.cpp's importance matrix (tools/imatrix, common/imatrix-loader.cpp at commit 80fb11a): for every matrix
 * multiplication weight, Σ x_j² over the input activations x of each column j and the number of rows (tokens)
 * summed. Entries are keyed by llama.cpp's GGUF tensor names (`blk.0.attn_q.weight`).
 */
import { ggufNameFromHf, hfNameFromGguf } from '../gguf/names.js';

export interface ImatrixEntry {
  /**
   * GGUF files: the raw sums, `cols × counts.length` values (one row of `cols` per expert matrix).
   * Legacy `.dat` files: what llama-imatrix stored there, (sum / count)·ncall.
   */
  sums: Float32Array;
  /** GGUF: tokens summed, per matrix (one for a dense weight). Legacy: [ncall]. */
  counts: number[];
}

export type ImatrixFormat = 'gguf' | 'dat';

export interface Imatrix {
  entries: Map<string, ImatrixEntry>;
  /** imatrix.datasets (GGUF) or the dataset name at the end of a legacy file. */
  datasets: string[];
  /** imatrix.chunk_count (GGUF) or the legacy trailer's chunk count; 0 when absent. */
  chunkCount: number;
  /** imatrix.chunk_size (tokens per chunk; GGUF only, 0 for legacy files). */
  chunkSize: number;
  format: ImatrixFormat;
  /** GGUF: all three imatrix.* keys present (llama-quantize refuses a GGUF imatrix without them). */
  hasMetadata: boolean;
}

/** Per-column importance weights by tensor name, under both the GGUF and the Hugging Face name of each tensor. */
export type ImatrixWeights = Map<string, Float32Array>;

const f = Math.fround;

/** llama-quantize's load_imatrix for one GGUF entry: sums / count per matrix, 1 where a matrix saw no token. */
function ggufEntryWeights(e: ImatrixEntry): Float32Array {
  const nmat = Math.max(1, e.counts.length);
  const cols = e.sums.length / nmat;
  const out = new Float32Array(e.sums.length);
  // Stryker disable next-line EqualityOperator: an extra matrix m = nmat only writes past the end of the typed array, which is ignored.
  for (let m = 0; m < nmat; m++) {
    const count = f(e.counts[m] ?? 0);
    // Stryker disable next-line EqualityOperator: the extra index (m + 1)·cols is the next matrix's first column, rewritten by the next pass, or past the end (ignored).
    for (let i = m * cols; i < (m + 1) * cols; i++) out[i] = count > 0 ? f((e.sums[i] ?? 0) / count) : 1;
  }
  return out;
}

/** llama-quantize's load_imatrix for one legacy entry: stored / ncall (the stored values when ncall ≤ 0). */
function legacyEntryWeights(e: ImatrixEntry): Float32Array {
  const ncall = e.counts[0] ?? 0;
  return ncall > 0 ? e.sums.map((v) => f(v / ncall)) : Float32Array.from(e.sums);
}

/**
 * The per-column weights llama-quantize derives from an imatrix (sums divided by counts), under each entry's
 * GGUF name and, where apr knows it, its Hugging Face name too (the same array).
 */
export function imatrixWeights(m: Imatrix): ImatrixWeights {
  const out: ImatrixWeights = new Map();
  for (const [name, e] of m.entries) {
    const w = m.format === 'gguf' ? ggufEntryWeights(e) : legacyEntryWeights(e);
    out.set(name, w);
    const hf = hfNameFromGguf(name);
    if (hf) out.set(hf, w);
  }
  return out;
}

/** The weights of tensor `name` (GGUF or Hugging Face name), as llama-quantize looks them up. */
export function weightsFor(w: ImatrixWeights, name: string): Float32Array | undefined {
  return w.get(name) ?? w.get(ggufNameFromHf(name) ?? name);
}

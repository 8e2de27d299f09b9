/**
 * Writes importance matrices as llama-imatrix does (tools/imatrix/imatrix.cpp, commit 80fb11a): the GGUF
 * format (save_imatrix) or the legacy `.dat` one (save_imatrix_legacy), from raw sums and counts. Both go
 * through a temporary file renamed into place.
 */
import { writeAtomically } from '../atomic-write.js';
import { writeGguf } from '../gguf/write.js';
import type { GgufTensorInput } from '../gguf/write.js';
import type { GgufValue } from '../gguf/types.js';
import type { Imatrix, ImatrixEntry, ImatrixFormat } from './types.js';

const f = Math.fround;

/** What llama-imatrix has collected: raw Σx² per column (cols × matrices) and tokens per matrix. */
export interface CollectedImatrix {
  entries: Map<string, ImatrixEntry>;
  datasets: string[];
  /** Chunks processed (m_last_chunk). */
  chunkCount: number;
  /** Tokens per chunk (n_ctx / n_parallel). */
  chunkSize: number;
}

function sortedNames(entries: Map<string, ImatrixEntry>): string[] {
  // Stryker disable next-line EqualityOperator,ConditionalExpression: map keys are distinct, so only a < b decides; a > b always holds when reached, and V8's sort reads only whether the result is < 0.
  return [...entries.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function f32Tensor(name: string, values: Float32Array, cols: number, rows: number): GgufTensorInput {
  // ggml writes n_dims without trailing 1s (ggml_n_dims): [cols] for one matrix, [cols, rows] otherwise
  return { name, ggmlType: 'F32', dims: rows > 1 ? [cols, rows] : [cols], read: () => new Uint8Array(values.buffer, values.byteOffset, values.byteLength) };
}

/** save_imatrix: general.type, imatrix.datasets, chunk_count, chunk_size; per entry `.in_sum2` then `.counts`. */
export function writeImatrixGguf(path: string, m: CollectedImatrix): void {
  const kv = new Map<string, GgufValue>([
    ['general.type', { type: 'string', value: 'imatrix' }],
    ['imatrix.datasets', { type: 'array', itemType: 'string', value: [...m.datasets] }],
    ['imatrix.chunk_count', { type: 'u32', value: m.chunkCount }],
    ['imatrix.chunk_size', { type: 'u32', value: m.chunkSize }],
  ]);
  const tensors: GgufTensorInput[] = [];
  for (const name of sortedNames(m.entries)) {
    const e = m.entries.get(name);
    // Stryker disable next-line OptionalChaining: name comes from the keys of the same map, so e is always defined.
    const nmat = e?.counts.length ?? 0;
    if (!e || nmat === 0 || e.sums.length === 0) continue;
    tensors.push(f32Tensor(`${name}.in_sum2`, e.sums, e.sums.length / nmat, nmat));
    tensors.push(f32Tensor(`${name}.counts`, Float32Array.from(e.counts), 1, nmat));
  }
  writeGguf(path, kv, tensors);
}

/** A little-endian byte builder for the legacy layout. */
class LegacyWriter {
  private readonly parts: Uint8Array[] = [];
  i32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, v, true);
    this.parts.push(b);
  }
  text(s: string): void {
    const b = new TextEncoder().encode(s);
    this.i32(b.byteLength);
    this.parts.push(b);
  }
  floats(v: Float32Array): void {
    // Stryker disable next-line MethodExpression: v is always a fresh Float32Array from map(), so its whole buffer is exactly its bytes.
    this.parts.push(new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength)));
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.parts.reduce((n, p) => n + p.byteLength, 0));
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.byteLength;
    }
    return out;
  }
}

/** One legacy entry's values: (sum / count)·ncall per matrix, 1·ncall where a matrix saw no token. */
function legacyValues(e: ImatrixEntry, ncall: number): Float32Array {
  const nmat = e.counts.length;
  const per = e.sums.length / nmat;
  return e.sums.map((v, i) => {
    const count = f(e.counts[Math.floor(i / per)] ?? 0);
    return count === 0 ? f(1 * ncall) : f(f(v / count) * ncall);
  });
}

/**
 * save_imatrix_legacy: entries with data, sorted; ncall = ⌈max count / chunk size⌉; then the chunk count and
 * the last dataset's name.
 */
export function encodeImatrixLegacy(m: CollectedImatrix): Uint8Array {
  // Stryker disable next-line OptionalChaining,ArrayDeclaration: n comes from the keys of the same map, so the entry always exists and the fallback is never used.
  const names = sortedNames(m.entries).filter((n) => (m.entries.get(n)?.counts ?? []).some((c) => c !== 0));
  const w = new LegacyWriter();
  w.i32(names.length);
  const size = Math.max(1, m.chunkSize);
  for (const name of names) {
    const e = m.entries.get(name);
    // Stryker disable next-line ConditionalExpression: name comes from the keys of the same map, so e is always defined.
    if (!e) continue;
    const ncall = Math.trunc((Math.max(...e.counts) + (size - 1)) / size);
    w.text(name);
    w.i32(ncall);
    w.i32(e.sums.length);
    w.floats(legacyValues(e, ncall));
  }
  w.i32(m.chunkCount);
  w.text(m.datasets[m.datasets.length - 1] ?? '');
  return w.bytes();
}

export function writeImatrixLegacy(path: string, m: CollectedImatrix): void {
  const bytes = encodeImatrixLegacy(m);
  writeAtomically(path, (file) => file.write(bytes));
}

/** Writes `m` in `format` (llama-imatrix's default is GGUF; `dat` is its --output-format dat). */
export function writeImatrix(path: string, m: CollectedImatrix, format: ImatrixFormat): void {
  if (format === 'dat') writeImatrixLegacy(path, m);
  else writeImatrixGguf(path, m);
}

/** An imatrix read from a GGUF file, as the raw sums and counts a writer takes (legacy files carry no raw sums). */
export function collectedFrom(m: Imatrix): CollectedImatrix | undefined {
  return m.format === 'gguf' ? { entries: m.entries, datasets: m.datasets, chunkCount: m.chunkCount, chunkSize: m.chunkSize } : undefined;
}

/**
 * Reads llama.cpp importance matrices in both formats, as common_imatrix_load does: GGUF (what llama-imatrix
 * writes by default: `<name>.in_sum2` and `<name>.counts` F32 tensors, imatrix.* keys) and, when the file is
 * not GGUF, the legacy `.dat` layout. Throws FormatError naming the file and the field.
 */
import { readFileSync } from 'node:fs';
import { FormatError } from '../errors.js';
import { parseGguf } from '../gguf/read.js';
import type { GgufFile } from '../gguf/read.js';
import type { GgufTensorInfo, GgufValue } from '../gguf/types.js';
import type { Imatrix, ImatrixEntry } from './types.js';

const GGUF_MAGIC = [0x47, 0x47, 0x55, 0x46];

function f32Values(g: GgufFile, t: GgufTensorInfo): Float32Array {
  if (t.ggmlType !== 'F32') throw new FormatError(g.path, `tensor '${t.name}'`, `sums and counts must be F32, got ${t.ggmlType}`);
  const b = g.read(t);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

function u32Key(g: GgufFile, key: string): number | undefined {
  const v = g.kv.get(key);
  if (v === undefined) return undefined;
  if (v.type !== 'u32') throw new FormatError(g.path, key, `expected a u32, got ${v.type}`);
  return v.value;
}

function datasetsOf(v: GgufValue | undefined): string[] {
  return v?.type === 'array' && v.itemType === 'string' ? [...v.value] : [];
}

/** Pairs `<name>.in_sum2` with `<name>.counts`, in name order. */
function pairTensors(g: GgufFile): Map<string, { sums?: GgufTensorInfo; counts?: GgufTensorInfo }> {
  const pairs = new Map<string, { sums?: GgufTensorInfo; counts?: GgufTensorInfo }>();
  for (const t of g.tensors) {
    const m = /^(.+)\.(in_sum2|counts)$/.exec(t.name);
    if (!m) continue;
    // Stryker disable next-line StringLiteral: group 1 always captures when the regex matched, so the fallback is never used.
    const key = m[1] ?? '';
    const p = pairs.get(key) ?? {};
    if (m[2] === 'in_sum2') p.sums = t;
    else p.counts = t;
    pairs.set(key, p);
  }
  // Stryker disable next-line EqualityOperator,ConditionalExpression: map keys are distinct, so only a < b decides; a > b always holds when reached, and V8's sort reads only whether the result is < 0.
  return new Map([...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function ggufImatrix(g: GgufFile): Imatrix {
  if (g.tensors.length < 1) throw new FormatError(g.path, 'tensors', 'no data in the importance matrix');
  const entries = new Map<string, ImatrixEntry>();
  for (const [name, p] of pairTensors(g)) {
    if (!p.sums || !p.counts) throw new FormatError(g.path, `tensor '${name}'`, 'mismatched sums and counts (needs both .in_sum2 and .counts)');
    const sums = f32Values(g, p.sums);
    const counts = Array.from(f32Values(g, p.counts), (c) => Math.sign(c) * Math.round(Math.abs(c)));
    // Stryker disable next-line ConditionalExpression: with no counts, sums.length % 0 is NaN, which the second test already reports.
    if (counts.length === 0 || sums.length % counts.length !== 0) throw new FormatError(g.path, `tensor '${name}.in_sum2'`, `${sums.length} sums do not split into ${counts.length} matrices`);
    entries.set(name, { sums, counts });
  }
  const chunkCount = u32Key(g, 'imatrix.chunk_count');
  const chunkSize = u32Key(g, 'imatrix.chunk_size');
  const datasets = g.kv.get('imatrix.datasets');
  return {
    entries,
    datasets: datasetsOf(datasets),
    chunkCount: chunkCount ?? 0,
    chunkSize: chunkSize ?? 0,
    format: 'gguf',
    hasMetadata: datasets !== undefined && chunkCount !== undefined && chunkSize !== undefined,
  };
}

/** A little-endian reader over a legacy file that fails with the field it was reading. */
class LegacyCursor {
  pos = 0;
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array, readonly file: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get remaining(): number {
    return this.bytes.byteLength - this.pos;
  }
  need(n: number, field: string): void {
    if (n < 0 || this.remaining < n) throw new FormatError(this.file, field, `needs ${n} bytes, ${this.remaining} left`);
  }
  i32(field: string): number {
    this.need(4, field);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  text(n: number, field: string): string {
    this.need(n, field);
    const s = new TextDecoder().decode(this.bytes.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
  floats(n: number, field: string): Float32Array {
    this.need(4 * n, field);
    const out = new Float32Array(n);
    new Uint8Array(out.buffer).set(this.bytes.subarray(this.pos, this.pos + 4 * n));
    this.pos += 4 * n;
    return out;
  }
}

function legacyEntry(c: LegacyCursor, i: number, entries: Map<string, ImatrixEntry>): void {
  const name = c.text(c.i32(`entry[${i}].name_length`), `entry[${i}].name`);
  const ncall = c.i32(`entry '${name}'.ncall`);
  const nval = c.i32(`entry '${name}'.nval`);
  if (nval < 1) throw new FormatError(c.file, `entry '${name}'.nval`, `expected ≥ 1 values, got ${nval}`);
  entries.set(name, { sums: c.floats(nval, `entry '${name}'.values`), counts: [ncall] });
}

/** The legacy layout: i32 n; n × (i32 len, name, i32 ncall, i32 nval, f32[nval]); optional i32 chunks, i32 len, dataset. */
function legacyImatrix(bytes: Uint8Array, file: string): Imatrix {
  const c = new LegacyCursor(bytes, file);
  const n = c.i32('n_entries');
  if (n < 1) throw new FormatError(file, 'n_entries', `no data (${n} entries)`);
  const entries = new Map<string, ImatrixEntry>();
  for (let i = 0; i < n; i++) legacyEntry(c, i, entries);
  let chunkCount = 0;
  const datasets: string[] = [];
  if (c.remaining >= 4) {
    // Stryker disable next-line StringLiteral: the guard leaves at least 4 bytes, so this read never fails and the field name is never shown.
    chunkCount = c.i32('chunk_count');
    // Stryker disable next-line StringLiteral,EqualityOperator: the guard leaves at least 4 bytes so the field never shows; with exactly 4 left, a length read leaves 0 bytes and no dataset either way.
    const len = c.remaining >= 4 ? c.i32('dataset.length') : 0;
    // Stryker disable next-line StringLiteral: the guard leaves len bytes, so this read never fails and the field name is never shown.
    if (len > 0 && c.remaining >= len) datasets.push(c.text(len, 'dataset'));
  }
  return { entries, datasets, chunkCount, chunkSize: 0, format: 'dat', hasMetadata: false };
}

/** Parses an importance matrix held in memory; `file` names it in errors. */
export function parseImatrix(bytes: Uint8Array, file = '<buffer>'): Imatrix {
  if (GGUF_MAGIC.every((b, i) => bytes[i] === b)) return ggufImatrix(parseGguf(bytes, file));
  return legacyImatrix(bytes, file);
}

/** Reads an importance matrix file (GGUF or legacy `.dat`, told apart by the GGUF magic). */
export function readImatrix(path: string): Imatrix {
  return parseImatrix(readFileSync(path), path);
}

/**
 * Fault planting for the `apr check` suite. Two kinds:
 * - semantic faults written through `writeApr` from a modified bundle, so every CRC and digest is valid and
 *   the fault must be caught by a later stage than the container;
 * - byte-level patches (flips, truncation, re-laid-out index) with the CRCs either left stale (container
 *   faults) or recomputed (`fixCrcs`), built from the APR layout spec independently of the reader.
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ModelBundle, type ProvenanceEntry } from '../../src/tensor/bundle.js';
import { readApr, writeApr } from '../../src/formats/apr/index.js';
import { readGgufBundle } from '../../src/formats/gguf/index.js';
import { runCheck } from '../../src/eval/integrity/index.js';
import { type AprIndexEntry, align64, encodeHeader, encodeIndexEntry, headerCrc } from '../../src/formats/apr/layout.js';
import { inspectApr } from '../../src/formats/apr/read.js';
import { readHfDir } from '../../src/formats/hf-dir/read.js';
import { crc32 } from '../../src/tensor/crc32.js';
import { type DType, elementCount } from '../../src/tensor/dtype.js';
import { MemoryTensorStore, type TensorRef } from '../../src/tensor/store.js';
import { fingerprintForImport } from '../../src/eval/integrity/index.js';
import { fixture } from '../helpers.js';

export const HF = fixture('models/tiny-coder-llama');
export const GGUF_F32 = fixture('gguf/tiny-coder-llama-f32.gguf');
export const GGUF_Q4KM = fixture('gguf/tiny-coder-llama-Q4_K_M.gguf');

export const IMPORT_ENTRY: ProvenanceEntry = {
  op: 'import',
  options: { format: 'apr', from: 'hf-dir' },
  inputDigests: [`sha256:${'ab'.repeat(32)}`],
  toolVersion: 'apr 0.1.0',
  time: '2025-01-02T03:04:05.000Z',
};

/**
 * A scratch folder, in memory where the system has one: the suite writes ~40 copies of a 23 MB model and
 * the writer fsyncs each, which on a disk costs more than the checks themselves.
 */
export function scratchDir(prefix: string): { dir: string; cleanup: () => void } {
  const root = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const dir = mkdtempSync(join(root, prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The fixture imported to APR with a golden fingerprint and one provenance entry, as `apr import` will write it. */
export function writeBaseApr(path: string, source: ModelBundle = readHfDir(HF)): void {
  try {
    source.metadata = { ...source.metadata, golden: fingerprintForImport(source) };
    writeApr(source, path, { provenance: IMPORT_ENTRY });
  } finally {
    source.tensors.close();
  }
}

/** tiny-coder-llama-Q4_K_M.gguf imported to APR as is (Q4_K and Q6_K tensors, no golden record). */
export function writeQ4Apr(path: string): void {
  const q4 = readGgufBundle(GGUF_Q4KM);
  try {
    writeApr(q4, path);
  } finally {
    q4.tensors.close();
  }
}

export const stageRange = (n: number): number[] => Array.from({ length: n }, (_x, i) => i + 1);

export interface StageExpectation {
  stage: number;
  re: RegExp;
}

/**
 * Runs stages 1..(last expected) and returns what the suite asserts: each expected stage FAILs with a
 * message matching its pattern, and no stage before the first expected one fails.
 */
export function checkCaught(path: string, expected: readonly StageExpectation[], forward = false): { failures: string[]; ms: number } {
  const first = Math.min(...expected.map((e) => e.stage));
  const last = Math.max(...expected.map((e) => e.stage));
  const t0 = performance.now();
  const r = runCheck(path, { stages: stageRange(last), forward });
  const failures: string[] = [];
  for (const e of expected) {
    const s = r.stages.find((x) => x.id === e.stage);
    if (s?.status !== 'FAIL') failures.push(`stage ${e.stage} is ${s?.status}: ${s?.details}`);
    else if (!e.re.test(s.details)) failures.push(`stage ${e.stage} details do not match ${e.re}: ${s.details}`);
  }
  for (const s of r.stages) if (s.id < first && s.status === 'FAIL') failures.push(`stage ${s.id} fails before stage ${first}: ${s.details}`);
  return { failures, ms: performance.now() - t0 };
}

/** A mutable copy of a bundle: the same lazy tensors in a store that can be edited. */
export interface Editable extends ModelBundle {
  tensors: MemoryTensorStore;
}

function renamed(ref: TensorRef, name: string): TensorRef {
  return { name, dtype: ref.dtype, shape: ref.shape, byteLength: ref.byteLength, read: () => ref.read() };
}

/** Rewrites `src` into `dst` through writeApr after `edit` (CRCs, digests and index all valid). */
export function rewriteApr(src: string, dst: string, edit: (b: Editable) => void): string {
  const b = readApr(src);
  try {
    const store = new MemoryTensorStore();
    for (const n of b.tensors.names()) store.addRef(renamed(b.tensors.get(n) as TensorRef, n));
    const copy: Editable = {
      config: { ...b.config },
      tensors: store,
      metadata: structuredClone(b.metadata),
      provenance: structuredClone(b.provenance),
      source: b.source,
      ...(b.tokenizer ? { tokenizer: structuredClone(b.tokenizer) } : {}),
    };
    edit(copy);
    writeApr(copy, dst);
    return dst;
  } finally {
    b.tensors.close();
  }
}

/** Replaces a tensor by its float32 values after `mutate` (the tensor must be F32). */
export function editFloats(b: Editable, name: string, mutate: (v: Float32Array, shape: readonly number[]) => void): void {
  const ref = b.tensors.get(name) as TensorRef;
  const bytes = ref.read().slice();
  const v = new Float32Array(bytes.buffer, bytes.byteOffset, elementCount(ref.shape));
  mutate(v, ref.shape);
  b.tensors.add(name, ref.dtype, ref.shape, bytes);
}

export function replaceTensor(b: Editable, name: string, dtype: DType, shape: number[], bytes: Uint8Array): void {
  b.tensors.add(name, dtype, shape, bytes);
}

export function removeTensor(b: Editable, name: string): void {
  const store = new MemoryTensorStore();
  for (const n of b.tensors.names()) if (n !== name) store.addRef(b.tensors.get(n) as TensorRef);
  b.tensors = store;
}

/** Swaps every tensor of two layers (a layer-order fault that keeps every name, shape and digest valid). */
export function swapLayers(b: Editable, i: number, j: number): void {
  const store = new MemoryTensorStore();
  const swap = (n: string): string => n.replace(/^model\.layers\.(\d+)\./, (m, l: string) => (Number(l) === i ? `model.layers.${j}.` : Number(l) === j ? `model.layers.${i}.` : m));
  for (const n of b.tensors.names()) store.addRef(renamed(b.tensors.get(n) as TensorRef, swap(n)));
  b.tensors = store;
}

// ---- byte level ----

/** Recomputes the header CRC (bytes 40..44) and the footer CRC (last 4 bytes) in place. */
export function fixCrcs(bytes: Uint8Array): Uint8Array {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  v.setUint32(40, headerCrc(bytes.subarray(0, 64)), true);
  v.setUint32(bytes.byteLength - 4, crc32(bytes.subarray(0, bytes.byteLength - 4)), true);
  return bytes;
}

/** Copies `src` to `dst` with `patch` applied to the bytes (CRCs left as they are unless `fix`). */
export function patchBytes(src: string, dst: string, patch: (bytes: Uint8Array) => Uint8Array | void, fix = false): string {
  const bytes = new Uint8Array(readFileSync(src));
  const out = patch(bytes) ?? bytes;
  writeFileSync(dst, fix ? fixCrcs(out) : out);
  return dst;
}

export function copyTo(src: string, dir: string, name: string): string {
  const dst = join(dir, name);
  copyFileSync(src, dst);
  return dst;
}

/** Where things are in an APR file, from the reader-independent layout (header fields and index entries). */
export function layoutOf(path: string): { tensorIndexOffset: number; dataOffset: number; metadataSize: number; entries: AprIndexEntry[]; metadata: Record<string, unknown> } {
  const ins = inspectApr(path);
  return { tensorIndexOffset: ins.header.tensorIndexOffset, dataOffset: ins.header.dataOffset, metadataSize: ins.header.metadataSize, entries: ins.entries, metadata: ins.metadata };
}

function padded(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(align64(bytes.byteLength));
  out.set(bytes);
  return out;
}

/**
 * Re-lays out an APR file from its parts after `edit` changes the index entries and/or the metadata JSON:
 * a new header, metadata, index and the same data bytes, with valid CRCs. Lets a test plant index faults
 * (duplicate, unsorted, misaligned, overlapping entries) that the writer refuses to produce.
 */
export function rebuildApr(src: string, dst: string, edit: (p: { entries: AprIndexEntry[]; metadata: Record<string, unknown> }) => void): string {
  const bytes = new Uint8Array(readFileSync(src));
  const l = layoutOf(src);
  const parts = { entries: l.entries.map((e) => ({ ...e, shape: [...e.shape] })), metadata: structuredClone(l.metadata) };
  edit(parts);
  const meta = new TextEncoder().encode(JSON.stringify(parts.metadata));
  const index = Buffer.concat(parts.entries.map(encodeIndexEntry));
  const data = bytes.subarray(l.dataOffset, bytes.byteLength - 4);
  const tensorIndexOffset = 64 + align64(meta.byteLength);
  const header = encodeHeader({
    version: { major: 2, minor: 0 },
    flags: new DataView(bytes.buffer).getUint16(6, true),
    tensorCount: parts.entries.length,
    metadataOffset: 64,
    metadataSize: meta.byteLength,
    tensorIndexOffset,
    dataOffset: tensorIndexOffset + align64(index.byteLength),
  });
  const body = Buffer.concat([header, padded(meta), padded(index), data, new Uint8Array(4)]);
  writeFileSync(dst, fixCrcs(new Uint8Array(body.buffer, body.byteOffset, body.byteLength)));
  return dst;
}

/** Byte offset (in the file) of the first occurrence of `text` in the metadata JSON. */
export function metadataOffsetOf(path: string, text: string): number {
  const bytes = readFileSync(path);
  const at = bytes.indexOf(Buffer.from(text, 'utf8'), 64);
  if (at < 0) throw new Error(`'${text}' not in the metadata of ${path}`);
  return at;
}

/** File offset of a tensor's first data byte. */
export function tensorDataOffset(path: string, name: string): number {
  const l = layoutOf(path);
  const e = l.entries.find((x) => x.name === name);
  if (!e) throw new Error(`no tensor ${name}`);
  return l.dataOffset + e.offset;
}

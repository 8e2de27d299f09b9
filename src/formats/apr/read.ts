import type { ModelBundle } from '../../tensor/bundle.js';
import { sha256Digest } from '../../tensor/digest.js';
import type { TensorRef, TensorStore } from '../../tensor/store.js';
import { FormatError } from '../errors.js';
import type { AprHeader, AprIndexEntry } from './layout.js';
import { decodeMetadata } from './metadata.js';
import { parseLayout, storedFooter, verifyFooter } from './parse.js';
import { type ByteSource, fileSource } from '../byte-source.js';

export interface ReadAprOptions {
  /**
   * Check the footer CRC (default true). This reads the whole file once, sequentially, in 4 MiB chunks:
   * the cost is one pass at disk (or page-cache) speed plus CRC32 (native zlib, several GB/s), with
   * memory of one chunk. Pass false only where opening speed matters more than detecting corruption.
   */
  verifyFooter?: boolean;
  /** Check each tensor's SHA-256 against `metadata.integrity` on every `read()` (default false). */
  verifyDigests?: boolean;
}

export interface AprBundle extends ModelBundle {
  readonly header: AprHeader;
  readonly entries: readonly AprIndexEntry[];
  /** Reads one tensor and checks its SHA-256 against the recorded digest; throws FormatError on mismatch. */
  verifyTensor(name: string): void;
}

function checkDigest(file: string, integrity: Record<string, string> | undefined, name: string, bytes: Uint8Array): void {
  const expected = integrity?.[name];
  if (expected === undefined) throw new FormatError(file, `metadata.integrity.${name}`, 'no digest recorded for this tensor');
  const actual = sha256Digest(bytes);
  if (actual !== expected) throw new FormatError(file, `metadata.integrity.${name}`, `stored bytes hash to ${actual}, the file records ${expected}`);
}

function makeStore(src: ByteSource, header: AprHeader, entries: readonly AprIndexEntry[], onRead: (name: string, bytes: Uint8Array) => void): TensorStore {
  const byName = new Map<string, TensorRef>();
  for (const e of entries) {
    byName.set(e.name, {
      name: e.name,
      dtype: e.dtype,
      shape: e.shape,
      byteLength: e.size,
      read: () => {
        const bytes = src.read(header.dataOffset + e.offset, e.size);
        onRead(e.name, bytes);
        return bytes;
      },
    });
  }
  const names = entries.map((e) => e.name);
  return { names: () => names, get: (n) => byName.get(n), close: () => src.close() };
}

/**
 * Opens an APR v2 file from any byte source: validates header, metadata and index (and the footer CRC
 * unless disabled) and returns a bundle whose tensors read their own bytes on demand. Takes ownership of
 * `src` (closed on error, or by `bundle.tensors.close()`).
 */
export function readAprFrom(src: ByteSource, opts: ReadAprOptions = {}): AprBundle {
  try {
    const { header, metadata, entries } = parseLayout(src);
    const names = entries.map((e) => e.name);
    const meta = decodeMetadata(src.name, metadata, names);
    if (opts.verifyFooter ?? true) verifyFooter(src);
    const onRead = opts.verifyDigests ? (name: string, bytes: Uint8Array) => checkDigest(src.name, meta.integrity, name, bytes) : () => undefined;
    const tensors = makeStore(src, header, entries, onRead);
    return {
      config: meta.config,
      tensors,
      metadata: meta.extra,
      provenance: meta.provenance,
      source: { path: src.name, format: 'apr' },
      header,
      entries,
      verifyTensor(name: string): void {
        const entry = entries.find((e) => e.name === name);
        if (!entry) throw new FormatError(src.name, name, 'no such tensor');
        checkDigest(src.name, meta.integrity, name, src.read(header.dataOffset + entry.offset, entry.size));
      },
      ...(meta.tokenizer ? { tokenizer: meta.tokenizer } : {}),
      ...(meta.integrity ? { integrity: meta.integrity } : {}),
    };
  } catch (err) {
    src.close();
    throw err;
  }
}

/** Opens an APR v2 file lazily. See `ReadAprOptions` for the footer and digest checks. */
export function readApr(path: string, opts: ReadAprOptions = {}): AprBundle {
  return readAprFrom(fileSource(path), opts);
}

export interface AprInspection {
  path: string;
  fileSize: number;
  header: AprHeader;
  /** The metadata JSON as stored (all keys, tokenizer included). */
  metadata: Record<string, unknown>;
  entries: AprIndexEntry[];
  /** Bytes between data_offset and the footer. */
  dataLength: number;
  /** `computed` only when `verifyFooter` was requested (it reads the whole file). */
  footer: { stored: number; computed?: number };
}

/**
 * A low-level view of an APR file (header fields, index entries, raw metadata) for `apr inspect` and
 * `apr check`. Structural faults throw FormatError naming the field; the footer CRC is computed (and a
 * mismatch thrown) only with `verifyFooter: true`.
 */
export function inspectApr(path: string, opts: { verifyFooter?: boolean } = {}): AprInspection {
  const src = fileSource(path);
  try {
    const layout = parseLayout(src);
    const footer: AprInspection['footer'] = { stored: storedFooter(src) };
    if (opts.verifyFooter) footer.computed = verifyFooter(src);
    return { path, fileSize: src.size, ...layout, footer };
  } finally {
    src.close();
  }
}

import type { ModelBundle, ProvenanceEntry } from '../../tensor/bundle.js';
import { Crc32, crc32Combine } from '../../tensor/crc32.js';
import { DIGEST_PREFIX, Sha256Digest } from '../../tensor/digest.js';
import { byteSize, elementCount, isQuantized } from '../../tensor/dtype.js';
import { type TensorRef, requireTensor } from '../../tensor/store.js';
import { writeAtomically } from '../atomic-write.js';
import {
  type AprHeader,
  type AprIndexEntry,
  FLAGS,
  HEADER_SIZE,
  MAX_NAME_BYTES,
  MAX_NDIM,
  VERSION_MAJOR,
  VERSION_MINOR,
  align64,
  compareNames,
  encodeHeader,
  encodeIndexEntry,
  flagNames,
} from './layout.js';
import { buildMetadata, encodeMetadata } from './metadata.js';

export interface WriteAprOptions {
  /** Appended to the bundle's provenance chain. */
  provenance?: ProvenanceEntry;
  /**
   * Also write aprender's flat tokenizer keys (`tokenizer.vocabulary`, `tokenizer.merges`, ...) derived from
   * tokenizer.json, so aprender/realizar can decode with our files (default true).
   */
  aprenderTokenizerKeys?: boolean;
}

export interface WriteAprResult {
  path: string;
  bytes: number;
  header: AprHeader;
  integrity: Record<string, string>;
  footerCrc: number;
}

interface Plan {
  refs: TensorRef[];
  entries: AprIndexEntry[];
  header: AprHeader;
  headerBytes: Uint8Array;
  indexBytes: Uint8Array;
  metadataFor: (integrity: Record<string, string>) => Uint8Array;
  metadataLength: number;
}

const PLACEHOLDER_DIGEST = DIGEST_PREFIX + '0'.repeat(64);
const utf8 = new TextEncoder();

function checkTensor(ref: TensorRef): void {
  const nameBytes = utf8.encode(ref.name).byteLength;
  if (nameBytes === 0 || nameBytes > MAX_NAME_BYTES) throw new Error(`APR: tensor name '${ref.name}' must be 1..${MAX_NAME_BYTES} UTF-8 bytes`);
  if (ref.shape.length > MAX_NDIM) throw new Error(`APR: tensor '${ref.name}' has ${ref.shape.length} dims (at most ${MAX_NDIM})`);
  if (!ref.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw new Error(`APR: tensor '${ref.name}' has a bad shape [${ref.shape.join(', ')}]`);
  const size = byteSize(ref.dtype, ref.shape);
  if (size !== ref.byteLength) throw new Error(`APR: tensor '${ref.name}' is ${ref.byteLength} bytes but ${ref.dtype}[${ref.shape.join(', ')}] needs ${size}`);
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Everything before the tensor data is known from the refs' metadata alone; digests are patched in later. */
function plan(bundle: ModelBundle, opts: WriteAprOptions): Plan {
  const names = [...bundle.tensors.names()].sort(compareNames);
  for (let i = 1; i < names.length; i++) if (names[i] === names[i - 1]) throw new Error(`APR: duplicate tensor name '${names[i]}'`);
  const refs = names.map((n) => requireTensor(bundle.tensors, n));
  refs.forEach(checkTensor);
  let offset = 0;
  const entries = refs.map((r) => {
    const e: AprIndexEntry = { name: r.name, dtype: r.dtype, shape: [...r.shape], offset, size: r.byteLength };
    offset += align64(r.byteLength);
    return e;
  });
  const provenance = [...bundle.provenance, ...(opts.provenance ? [opts.provenance] : [])];
  const metadataFor = (integrity: Record<string, string>): Uint8Array =>
    encodeMetadata(
      buildMetadata({
        bundle,
        integrity,
        provenance,
        paramCount: refs.reduce((n, r) => n + elementCount(r.shape), 0),
        totalSize: refs.reduce((n, r) => n + r.byteLength, 0),
        aprenderKeys: opts.aprenderTokenizerKeys ?? true,
      }),
    );
  const metadataLength = metadataFor(Object.fromEntries(names.map((n) => [n, PLACEHOLDER_DIGEST]))).byteLength;
  // Stryker disable next-line StringLiteral: unreachable message: a V8 string holds at most 2^29 UTF-16 units, so the UTF-8 metadata is < 2^32 − 1 bytes
  if (metadataLength > 0xffffffff) throw new Error(`APR: metadata is ${metadataLength} bytes (the header field is u32)`);
  const indexBytes = concat(entries.map(encodeIndexEntry));
  const tensorIndexOffset = HEADER_SIZE + align64(metadataLength);
  let flags = FLAGS.LAYOUT_ROW_MAJOR;
  if (bundle.tokenizer) flags |= FLAGS.HAS_VOCAB;
  if (refs.some((r) => isQuantized(r.dtype))) flags |= FLAGS.QUANTIZED;
  const fields = {
    version: { major: VERSION_MAJOR, minor: VERSION_MINOR },
    flags,
    tensorCount: entries.length,
    metadataOffset: HEADER_SIZE,
    metadataSize: metadataLength,
    tensorIndexOffset,
    dataOffset: tensorIndexOffset + align64(indexBytes.byteLength),
  };
  const headerBytes = encodeHeader(fields);
  const headerCrc = new DataView(headerBytes.buffer).getUint32(40, true);
  return { refs, entries, header: { ...fields, flagNames: flagNames(flags), headerCrc }, headerBytes, indexBytes, metadataFor, metadataLength };
}

interface Sink {
  write(bytes: Uint8Array): void;
}
const NO_OUTPUT: Sink = { write: () => undefined };

/** Writes `bytes` then zeros up to the next multiple of 64, feeding both to `crc` when given. */
function writePadded(sink: Sink, bytes: Uint8Array, crc?: Crc32): void {
  const pad = align64(bytes.byteLength) - bytes.byteLength;
  for (const part of pad > 0 ? [bytes, new Uint8Array(pad)] : [bytes]) {
    sink.write(part);
    crc?.update(part);
  }
}

function streamTensors(file: Sink, p: Plan): { integrity: Record<string, string>; crc: Crc32 } {
  const crc = new Crc32();
  const integrity: Record<string, string> = {};
  for (const ref of p.refs) {
    const bytes = ref.read();
    if (bytes.byteLength !== ref.byteLength) throw new Error(`APR: tensor '${ref.name}' read() returned ${bytes.byteLength} bytes, expected ${ref.byteLength}`);
    integrity[ref.name] = new Sha256Digest().update(bytes).digest();
    writePadded(file, bytes, crc);
  }
  return { integrity, crc };
}

/**
 * Writes `bundle` as APR v2, streaming one tensor at a time into a temporary file renamed into place on
 * success (memory ≈ the largest tensor plus metadata and index). Digests and the data CRC are computed as
 * the tensors stream; the metadata (which holds the digests) is then patched in place — its length does not
 * change — and the footer CRC is assembled with `crc32Combine`, so no byte is read back.
 */
export function writeApr(bundle: ModelBundle, path: string, opts: WriteAprOptions = {}): WriteAprResult {
  const p = plan(bundle, opts);
  return writeAtomically(path, (file) => {
    file.write(p.headerBytes);
    writePadded(file, new Uint8Array(p.metadataLength));
    writePadded(file, p.indexBytes);
    const { integrity, crc } = streamTensors(file, p);
    const metadata = p.metadataFor(integrity);
    if (metadata.byteLength !== p.metadataLength) throw new Error(`APR: metadata changed length (${p.metadataLength} → ${metadata.byteLength})`);
    file.writeAt(HEADER_SIZE, metadata);
    const head = new Crc32().update(p.headerBytes);
    writePadded(NO_OUTPUT, metadata, head);
    writePadded(NO_OUTPUT, p.indexBytes, head);
    const footerCrc = crc32Combine(head.digest(), crc.digest(), crc.length);
    const footer = new Uint8Array(4);
    new DataView(footer.buffer).setUint32(0, footerCrc, true);
    file.write(footer);
    return { path, bytes: file.bytesWritten, header: p.header, integrity, footerCrc };
  });
}

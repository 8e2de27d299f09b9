import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { DTYPES, type DType } from '../../tensor/dtype.js';
import type { TensorRef, TensorStore } from '../../tensor/store.js';
import { FormatError } from '../errors.js';
import { JsonSyntaxError, type JsonValue, parseStrictJson } from './json.js';

/** safetensors dtype names the toolkit computes with → ours (the same names). */
export const SAFETENSORS_DTYPES: readonly DType[] = ['F32', 'F16', 'BF16', 'I8', 'I16', 'I32'];
/** Every dtype name the reference implementation knows; the ones not above are valid but unsupported here. */
const REFERENCE_DTYPES = new Set(['BOOL', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0', 'F8_E4M3FNUZ', 'F8_E5M2FNUZ', 'F4', 'F6_E2M3', 'F6_E3M2', 'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'C64', 'F64', 'I64', 'U64']);
export const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsEntry {
  name: string;
  dtype: DType;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsFile extends TensorStore {
  readonly path: string;
  readonly metadata: Record<string, string>;
  /** Entries in file order (ascending offsets). */
  readonly entries: readonly SafetensorsEntry[];
}

/** Random access to the bytes of a file (an fd, or a buffer in memory). */
interface ByteSource {
  readonly size: number;
  /** Up to `length` bytes at `position`; shorter only at the end of the source. */
  read(length: number, position: number): Uint8Array;
  close(): void;
}

function openFd(path: string): { fd: number; size: number } {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    return { fd, size: fstatSync(fd).size };
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    throw new FormatError(path, 'file', `cannot open (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function fdSource(path: string): ByteSource {
  const opened = openFd(path);
  let fd: number | undefined = opened.fd;
  const size = opened.size;
  return {
    size,
    read(length, position) {
      if (fd === undefined) throw new Error(`${path}: read after close`);
      const buf = new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const n = readSync(fd, buf, done, length - done, position + done);
        if (n === 0) break;
        done += n;
      }
      return buf.subarray(0, done);
    },
    close() {
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
    },
  };
}

function bufferSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.byteLength, read: (length, position) => bytes.subarray(position, position + length), close: () => undefined };
}

function decodeHeader(path: string, headerBytes: Uint8Array): JsonValue {
  let text: string;
  try {
    // ignoreBOM keeps a byte-order mark in the text, so it is rejected as the reference does.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    throw new FormatError(path, 'header', 'is not valid UTF-8');
  }
  try {
    return parseStrictJson(text);
  } catch (err) {
    if (!(err instanceof JsonSyntaxError)) throw err;
    if (err.duplicateKey !== undefined) {
      const field = err.path === '' ? err.duplicateKey : `${err.path}.${err.duplicateKey}`;
      throw new FormatError(path, field, err.path === '' ? 'duplicate tensor name in the header' : 'duplicate key');
    }
    throw new FormatError(path, 'header', `invalid JSON (${err.message})`);
  }
}

function parseMetadata(path: string, raw: JsonValue): Record<string, string> {
  if (raw === null) return {};
  if (!(raw instanceof Map)) throw new FormatError(path, '__metadata__', 'expected an object of strings');
  const out: Record<string, string> = {};
  for (const [k, v] of raw) {
    if (typeof v !== 'string') throw new FormatError(path, `__metadata__.${k}`, `expected a string, got ${describe(v)}`);
    Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function describe(v: JsonValue): string {
  if (v instanceof Map) return 'an object';
  if (Array.isArray(v)) return 'an array';
  if (v !== null && typeof v === 'object') return v.text;
  return JSON.stringify(v);
}

function nonNegativeInts(v: JsonValue | undefined): number[] | undefined {
  if (!Array.isArray(v)) return undefined;
  const out: number[] = [];
  for (const d of v) {
    if (typeof d !== 'number' || d < 0) return undefined;
    out.push(d);
  }
  return out;
}

function entryByteSize(path: string, name: string, dtype: DType, shape: readonly number[]): number {
  let n = DTYPES[dtype].blockBytes;
  for (const d of shape) {
    n *= d;
    if (!Number.isSafeInteger(n)) throw new FormatError(path, `${name}.shape`, `${JSON.stringify(shape)} × ${dtype} overflows`);
  }
  return n;
}

function parseEntry(path: string, name: string, raw: JsonValue, dataStart: number): SafetensorsEntry {
  if (!(raw instanceof Map)) throw new FormatError(path, name, `expected a tensor entry object, got ${describe(raw)}`);
  const dtype = raw.get('dtype');
  if (typeof dtype !== 'string' || !REFERENCE_DTYPES.has(dtype)) throw new FormatError(path, `${name}.dtype`, `unknown dtype ${dtype === undefined ? '(missing)' : describe(dtype)}`);
  if (!(SAFETENSORS_DTYPES as readonly string[]).includes(dtype)) {
    throw new FormatError(path, `${name}.dtype`, `${dtype} is not supported by apr (supported: ${SAFETENSORS_DTYPES.join(', ')})`);
  }
  const ourDtype = dtype as DType;
  const shape = nonNegativeInts(raw.get('shape'));
  if (!shape) throw new FormatError(path, `${name}.shape`, 'expected an array of non-negative integers');
  const offsets = nonNegativeInts(raw.get('data_offsets'));
  if (!offsets || offsets.length !== 2) throw new FormatError(path, `${name}.data_offsets`, 'expected [begin, end], non-negative integers');
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw new FormatError(path, `${name}.data_offsets`, `end ${end} < begin ${begin}`);
  const size = entryByteSize(path, name, ourDtype, shape);
  if (end - begin !== size) throw new FormatError(path, `${name}.data_offsets`, `covers ${end - begin} bytes but ${dtype}${JSON.stringify(shape)} needs ${size}`);
  return { name, dtype: ourDtype, shape, begin: dataStart + begin, end: dataStart + end };
}

function checkContiguous(path: string, entries: SafetensorsEntry[], dataStart: number, dataLength: number): void {
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = dataStart;
  for (const e of entries) {
    if (e.begin !== expected) {
      const what = e.begin < expected ? 'overlaps the previous tensor' : `leaves a gap (expected begin ${expected - dataStart}, got ${e.begin - dataStart})`;
      throw new FormatError(path, `${e.name}.data_offsets`, what);
    }
    expected = e.end;
  }
  if (expected - dataStart !== dataLength) {
    const what = expected - dataStart > dataLength ? 'run past' : 'do not reach';
    throw new FormatError(path, 'data_offsets', `tensors ${what} the end of the data section (they cover ${expected - dataStart} bytes, the file holds ${dataLength})`);
  }
}

/** Parses and validates a safetensors header, rejecting what the reference implementation rejects. */
function parseSafetensorsHeader(path: string, headerBytes: Uint8Array, dataLength: number): { entries: SafetensorsEntry[]; metadata: Record<string, string>; dataStart: number } {
  const header = decodeHeader(path, headerBytes);
  if (!(header instanceof Map)) throw new FormatError(path, 'header', 'expected a JSON object');
  const dataStart = 8 + headerBytes.byteLength;
  const entries: SafetensorsEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, raw] of header) {
    if (name === '__metadata__') metadata = parseMetadata(path, raw);
    else entries.push(parseEntry(path, name, raw, dataStart));
  }
  checkContiguous(path, entries, dataStart, dataLength);
  return { entries, metadata, dataStart };
}

function readHeader(path: string, src: ByteSource): { entries: SafetensorsEntry[]; metadata: Record<string, string> } {
  if (src.size < 8) throw new FormatError(path, 'header length', `file is ${src.size} bytes, shorter than the 8-byte length prefix`);
  const lenBytes = src.read(8, 0);
  const headerLen = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) throw new FormatError(path, 'header length', `${headerLen} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  if (headerLen > BigInt(src.size - 8)) throw new FormatError(path, 'header length', `${headerLen} runs past the end of the ${src.size}-byte file`);
  const n = Number(headerLen);
  const headerBytes = src.read(n, 8);
  if (headerBytes.byteLength !== n) throw new FormatError(path, 'header', 'file truncated while reading the header');
  return parseSafetensorsHeader(path, headerBytes, src.size - 8 - n);
}

function openSource(path: string, src: ByteSource): SafetensorsFile {
  let open = true;
  try {
    const { entries, metadata } = readHeader(path, src);
    const byName = new Map<string, TensorRef>();
    for (const e of entries) {
      const byteLength = e.end - e.begin;
      byName.set(e.name, {
        name: e.name,
        dtype: e.dtype,
        shape: e.shape,
        byteLength,
        read: () => {
          if (!open) throw new Error(`${path}: read of '${e.name}' after close`);
          const bytes = src.read(byteLength, e.begin);
          if (bytes.byteLength !== byteLength) throw new FormatError(path, e.name, 'file truncated while reading');
          return bytes;
        },
      });
    }
    const names = [...byName.keys()].sort();
    return {
      path,
      metadata,
      entries,
      names: () => names,
      get: (name) => byName.get(name),
      close: () => {
        open = false;
        src.close();
      },
    };
  } catch (err) {
    src.close();
    throw err;
  }
}

/** Opens a .safetensors file lazily: only the header is read now; each tensor's bytes on `read()`. */
export function openSafetensors(path: string): SafetensorsFile {
  return openSource(path, fdSource(path));
}

/** The same over bytes in memory (`label` names the input in errors). `read()` returns views, not copies. */
export function openSafetensorsBuffer(label: string, bytes: Uint8Array): SafetensorsFile {
  return openSource(label, bufferSource(bytes));
}

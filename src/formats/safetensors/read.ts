import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { type DType, byteSize } from '../../tensor/dtype.js';
import type { TensorRef, TensorStore } from '../../tensor/store.js';
import { FormatError } from '../errors.js';

/** safetensors dtype names → ours. Only types the toolkit computes with are accepted. */
const ST_DTYPES: Record<string, DType> = { F32: 'F32', F16: 'F16', BF16: 'BF16', I8: 'I8', I16: 'I16', I32: 'I32' };
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
  readonly entries: readonly SafetensorsEntry[];
}

function readExact(fd: number, length: number, position: number): Uint8Array {
  const buf = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, buf, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return buf.subarray(0, done);
}

/** Parses and validates a safetensors header, as the reference implementation does. */
export function parseSafetensorsHeader(path: string, headerBytes: Uint8Array, dataLength: number): { entries: SafetensorsEntry[]; metadata: Record<string, string>; dataStart: number } {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (err) {
    throw new FormatError(path, 'header', `invalid JSON (${(err as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new FormatError(path, 'header', 'expected a JSON object');
  const dataStart = 8 + headerBytes.byteLength;
  const entries: SafetensorsEntry[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !Object.values(raw).every((v) => typeof v === 'string')) {
        throw new FormatError(path, '__metadata__', 'expected an object of strings');
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    entries.push(parseEntry(path, name, raw, dataStart));
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let expected = dataStart;
  for (const e of entries) {
    if (e.begin !== expected) {
      throw new FormatError(path, `${e.name}.data_offsets`, e.begin < expected ? 'overlaps the previous tensor' : `leaves a gap (expected ${expected - dataStart})`);
    }
    expected = e.end;
  }
  if (expected - dataStart !== dataLength) {
    throw new FormatError(path, 'data_offsets', `tensors cover ${expected - dataStart} bytes but the data section has ${dataLength}`);
  }
  return { entries, metadata, dataStart };
}

function parseEntry(path: string, name: string, raw: unknown, dataStart: number): SafetensorsEntry {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new FormatError(path, name, 'expected an object');
  const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
  if (typeof dtype !== 'string' || !Object.hasOwn(ST_DTYPES, dtype)) throw new FormatError(path, `${name}.dtype`, `unknown or unsupported dtype ${JSON.stringify(dtype)}`);
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) throw new FormatError(path, `${name}.shape`, 'expected an array of non-negative integers');
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) {
    throw new FormatError(path, `${name}.data_offsets`, 'expected [begin, end] non-negative integers');
  }
  const [begin, end] = offsets as [number, number];
  const ourDtype = ST_DTYPES[dtype] as DType;
  const dims = shape as number[];
  if (end < begin) throw new FormatError(path, `${name}.data_offsets`, `end ${end} < begin ${begin}`);
  const size = byteSize(ourDtype, dims);
  if (end - begin !== size) throw new FormatError(path, `${name}.data_offsets`, `covers ${end - begin} bytes but ${dtype}${JSON.stringify(dims)} needs ${size}`);
  return { name, dtype: ourDtype, shape: dims, begin: dataStart + begin, end: dataStart + end };
}

/** Opens a .safetensors file lazily: only the header is read now; each tensor's bytes on `read()`. */
export function openSafetensors(path: string): SafetensorsFile {
  let fd: number | undefined = openSync(path, 'r');
  try {
    const fileSize = fstatSync(fd).size;
    if (fileSize < 8) throw new FormatError(path, 'header length', `file is ${fileSize} bytes, shorter than the 8-byte length prefix`);
    const lenBytes = readExact(fd, 8, 0);
    const headerLen = new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true);
    if (headerLen > BigInt(MAX_HEADER_BYTES)) throw new FormatError(path, 'header length', `${headerLen} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit`);
    if (headerLen > BigInt(fileSize - 8)) throw new FormatError(path, 'header length', `${headerLen} runs past the end of the ${fileSize}-byte file`);
    const n = Number(headerLen);
    const headerBytes = readExact(fd, n, 8);
    const { entries, metadata } = parseSafetensorsHeader(path, headerBytes, fileSize - 8 - n);
    const seen = new Set<string>();
    for (const e of entries) {
      if (seen.has(e.name)) throw new FormatError(path, e.name, 'duplicate tensor name');
      seen.add(e.name);
    }
    const byName = new Map<string, TensorRef>();
    const openFd = fd;
    for (const e of entries) {
      byName.set(e.name, {
        name: e.name,
        dtype: e.dtype,
        shape: e.shape,
        byteLength: e.end - e.begin,
        read: () => {
          if (fd === undefined) throw new Error(`${path}: read of '${e.name}' after close`);
          const bytes = readExact(openFd, e.end - e.begin, e.begin);
          if (bytes.byteLength !== e.end - e.begin) throw new FormatError(path, e.name, 'file truncated while reading');
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
        if (fd !== undefined) closeSync(fd);
        fd = undefined;
      },
    };
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    fd = undefined;
    throw err;
  }
}

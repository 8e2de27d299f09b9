import { DTYPES, byteSize, dtypeFromId } from '../../tensor/dtype.js';
import { Cursor } from './cursor.js';
import { readType, readValue } from './read-values.js';
import { type ByteSource, bufferSource, fileSource } from '../byte-source.js';
import { GGML_MAX_DIMS, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, type GgufTensorInfo, type GgufValue } from './types.js';

/** A parsed GGUF header: metadata and the tensor directory. */
export interface GgufHeader {
  version: number;
  kv: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute offset of the data section (tensor offsets are relative to it). */
  dataOffset: number;
  fileSize: number;
}

/** An open GGUF file: header now, tensor bytes on demand. */
export interface GgufFile extends GgufHeader {
  readonly path: string;
  /** Reads exactly one tensor's bytes. */
  read(tensor: GgufTensorInfo): Uint8Array;
  close(): void;
}

/** ggml's GGML_MAX_NAME is 64 including the terminating NUL. */
const MAX_NAME_BYTES = 63;
/** Smallest encodings: a KV pair (empty key, u8 value) and a tensor info (empty name, 0 dims). */
const MIN_KV_BYTES = 8 + 4 + 1;
const MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8;
const GGML_TYPE_LIMIT = 128;

function readPreamble(c: Cursor): { version: number; nTensors: number; nKv: number } {
  const magic = c.u32('magic');
  if (magic !== GGUF_MAGIC) c.fail('magic', `expected "GGUF", got 0x${magic.toString(16).padStart(8, '0')}`);
  const version = c.u32('version');
  if (version === 1) c.fail('version', 'GGUF v1 is not supported (v2 and v3 are)');
  if (version !== 2 && version !== 3) c.fail('version', `unsupported version ${version}${version > 0xffff ? ' (big-endian file?)' : ''} (v2 and v3 are)`);
  const nTensors = c.length('tensor_count', Math.floor((c.remaining - 16) / MIN_TENSOR_INFO_BYTES), 'tensor count');
  const nKv = c.length('kv_count', Math.floor((c.remaining - 8 - nTensors * MIN_TENSOR_INFO_BYTES) / MIN_KV_BYTES), 'kv count');
  return { version, nTensors, nKv };
}

function readKv(c: Cursor, n: number): Map<string, GgufValue> {
  const kv = new Map<string, GgufValue>();
  for (let i = 0; i < n; i++) {
    const key = c.string(`kv[${i}].key`);
    if (kv.has(key)) c.fail(key, 'duplicate metadata key');
    kv.set(key, readValue(c, readType(c, `${key}.type`), key));
  }
  return kv;
}

function alignmentOf(c: Cursor, kv: Map<string, GgufValue>): number {
  const a = kv.get('general.alignment');
  if (a === undefined) return GGUF_DEFAULT_ALIGNMENT;
  if (a.type !== 'u32') c.fail('general.alignment', `expected type u32, got ${a.type}`);
  if (a.value === 0 || (a.value & (a.value - 1)) !== 0) c.fail('general.alignment', `${a.value} is not a power of two`);
  return a.value;
}

function readDims(c: Cursor, field: string): number[] {
  const nDims = c.u32(`${field}.n_dims`);
  if (nDims > GGML_MAX_DIMS) c.fail(`${field}.n_dims`, `${nDims} dimensions (at most ${GGML_MAX_DIMS})`);
  const dims: number[] = [];
  let elements = 1;
  for (let d = 0; d < nDims; d++) {
    const ne = c.u64(`${field}.ne[${d}]`);
    if (ne > BigInt(Number.MAX_SAFE_INTEGER)) c.fail(`${field}.ne[${d}]`, `dimension ${ne} is too large`);
    elements *= Number(ne);
    if (elements > Number.MAX_SAFE_INTEGER) c.fail(`${field}.dims`, 'element count overflows');
    dims.push(Number(ne));
  }
  return dims;
}

function readTensorInfo(c: Cursor, i: number, alignment: number): GgufTensorInfo {
  const name = c.string(`tensor[${i}].name`);
  const field = `tensor '${name}'`;
  if (new TextEncoder().encode(name).byteLength > MAX_NAME_BYTES) c.fail(`${field}.name`, `name longer than ${MAX_NAME_BYTES} bytes`);
  const dims = readDims(c, field);
  const typeId = c.u32(`${field}.type`);
  const ggmlType = typeId < GGML_TYPE_LIMIT ? dtypeFromId(typeId) : undefined;
  if (ggmlType === undefined) c.fail(`${field}.type`, `unknown or unsupported ggml type ${typeId}`);
  const ne0 = dims[0] ?? 1;
  if (ne0 % DTYPES[ggmlType].blockSize !== 0) c.fail(`${field}.ne[0]`, `${ne0} is not a multiple of the ${ggmlType} block size ${DTYPES[ggmlType].blockSize}`);
  const offset = c.u64(`${field}.offset`);
  if (offset % BigInt(alignment) !== 0n) c.fail(`${field}.offset`, `${offset} is not a multiple of the alignment ${alignment}`);
  if (offset > BigInt(c.remaining)) c.fail(`${field}.offset`, `${offset} lies past the end of the file`);
  return { name, ggmlType, dims, offset: Number(offset), byteLength: byteSize(ggmlType, [...dims].reverse()) };
}

function checkTensorBounds(c: Cursor, tensors: GgufTensorInfo[], dataOffset: number, fileSize: number): void {
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  let end = 0;
  let prev = '';
  for (const t of sorted) {
    if (t.offset < end) c.fail(`tensor '${t.name}'.offset`, `overlaps tensor '${prev}'`);
    end = t.offset + t.byteLength;
    prev = t.name;
    if (dataOffset + end > fileSize) c.fail(`tensor '${t.name}'.data`, `runs to byte ${dataOffset + end}, past the end of the ${fileSize}-byte file`);
  }
}

/** Parses and validates a whole GGUF header from `src`. Throws FormatError (naming `file` and the field) on any defect. */
export function parseGgufHeader(src: ByteSource, file: string): GgufHeader {
  const c = new Cursor(src, file);
  const { version, nTensors, nKv } = readPreamble(c);
  const kv = readKv(c, nKv);
  const alignment = alignmentOf(c, kv);
  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const t = readTensorInfo(c, i, alignment);
    if (names.has(t.name)) c.fail(`tensor '${t.name}'`, 'duplicate tensor name');
    names.add(t.name);
    tensors.push(t);
  }
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  checkTensorBounds(c, tensors, dataOffset, src.size);
  return { version, kv, tensors, alignment, dataOffset, fileSize: src.size };
}

/** Parses GGUF bytes already in memory (tests, small files). */
export function parseGguf(bytes: Uint8Array, file = '<buffer>'): GgufFile {
  const header = parseGgufHeader(bufferSource(bytes), file);
  const read = (t: GgufTensorInfo): Uint8Array => bytes.slice(header.dataOffset + t.offset, header.dataOffset + t.offset + t.byteLength);
  return { ...header, path: file, read, close: () => undefined };
}

/** Opens a GGUF file: reads and validates the header; tensor bytes are read on demand by `read`. */
export function readGguf(path: string): GgufFile {
  const src = fileSource(path);
  try {
    const header = parseGgufHeader(src, path);
    const read = (t: GgufTensorInfo): Uint8Array => src.read(header.dataOffset + t.offset, t.byteLength);
    return { ...header, path, read, close: () => src.close() };
  } catch (err) {
    src.close();
    throw err;
  }
}

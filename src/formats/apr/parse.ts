import { dtypeFromId } from '../../tensor/dtype.js';
import { Crc32 } from '../../tensor/crc32.js';
import { FormatError } from '../errors.js';
import {
  ALIGNMENT,
  type AprHeader,
  type AprIndexEntry,
  FLAGS,
  FOOTER_SIZE,
  HEADER_SIZE,
  MAGIC,
  MAX_NDIM,
  MIN_INDEX_ENTRY,
  UNSUPPORTED_FLAGS,
  VERSION_MAJOR,
  byteSizeBig,
  compareNameBytes,
  decodeHeader,
  flagNames,
  headerCrc,
} from './layout.js';
import type { ByteSource } from '../byte-source.js';

/** The validated structure of an APR file: header, metadata JSON object and tensor index. */
export interface AprLayout {
  header: AprHeader;
  metadata: Record<string, unknown>;
  entries: AprIndexEntry[];
  /** Bytes between data_offset and the footer. */
  dataLength: number;
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;

function checkIdentity(file: string, bytes: Uint8Array, raw: ReturnType<typeof decodeHeader>): void {
  if (!MAGIC.every((b, i) => raw.magic[i] === b)) {
    throw new FormatError(file, 'header.magic', `expected "APR\\0", found ${JSON.stringify(String.fromCharCode(...raw.magic))}`);
  }
  if (raw.major !== VERSION_MAJOR) throw new FormatError(file, 'header.version', `unsupported version ${raw.major}.${raw.minor} (this reader reads 2.x)`);
  const crc = headerCrc(bytes);
  if (crc !== raw.headerCrc) throw new FormatError(file, 'header.crc', `stored ${hex(raw.headerCrc)}, computed ${hex(crc)}`);
  if (raw.flags & FLAGS.LAYOUT_COLUMN_MAJOR) throw new FormatError(file, 'header.flags', 'LAYOUT_COLUMN_MAJOR is set (tensors must be row-major)');
  const unsupported = UNSUPPORTED_FLAGS.filter((f) => raw.flags & FLAGS[f]);
  if (unsupported.length > 0) throw new FormatError(file, 'header.flags', `unsupported feature ${unsupported.join(', ')}`);
}

/** Checks the section offsets: metadata at 64, then index, then data, all inside the file, none overlapping. */
function checkSections(file: string, raw: ReturnType<typeof decodeHeader>, fileSize: number): AprHeader {
  const end = BigInt(fileSize - FOOTER_SIZE);
  if (raw.metadataOffset !== BigInt(HEADER_SIZE)) throw new FormatError(file, 'header.metadata_offset', `expected ${HEADER_SIZE}, found ${raw.metadataOffset}`);
  if (raw.tensorIndexOffset > end) throw new FormatError(file, 'header.tensor_index_offset', `${raw.tensorIndexOffset} is past the end of the data (${end})`);
  if (raw.dataOffset > end) throw new FormatError(file, 'header.data_offset', `${raw.dataOffset} is past the end of the data (${end})`);
  const metaEnd = BigInt(HEADER_SIZE + raw.metadataSize);
  if (metaEnd > raw.tensorIndexOffset) {
    throw new FormatError(file, 'header.metadata_size', `metadata [${HEADER_SIZE}, ${metaEnd}) overlaps the tensor index at ${raw.tensorIndexOffset}`);
  }
  if (raw.tensorIndexOffset % BigInt(ALIGNMENT) !== 0n) throw new FormatError(file, 'header.tensor_index_offset', `${raw.tensorIndexOffset} is not 64-byte aligned`);
  if (raw.dataOffset < raw.tensorIndexOffset) {
    throw new FormatError(file, 'header.data_offset', `${raw.dataOffset} is before the tensor index at ${raw.tensorIndexOffset}`);
  }
  if (raw.dataOffset % BigInt(ALIGNMENT) !== 0n) throw new FormatError(file, 'header.data_offset', `${raw.dataOffset} is not 64-byte aligned`);
  const indexLength = raw.dataOffset - raw.tensorIndexOffset;
  if (BigInt(raw.tensorCount) * BigInt(MIN_INDEX_ENTRY) > indexLength) {
    throw new FormatError(file, 'header.tensor_count', `${raw.tensorCount} entries cannot fit in a ${indexLength}-byte tensor index`);
  }
  return {
    version: { major: raw.major, minor: raw.minor },
    flags: raw.flags,
    flagNames: flagNames(raw.flags),
    tensorCount: raw.tensorCount,
    metadataOffset: HEADER_SIZE,
    metadataSize: raw.metadataSize,
    tensorIndexOffset: Number(raw.tensorIndexOffset),
    dataOffset: Number(raw.dataOffset),
    headerCrc: raw.headerCrc,
  };
}

/** Reads and checks the 64-byte header. */
export function parseHeader(src: ByteSource): AprHeader {
  if (src.size < HEADER_SIZE + FOOTER_SIZE) {
    throw new FormatError(src.name, 'file', `${src.size} bytes is shorter than the ${HEADER_SIZE}-byte header and ${FOOTER_SIZE}-byte footer`);
  }
  const bytes = src.read(0, HEADER_SIZE);
  const raw = decodeHeader(bytes);
  checkIdentity(src.name, bytes, raw);
  return checkSections(src.name, raw, src.size);
}

export function parseMetadata(src: ByteSource, header: AprHeader): Record<string, unknown> {
  const bytes = src.read(header.metadataOffset, header.metadataSize);
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (err) {
    throw new FormatError(src.name, 'metadata', `invalid JSON (${(err as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FormatError(src.name, 'metadata', 'expected a JSON object');
  return value as Record<string, unknown>;
}

/** A cursor over the tensor index bytes that names the entry field that runs past the section. */
class IndexCursor {
  pos = 0;
  private readonly view: DataView;
  constructor(
    private readonly file: string,
    readonly bytes: Uint8Array,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, field: string): number {
    if (this.pos + n > this.bytes.byteLength) throw new FormatError(this.file, field, 'runs past the end of the tensor index');
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u8(field: string): number {
    return this.view.getUint8(this.need(1, field));
  }
  u16(field: string): number {
    return this.view.getUint16(this.need(2, field), true);
  }
  u64(field: string): bigint {
    return this.view.getBigUint64(this.need(8, field), true);
  }
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

function readName(c: IndexCursor, file: string, at: string): Uint8Array {
  const len = c.u16(`${at}.name_len`);
  const bytes = c.bytes.subarray(c.need(len, `${at}.name`), c.pos);
  if (len === 0) throw new FormatError(file, `${at}.name`, 'empty tensor name');
  return bytes;
}

function readEntry(c: IndexCursor, file: string, i: number, dataLength: number): { entry: AprIndexEntry; nameBytes: Uint8Array } {
  const at = `index[${i}]`;
  const nameBytes = readName(c, file, at);
  let name: string;
  try {
    name = utf8Strict.decode(nameBytes);
  } catch {
    throw new FormatError(file, `${at}.name`, 'not valid UTF-8');
  }
  const dtypeId = c.u8(`${at}.dtype`);
  const dtype = dtypeFromId(dtypeId);
  if (dtype === undefined) throw new FormatError(file, `${at}.dtype`, `unknown dtype id ${dtypeId} ('${name}')`);
  const ndim = c.u8(`${at}.ndim`);
  if (ndim > MAX_NDIM) throw new FormatError(file, `${at}.ndim`, `${ndim} dimensions ('${name}'; at most ${MAX_NDIM})`);
  const dims: bigint[] = [];
  for (let d = 0; d < ndim; d++) dims.push(c.u64(`${at}.dims`));
  const offset = c.u64(`${at}.offset`);
  const size = c.u64(`${at}.size`);
  const expected = byteSizeBig(dtype, dims);
  if (typeof expected === 'string') throw new FormatError(file, `${at}.dims`, `'${name}': ${expected}`);
  if (size !== expected) throw new FormatError(file, `${at}.size`, `'${name}' is ${size} bytes but ${dtype}[${dims.join(', ')}] needs ${expected}`);
  if (offset % BigInt(ALIGNMENT) !== 0n) throw new FormatError(file, `${at}.offset`, `'${name}' at ${offset} is not 64-byte aligned`);
  if (offset + size > BigInt(dataLength)) {
    throw new FormatError(file, `${at}.offset`, `'${name}' [${offset}, ${offset + size}) runs past the ${dataLength}-byte data section`);
  }
  // Every dim is now bounded: the product equals size·blockSize/blockBytes ≤ file size, unless a dim is 0.
  if (dims.some((d) => d > BigInt(Number.MAX_SAFE_INTEGER))) throw new FormatError(file, `${at}.dims`, `'${name}': dimension too large`);
  return { entry: { name, dtype, shape: dims.map(Number), offset: Number(offset), size: Number(size) }, nameBytes };
}

/** Tensors with bytes must not share any; a zero-size tensor occupies nothing and may sit anywhere in range. */
function checkOverlaps(file: string, entries: readonly AprIndexEntry[]): void {
  const order = entries
    .map((e, i) => i)
    .filter((i) => (entries[i] as AprIndexEntry).size > 0)
    .sort((a, b) => (entries[a] as AprIndexEntry).offset - (entries[b] as AprIndexEntry).offset);
  for (let k = 1; k < order.length; k++) {
    const prev = entries[order[k - 1] as number] as AprIndexEntry;
    const cur = entries[order[k] as number] as AprIndexEntry;
    if (cur.offset < prev.offset + prev.size) {
      throw new FormatError(file, `index[${order[k]}].offset`, `'${cur.name}' overlaps '${prev.name}' (index[${order[k - 1]}])`);
    }
  }
}

/** Parses the tensor index: sorted unique names, known dtypes, sizes matching shapes, aligned in-bounds ranges. */
export function parseIndex(src: ByteSource, header: AprHeader): { entries: AprIndexEntry[]; dataLength: number } {
  const dataLength = src.size - FOOTER_SIZE - header.dataOffset;
  const c = new IndexCursor(src.name, src.read(header.tensorIndexOffset, header.dataOffset - header.tensorIndexOffset));
  const entries: AprIndexEntry[] = [];
  let prevName: Uint8Array | undefined;
  for (let i = 0; i < header.tensorCount; i++) {
    const { entry, nameBytes } = readEntry(c, src.name, i, dataLength);
    if (prevName !== undefined) {
      const cmp = compareNameBytes(prevName, nameBytes);
      if (cmp === 0) throw new FormatError(src.name, `index[${i}].name`, `duplicate tensor name '${entry.name}'`);
      if (cmp > 0) throw new FormatError(src.name, `index[${i}].name`, `'${entry.name}' is out of order (the index must be sorted by name)`);
    }
    prevName = nameBytes;
    entries.push(entry);
  }
  checkOverlaps(src.name, entries);
  return { entries, dataLength };
}

/** Header, metadata and index, with every structural check; does not read the tensor data. */
export function parseLayout(src: ByteSource): AprLayout {
  const header = parseHeader(src);
  const metadata = parseMetadata(src, header);
  const { entries, dataLength } = parseIndex(src, header);
  return { header, metadata, entries, dataLength };
}

const FOOTER_CHUNK = 4 << 20;

/** The CRC stored in the last 4 bytes. */
export function storedFooter(src: ByteSource): number {
  const footer = src.read(src.size - FOOTER_SIZE, FOOTER_SIZE);
  return new DataView(footer.buffer, footer.byteOffset, FOOTER_SIZE).getUint32(0, true);
}

/**
 * The stored footer CRC and the CRC of all preceding bytes, computed in one sequential pass in
 * `chunkSize` pieces (memory stays at one chunk whatever the file size).
 */
export function computeFooter(src: ByteSource, chunkSize = FOOTER_CHUNK): { stored: number; computed: number } {
  if (!(chunkSize >= 1)) throw new RangeError(`chunk size ${chunkSize}`);
  const end = src.size - FOOTER_SIZE;
  const stored = storedFooter(src);
  const crc = new Crc32();
  const chunk = new Uint8Array(Math.min(chunkSize, end));
  for (let pos = 0; pos < end; pos += chunk.byteLength) {
    const piece = end - pos < chunk.byteLength ? chunk.subarray(0, end - pos) : chunk;
    src.readInto(piece, pos);
    crc.update(piece);
  }
  return { stored, computed: crc.digest() };
}

export function verifyFooter(src: ByteSource, chunkSize = FOOTER_CHUNK): number {
  const { stored, computed } = computeFooter(src, chunkSize);
  if (stored !== computed) throw new FormatError(src.name, 'footer.crc', `stored ${hex(stored)}, computed ${hex(computed)} over bytes [0, ${src.size - FOOTER_SIZE})`);
  return stored;
}

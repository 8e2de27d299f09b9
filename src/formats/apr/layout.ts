import { defineContract } from '../../contract/index.js';
import { DTYPES, type DType, tensorHeaderBytes } from '../../tensor/dtype.js';
import { crc32 } from '../../tensor/crc32.js';

/**
 * APR v2 byte layout (aprender's `format/v2`), little-endian:
 *
 *   0  magic "APR\0"        4  version major u8, minor u8   6  flags u16         8  tensor_count u32
 *   12 metadata_offset u64  20 metadata_size u32            24 tensor_index_offset u64
 *   32 data_offset u64      40 header CRC32 over [0,40) ++ [44,64)                 44 reserved (20 zero bytes)
 *
 * then the metadata JSON (metadata_size bytes, zero-padded to a multiple of 64), the tensor index (zero-padded
 * to 64), the tensor data (each tensor at a 64-aligned offset, zero-padded to 64) and a u32 CRC32 of all
 * preceding bytes.
 */
export const MAGIC = Uint8Array.of(0x41, 0x50, 0x52, 0x00);
export const VERSION_MAJOR = 2;
export const VERSION_MINOR = 0;
export const HEADER_SIZE = 64;
export const FOOTER_SIZE = 4;
export const ALIGNMENT = 64;
/** aprender truncates longer names; the writer refuses them instead. */
export const MAX_NAME_BYTES = 256;
/** aprender writes at most 8 dims. */
export const MAX_NDIM = 8;
/** name_len u16 + dtype u8 + ndim u8 + offset u64 + size u64 (an entry with an empty name and no dims). */
export const MIN_INDEX_ENTRY = 2 + 1 + 1 + 8 + 8;

export const FLAGS = {
  LZ4_COMPRESSED: 1 << 0,
  ZSTD_COMPRESSED: 1 << 1,
  ENCRYPTED: 1 << 2,
  SIGNED: 1 << 3,
  SHARDED: 1 << 4,
  QUANTIZED: 1 << 5,
  HAS_FILTERBANK: 1 << 6,
  HAS_MODEL_CARD: 1 << 7,
  STREAMING: 1 << 8,
  HAS_VOCAB: 1 << 9,
  LAYOUT_ROW_MAJOR: 1 << 10,
  LAYOUT_COLUMN_MAJOR: 1 << 11,
} as const;

export type AprFlag = keyof typeof FLAGS;

/** Flags that change how the bytes must be read (compression, encryption, a signature block, shards). */
export const UNSUPPORTED_FLAGS: readonly AprFlag[] = ['LZ4_COMPRESSED', 'ZSTD_COMPRESSED', 'ENCRYPTED', 'SIGNED', 'SHARDED'];

export function flagNames(flags: number): string[] {
  const names: string[] = (Object.keys(FLAGS) as AprFlag[]).filter((k) => (flags & FLAGS[k]) !== 0);
  for (let bit = 12; bit < 16; bit++) if (flags & (1 << bit)) names.push(`bit${bit}`);
  return names;
}

export interface AprHeader {
  version: { major: number; minor: number };
  flags: number;
  flagNames: string[];
  tensorCount: number;
  metadataOffset: number;
  metadataSize: number;
  tensorIndexOffset: number;
  dataOffset: number;
  /** The stored header CRC (already checked against the computed one when the header came from a reader). */
  headerCrc: number;
}

/** The header as stored: 64-bit fields stay bigint until they are checked against the file size. */
export interface RawHeader {
  magic: Uint8Array;
  major: number;
  minor: number;
  flags: number;
  tensorCount: number;
  metadataOffset: bigint;
  metadataSize: number;
  tensorIndexOffset: bigint;
  dataOffset: bigint;
  headerCrc: number;
}

export interface AprIndexEntry {
  name: string;
  dtype: DType;
  shape: number[];
  /** Relative to data_offset. */
  offset: number;
  size: number;
}

export function align64(n: number): number {
  return align64Contract.run(n, () => Math.ceil(n / ALIGNMENT) * ALIGNMENT);
}

export const align64Contract = defineContract<number, number>({
  id: 'tensor-layout-v1',
  equation: 'apr_alignment',
  spec: 'align64(n) = ceil(n/64)·64, the least multiple of 64 at or above n',
  pre: [['n is a safe non-negative integer', (n) => Number.isSafeInteger(n) && n >= 0 && n <= 2 ** 53 - 64]],
  post: [['least multiple of 64 at or above n', (n, a) => a % 64 === 0 && a >= n && a < n + 64]],
});

/** CRC32 of the header with the checksum field (bytes 40..44) left out. */
export function headerCrc(header: Uint8Array): number {
  return crc32(header.subarray(44, HEADER_SIZE), crc32(header.subarray(0, 40)));
}

export function decodeHeader(bytes: Uint8Array): RawHeader {
  const v = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE);
  return {
    magic: bytes.slice(0, 4),
    major: v.getUint8(4),
    minor: v.getUint8(5),
    flags: v.getUint16(6, true),
    tensorCount: v.getUint32(8, true),
    metadataOffset: v.getBigUint64(12, true),
    metadataSize: v.getUint32(20, true),
    tensorIndexOffset: v.getBigUint64(24, true),
    dataOffset: v.getBigUint64(32, true),
    headerCrc: v.getUint32(40, true),
  };
}

/** Encodes a header and fills in its CRC. */
export function encodeHeader(h: Omit<AprHeader, 'headerCrc' | 'flagNames'>): Uint8Array {
  const bytes = new Uint8Array(HEADER_SIZE);
  const v = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  v.setUint8(4, h.version.major);
  v.setUint8(5, h.version.minor);
  v.setUint16(6, h.flags, true);
  v.setUint32(8, h.tensorCount, true);
  v.setBigUint64(12, BigInt(h.metadataOffset), true);
  v.setUint32(20, h.metadataSize, true);
  v.setBigUint64(24, BigInt(h.tensorIndexOffset), true);
  v.setBigUint64(32, BigInt(h.dataOffset), true);
  v.setUint32(40, headerCrc(bytes), true);
  return bytes;
}

const utf8 = new TextEncoder();

/** Tensor index entries are sorted by the bytes of their UTF-8 names (Rust's `String` order). */
export function compareNameBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export function compareNames(a: string, b: string): number {
  return compareNameBytes(utf8.encode(a), utf8.encode(b));
}

export function encodeIndexEntry(e: AprIndexEntry): Uint8Array {
  const name = utf8.encode(e.name);
  const bytes = new Uint8Array(2 + name.byteLength + 2 + 8 * e.shape.length + 16);
  const v = new DataView(bytes.buffer);
  v.setUint16(0, name.byteLength, true);
  bytes.set(name, 2);
  let p = 2 + name.byteLength;
  v.setUint8(p++, DTYPES[e.dtype].id);
  v.setUint8(p++, e.shape.length);
  for (const d of e.shape) {
    v.setBigUint64(p, BigInt(d), true);
    p += 8;
  }
  v.setBigUint64(p, BigInt(e.offset), true);
  v.setBigUint64(p + 8, BigInt(e.size), true);
  return bytes;
}

/**
 * Bytes a tensor of `dims` needs in `dtype`, in bigint so that hostile dims cannot overflow; a string says
 * why the dims are impossible (innermost dimension not a multiple of the block size).
 */
export function byteSizeBig(dtype: DType, dims: readonly bigint[]): bigint | string {
  const { blockSize, blockBytes } = DTYPES[dtype];
  const inner = dims.length === 0 ? 1n : (dims[dims.length - 1] ?? 1n);
  if (inner % BigInt(blockSize) !== 0n) return `innermost dimension ${inner} is not a multiple of the ${dtype} block size ${blockSize}`;
  let n = 1n;
  for (const d of dims) n *= d;
  return (n / BigInt(blockSize)) * BigInt(blockBytes) + BigInt(tensorHeaderBytes(dtype));
}

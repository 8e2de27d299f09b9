import { type DType, DTYPES, byteSize } from '../../tensor/dtype.js';
import { writeAtomically } from '../atomic-write.js';
import { GGML_MAX_DIMS, GGUF_DEFAULT_ALIGNMENT, GGUF_MAGIC, GGUF_TYPE_IDS, type GgufArray, type GgufType, type GgufValue, SCALAR_BYTES } from './types.js';

/** A tensor to write: GGUF name, type, dims in GGUF order (ne[0] innermost) and its bytes on demand. */
export interface GgufTensorInput {
  name: string;
  ggmlType: DType;
  dims: readonly number[];
  read(): Uint8Array;
}

const INT_RANGES: Partial<Record<GgufType, [number, number]>> = {
  u8: [0, 0xff],
  i8: [-0x80, 0x7f],
  u16: [0, 0xffff],
  i16: [-0x8000, 0x7fff],
  u32: [0, 0xffffffff],
  i32: [-0x80000000, 0x7fffffff],
};

type ScalarWrite = (w: DataView, o: number, v: number | bigint | boolean) => void;

/** Little-endian writers of the scalar types; SCALAR_BYTES gives each one's width. */
const SCALAR_WRITERS: Partial<Record<GgufType, ScalarWrite>> = {
  u8: (w, o, v) => w.setUint8(o, Number(v)),
  i8: (w, o, v) => w.setInt8(o, Number(v)),
  bool: (w, o, v) => w.setUint8(o, v ? 1 : 0),
  u16: (w, o, v) => w.setUint16(o, Number(v), true),
  i16: (w, o, v) => w.setInt16(o, Number(v), true),
  u32: (w, o, v) => w.setUint32(o, Number(v), true),
  i32: (w, o, v) => w.setInt32(o, Number(v), true),
  f32: (w, o, v) => w.setFloat32(o, Number(v), true),
  f64: (w, o, v) => w.setFloat64(o, Number(v), true),
  u64: (w, o, v) => w.setBigUint64(o, BigInt(v), true),
  i64: (w, o, v) => w.setBigInt64(o, BigInt(v), true),
};

/** Integer types up to 32 bits take only integers in their range (DataView would wrap them silently). */
function checkIntRange(t: GgufType, v: number | bigint | boolean, key: string): void {
  const range = INT_RANGES[t];
  if (range && (typeof v !== 'number' || !Number.isInteger(v) || v < range[0] || v > range[1])) throw new RangeError(`GGUF key '${key}': ${String(v)} is not a valid ${t}`);
}

/** A growable little-endian byte buffer for the header. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): DataView {
    if (this.length + n > this.buf.byteLength) {
      const next = new Uint8Array(Math.max(this.buf.byteLength * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    return this.view;
  }

  u32(v: number): void {
    this.reserve(4).setUint32(this.length, v, true);
    this.length += 4;
  }

  u64(v: number | bigint): void {
    this.reserve(8).setBigUint64(this.length, BigInt(v), true);
    this.length += 8;
  }

  scalar(t: GgufType, v: number | bigint | boolean, key: string): void {
    checkIntRange(t, v, key);
    const write = SCALAR_WRITERS[t];
    const size = SCALAR_BYTES[t];
    // Stryker disable next-line LogicalOperator: SCALAR_WRITERS and SCALAR_BYTES cover the same types, so both are undefined together.
    if (!write || size === undefined) throw new RangeError(`GGUF key '${key}': ${t} is not a scalar type`);
    write(this.reserve(8), this.length, v);
    this.length += size;
  }

  string(s: string): void {
    const b = new TextEncoder().encode(s);
    this.u64(b.byteLength);
    this.bytes(b);
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.byteLength);
    this.buf.set(b, this.length);
    this.length += b.byteLength;
  }

  padTo(alignment: number): void {
    const pad = (alignment - (this.length % alignment)) % alignment;
    this.bytes(new Uint8Array(pad));
  }

  result(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

function writeArray(w: ByteWriter, a: GgufArray, key: string): void {
  w.u32(GGUF_TYPE_IDS[a.itemType]);
  w.u64(a.value.length);
  for (const item of a.value) {
    if (typeof item === 'string') w.string(item);
    else if (typeof item === 'object') writeArray(w, item, key);
    else w.scalar(a.itemType, item, key);
  }
}

function writeValue(w: ByteWriter, v: GgufValue, key: string): void {
  w.u32(GGUF_TYPE_IDS[v.type]);
  if (v.type === 'array') writeArray(w, v, key);
  else if (v.type === 'string') w.string(v.value);
  else w.scalar(v.type, v.value, key);
}

function alignmentFrom(kv: ReadonlyMap<string, GgufValue>): number {
  const a = kv.get('general.alignment');
  if (a === undefined) return GGUF_DEFAULT_ALIGNMENT;
  if (a.type !== 'u32' || a.value === 0 || (a.value & (a.value - 1)) !== 0) throw new RangeError(`GGUF key 'general.alignment': must be a u32 power of two`);
  return a.value;
}

function tensorBytes(t: GgufTensorInput): number {
  if (new TextEncoder().encode(t.name).byteLength > 63) throw new RangeError(`GGUF tensor '${t.name}': name longer than ggml's 63-byte limit`);
  if (t.dims.length > GGML_MAX_DIMS) throw new RangeError(`GGUF tensor '${t.name}': ${t.dims.length} dimensions (at most ${GGML_MAX_DIMS})`);
  if (DTYPES[t.ggmlType].id >= 128) throw new RangeError(`GGUF tensor '${t.name}': ${t.ggmlType} is not a ggml type`);
  return byteSize(t.ggmlType, [...t.dims].reverse());
}

/** The header bytes (preamble, KV pairs, tensor infos, padding) and each tensor's byte length. */
export function encodeGgufHeader(kv: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensorInput[]): { header: Uint8Array; sizes: number[]; alignment: number } {
  const alignment = alignmentFrom(kv);
  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(3);
  w.u64(tensors.length);
  w.u64(kv.size);
  for (const [key, value] of kv) {
    w.string(key);
    writeValue(w, value, key);
  }
  const sizes: number[] = [];
  let offset = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    if (names.has(t.name)) throw new RangeError(`GGUF tensor '${t.name}': duplicate name`);
    names.add(t.name);
    const size = tensorBytes(t);
    sizes.push(size);
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(DTYPES[t.ggmlType].id);
    w.u64(offset);
    offset += Math.ceil(size / alignment) * alignment;
  }
  w.padTo(alignment);
  return { header: w.result(), sizes, alignment };
}

/**
 * Writes a GGUF v3 file: header first, then each tensor's bytes (read one at a time) padded to the
 * alignment (`general.alignment`, default 32), through a temporary file renamed into place.
 */
export function writeGguf(path: string, kv: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensorInput[]): void {
  const { header, sizes, alignment } = encodeGgufHeader(kv, tensors);
  writeAtomically(path, (file) => {
    file.write(header);
    tensors.forEach((t, i) => {
      const bytes = t.read();
      const size = sizes[i] ?? 0;
      if (bytes.byteLength !== size) throw new RangeError(`GGUF tensor '${t.name}': got ${bytes.byteLength} bytes, ${t.ggmlType}[${t.dims.join(', ')}] needs ${size}`);
      file.write(bytes);
      const pad = (alignment - (size % alignment)) % alignment;
      // Stryker disable next-line ConditionalExpression: writing an empty padding array writes nothing.
      if (pad) file.write(new Uint8Array(pad));
    });
  });
}

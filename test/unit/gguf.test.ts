import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/errors.js';
import { encodeGgufHeader, parseGguf, readGguf, writeGguf, type GgufValue } from '../../src/formats/gguf/index.js';
import { dequantize } from '../../src/tensor/codecs/index.js';
import { GgufBytes, tinyGguf } from './gguf-bytes.js';

const dir = mkdtempSync(join(tmpdir(), 'apr-gguf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function patched(bytes: Uint8Array, at: number, write: (dv: DataView) => void): Uint8Array {
  const copy = bytes.slice();
  write(new DataView(copy.buffer, at));
  return copy;
}

function formatError(bytes: Uint8Array): FormatError {
  try {
    parseGguf(bytes, 'bad.gguf');
  } catch (err) {
    if (err instanceof FormatError) return err;
    throw err;
  }
  throw new Error('parsed without error');
}

describe('GGUF reader on a hand-built file', () => {
  const { bytes, layout } = tinyGguf();

  it('reads every field as laid out', () => {
    const f = parseGguf(bytes);
    expect(f.version).toBe(3);
    expect(f.alignment).toBe(32);
    expect(f.dataOffset).toBe(layout.dataOffset);
    expect(f.kv.get('general.architecture')).toEqual({ type: 'string', value: 'llama' });
    expect(f.kv.get('test.count')).toEqual({ type: 'u32', value: 7 });
    expect(f.kv.get('test.words')).toEqual({ type: 'array', itemType: 'string', value: ['x', 'yz', ''] });
    expect(f.kv.get('test.nested')).toEqual({
      type: 'array', itemType: 'array',
      value: [{ type: 'array', itemType: 'i32', value: [-1] }, { type: 'array', itemType: 'i32', value: [] }],
    });
    expect(f.tensors.map((t) => [t.name, t.ggmlType, t.dims, t.offset, t.byteLength])).toEqual([
      ['a', 'F32', [4, 2], 0, 32],
      ['b', 'Q8_0', [32], 32, 34],
    ]);
    const b = f.tensors[1]!;
    expect(Array.from(dequantize('Q8_0', f.read(b), 32))).toEqual(Array.from({ length: 32 }, (_, i) => i - 16));
    expect(Array.from(new Float32Array(f.read(f.tensors[0]!).buffer))).toEqual([0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5]);
  });

  it('the writer emits the same bytes for the same content', () => {
    const f = parseGguf(bytes);
    const tensors = f.tensors.map((t) => ({ name: t.name, ggmlType: t.ggmlType, dims: t.dims, read: () => f.read(t) }));
    const path = join(dir, 'tiny.gguf');
    writeGguf(path, f.kv, tensors);
    expect(Buffer.compare(readFileSync(path), Buffer.from(bytes))).toBe(0);
  });

  const rejections: [string, Uint8Array, RegExp][] = [
    ['bad magic', patched(bytes, 0, (d) => d.setUint32(0, 0x46554746, true)), /magic/],
    ['version 1', patched(bytes, 4, (d) => d.setUint32(0, 1, true)), /version: GGUF v1/],
    ['version 4', patched(bytes, 4, (d) => d.setUint32(0, 4, true)), /version: unsupported version 4/],
    ['big-endian version', patched(bytes, 4, (d) => d.setUint32(0, 3, false)), /big-endian/],
    ['tensor count beyond the file', patched(bytes, layout.tensorCount, (d) => d.setBigUint64(0, 1n << 40n, true)), /tensor_count: tensor count/],
    ['kv count beyond the file', patched(bytes, layout.kvCount, (d) => d.setBigUint64(0, 0xffffffffffffffffn, true)), /kv_count/],
    ['string length beyond the file', patched(bytes, layout.firstKeyLength, (d) => d.setBigUint64(0, 1n << 62n, true)), /kv\[0\]\.key: string length/],
    ['array count beyond the file', patched(bytes, layout.arrayCount, (d) => d.setBigUint64(0, 1n << 33n, true)), /test\.words\.count: array count/],
    ['unknown tensor type', patched(bytes, layout.secondTensorType, (d) => d.setUint32(0, 99, true)), /tensor 'b'\.type: unknown/],
    ['misaligned tensor offset', patched(bytes, layout.secondTensorOffset, (d) => d.setBigUint64(0, 48n, true)), /tensor 'b'\.offset: 48 is not a multiple/],
    ['overlapping tensors', patched(bytes, layout.secondTensorOffset, (d) => d.setBigUint64(0, 0n, true)), /overlaps tensor/],
    ['tensor data past the end', bytes.slice(0, layout.dataOffset + 60), /tensor 'b'\.data: runs to byte/],
    ['truncated header', bytes.slice(0, layout.arrayCount + 4), /test\.words\.count: needs 8 bytes/],
  ];
  for (const [what, bad, message] of rejections) {
    it(`rejects ${what} with a FormatError naming the field`, () => {
      const err = formatError(bad);
      expect(err.file).toBe('bad.gguf');
      expect(err.message).toMatch(message);
    });
  }

  it('rejects duplicate keys, unknown value types, bad bools, too many dims and a bad alignment', () => {
    const head = (n: number): GgufBytes => new GgufBytes().u32(0x46554747).u32(3).u64(0).u64(n);
    expect(formatError(head(2).str('k').u32(4).u32(1).str('k').u32(4).u32(2).bytes()).message).toMatch(/k: duplicate metadata key/);
    expect(formatError(head(1).str('k').u32(13).u32(1).bytes()).message).toMatch(/k\.type: unknown value type 13/);
    expect(formatError(head(1).str('k').u32(7).u8(2).bytes()).message).toMatch(/bool value 2/);
    expect(formatError(head(1).str('general.alignment').u32(4).u32(24).bytes()).message).toMatch(/general\.alignment: 24 is not a power of two/);
    expect(formatError(head(1).str('general.alignment').u32(10).u64(32).bytes()).message).toMatch(/general\.alignment: expected type u32/);
    const dims5 = new GgufBytes().u32(0x46554747).u32(3).u64(1).u64(0).str('t').u32(5).raw(new Uint8Array(64)).bytes();
    expect(formatError(dims5).message).toMatch(/tensor 't'\.n_dims: 5 dimensions/);
    const deep = head(1).str('k').u32(9);
    for (let i = 0; i < 12; i++) deep.u32(9).u64(1);
    deep.raw(new Uint8Array(64));
    expect(formatError(deep.bytes()).message).toMatch(/nested deeper/);
    const rows = new GgufBytes().u32(0x46554747).u32(3).u64(1).u64(0).str('t').u32(1).u64(33).u32(8).u64(0).raw(new Uint8Array(64)).bytes();
    expect(formatError(rows).message).toMatch(/tensor 't'\.ne\[0\]: 33 is not a multiple of the Q8_0 block size 32/);
  });

  it('reports a missing file as a FormatError', () => {
    expect(() => readGguf(join(dir, 'nope.gguf'))).toThrow(FormatError);
  });
});

describe('GGUF writer → reader round trip', () => {
  const kv = new Map<string, GgufValue>([
    ['general.alignment', { type: 'u32', value: 64 }],
    ['v.u8', { type: 'u8', value: 255 }],
    ['v.i8', { type: 'i8', value: -128 }],
    ['v.u16', { type: 'u16', value: 65535 }],
    ['v.i16', { type: 'i16', value: -32768 }],
    ['v.u32', { type: 'u32', value: 4294967295 }],
    ['v.i32', { type: 'i32', value: -2147483648 }],
    ['v.f32', { type: 'f32', value: Math.fround(0.1) }],
    ['v.f64', { type: 'f64', value: 0.1 }],
    ['v.bool', { type: 'bool', value: true }],
    ['v.string', { type: 'string', value: 'héllo ✓ 🙂' }],
    ['v.u64', { type: 'u64', value: (1n << 64n) - 1n }],
    ['v.i64', { type: 'i64', value: -(1n << 63n) }],
    ['v.arr.bool', { type: 'array', itemType: 'bool', value: [true, false] }],
    ['v.arr.u64', { type: 'array', itemType: 'u64', value: [0n, 1n << 60n] }],
    ['v.arr.f32', { type: 'array', itemType: 'f32', value: [1.5, -2] }],
    ['v.arr.empty', { type: 'array', itemType: 'u8', value: [] }],
    ['v.arr.nested', { type: 'array', itemType: 'array', value: [{ type: 'array', itemType: 'string', value: ['a'] }, { type: 'array', itemType: 'array', value: [{ type: 'array', itemType: 'i16', value: [-3] }] }] }],
  ]);
  const data = (n: number, salt: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + salt) & 0xff);
  const tensors = [
    { name: 'f32', ggmlType: 'F32' as const, dims: [3, 5], bytes: data(60, 1) },
    { name: 'f16', ggmlType: 'F16' as const, dims: [7], bytes: data(14, 2) },
    { name: 'q4k', ggmlType: 'Q4_K' as const, dims: [256, 2], bytes: data(288, 3) },
    { name: 'q6k', ggmlType: 'Q6_K' as const, dims: [256, 1, 1, 2], bytes: data(420, 4) },
  ];

  it('preserves every value type, the alignment and every tensor byte', () => {
    const path = join(dir, 'all-types.gguf');
    writeGguf(path, kv, tensors.map((t) => ({ ...t, read: () => t.bytes })));
    const f = readGguf(path);
    try {
      expect(f.kv).toEqual(kv);
      expect([...f.kv.keys()]).toEqual([...kv.keys()]);
      expect(f.alignment).toBe(64);
      expect(f.dataOffset % 64).toBe(0);
      for (const [i, t] of f.tensors.entries()) {
        const src = tensors[i]!;
        expect([t.name, t.ggmlType, t.dims]).toEqual([src.name, src.ggmlType, src.dims]);
        expect(t.offset % 64).toBe(0);
        expect(Buffer.from(f.read(t)).equals(Buffer.from(src.bytes))).toBe(true);
      }
    } finally {
      f.close();
    }
  });

  it('rejects values that do not fit their type, and wrong tensor sizes, leaving no file', () => {
    expect(() => encodeGgufHeader(new Map([['k', { type: 'u8', value: 256 }]]), [])).toThrow(/'k': 256 is not a valid u8/);
    const path = join(dir, 'wrong-size.gguf');
    expect(() => writeGguf(path, new Map(), [{ name: 't', ggmlType: 'F32', dims: [4], read: () => new Uint8Array(12) }])).toThrow(/needs 16/);
    expect(() => readFileSync(path)).toThrow();
  });

  it('reads a file written with an explicit alignment even when truncated padding follows the last tensor', () => {
    const { bytes } = tinyGguf();
    const path = join(dir, 'unpadded.gguf');
    writeFileSync(path, bytes.subarray(0, bytes.byteLength - 30));
    const f = readGguf(path);
    expect(f.read(f.tensors[1]!).byteLength).toBe(34);
    f.close();
  });
});

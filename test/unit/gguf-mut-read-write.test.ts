import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/errors.js';
import { encodeGgufHeader, parseGguf, readGguf, writeGguf, type GgufValue } from '../../src/formats/gguf/index.js';
import { ggufTypeString, ggufValueFromJson, ggufValueToJson } from '../../src/formats/gguf/json-values.js';
import type { GgufTensorInput } from '../../src/formats/gguf/write.js';
import { GgufBytes, tinyGguf } from './gguf-bytes.js';

const dir = mkdtempSync(join(tmpdir(), 'apr-gguf-mut-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const MAGIC = 0x46554747;

/** The full message of the FormatError that parsing `bytes` throws. */
function failure(bytes: Uint8Array, file: string | null = 'bad.gguf'): string {
  try {
    if (file === null) parseGguf(bytes);
    else parseGguf(bytes, file);
  } catch (err) {
    if (err instanceof FormatError) return err.message;
    throw err;
  }
  throw new Error('parsed without error');
}

const head = (nTensors: number, nKv: number): GgufBytes => new GgufBytes().u32(MAGIC).u32(3).u64(nTensors).u64(nKv);
const patchU32 = (bytes: Uint8Array, at: number, v: number): Uint8Array => {
  const c = bytes.slice();
  new DataView(c.buffer).setUint32(at, v, true);
  return c;
};
const NAME40 = 'n'.repeat(40);

describe('GGUF reader: every malformed-input error names the file and the field exactly', () => {
  const { bytes, layout } = tinyGguf();

  it('magic, version and the default file name', () => {
    expect(failure(patchU32(bytes, 0, 0x46554746))).toBe('bad.gguf: magic: expected "GGUF", got 0x46554746');
    expect(failure(patchU32(bytes, 0, 0x12), null)).toBe('<buffer>: magic: expected "GGUF", got 0x00000012');
    expect(failure(patchU32(bytes, 4, 4))).toBe('bad.gguf: version: unsupported version 4 (v2 and v3 are)');
    expect(failure(patchU32(bytes, 4, 0xffff))).toBe('bad.gguf: version: unsupported version 65535 (v2 and v3 are)');
    expect(failure(patchU32(bytes, 4, 0x10000))).toBe('bad.gguf: version: unsupported version 65536 (big-endian file?) (v2 and v3 are)');
  });

  it('a string length that leaves no room for what follows is rejected before reading', () => {
    // 0 tensors, 1 KV: the key length field sits at 24 and 12 bytes follow it, so a key may be at most 12 bytes.
    const g = head(0, 1).u64(0).raw([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const b = g.bytes();
    new DataView(b.buffer).setBigUint64(24, 13n, true);
    expect(failure(b)).toBe('bad.gguf: kv[0].key: string length 13 at offset 24 exceeds the 12 the rest of the file can hold');
  });

  it('truncation inside a tensor info names n_dims and ne[d]', () => {
    const nd = head(1, 0).str(NAME40).u32(2).u64(4).bytes();
    expect(failure(nd.slice(0, 74))).toBe(`bad.gguf: tensor '${NAME40}'.n_dims: needs 4 bytes at offset 72 but the file has 2 left`);
    expect(failure(nd.slice(0, 80))).toBe(`bad.gguf: tensor '${NAME40}'.ne[0]: needs 8 bytes at offset 76 but the file has 4 left`);
  });

  it('a dimension beyond 2^53, an element count beyond 2^53 and a 64-byte name', () => {
    const pad = new Uint8Array(64);
    expect(failure(head(1, 0).str('t').u32(1).u64(1n << 53n).raw(pad).bytes())).toBe("bad.gguf: tensor 't'.ne[0]: dimension 9007199254740992 is too large");
    expect(failure(head(1, 0).str('t').u32(2).u64(1n << 30n).u64(1n << 30n).raw(pad).bytes())).toBe("bad.gguf: tensor 't'.dims: element count overflows");
    const long = 'x'.repeat(64);
    expect(failure(head(1, 0).str(long).u32(1).u64(1).u32(0).u64(0).raw(pad).bytes())).toBe(`bad.gguf: tensor '${long}'.name: name longer than 63 bytes`);
  });

  it('overlap, data past the end and a duplicate name', () => {
    const over = bytes.slice();
    new DataView(over.buffer).setBigUint64(layout.secondTensorOffset, 0n, true);
    expect(failure(over)).toBe("bad.gguf: tensor 'b'.offset: overlaps tensor 'a'");
    // b ends at data offset + 32 + 34.
    const cut = layout.dataOffset + 60;
    expect(failure(bytes.slice(0, cut))).toBe(`bad.gguf: tensor 'b'.data: runs to byte ${layout.dataOffset + 66}, past the end of the ${cut}-byte file`);
    const dup = head(2, 0).str('a').u32(1).u64(8).u32(0).u64(0).str('a').u32(1).u64(8).u32(0).u64(32).padTo(32).raw(new Uint8Array(64)).bytes();
    expect(failure(dup)).toBe("bad.gguf: tensor 'a': duplicate tensor name");
  });

  it('array element errors name the element; string arrays need at least 8 bytes an element', () => {
    // array<string> with 40 bytes after the count: at most floor(40 / 8) = 5 strings fit.
    const s = head(0, 1).str('k').u32(9).u32(8).u64(1000).raw(new Uint8Array(40)).bytes();
    const at = s.byteLength - 48;
    expect(failure(s)).toBe(`bad.gguf: k.count: array count 1000 at offset ${at} exceeds the 5 the rest of the file can hold`);
    const boolArr = head(0, 1).str('k').u32(9).u32(7).u64(3).raw([1, 2, 0]).raw(new Uint8Array(8)).bytes();
    expect(failure(boolArr)).toBe('bad.gguf: k[1]: bool value 2 is neither 0 nor 1');
    const nested = head(0, 1).str('k').u32(9).u32(9).u64(1);
    const typeAt = nested.length;
    nested.u32(13).raw(new Uint8Array(16));
    expect(failure(nested.bytes())).toBe(`bad.gguf: k[0].type: unknown value type 13 at offset ${typeAt}`);
  });

  it('little-endian u16 and 64-bit integer arrays read element by element', () => {
    const g = head(0, 3).str('u16').u32(2).raw([0x02, 0x01]);
    g.str('i64s').u32(9).u32(11).u64(2).u64(-1n).u64(5n);
    g.str('u64s').u32(9).u32(10).u64(2).u64(7n).u64((1n << 64n) - 2n);
    const f = parseGguf(g.raw(new Uint8Array(8)).bytes());
    expect(f.kv.get('u16')).toEqual({ type: 'u16', value: 0x0102 });
    expect(f.kv.get('i64s')).toEqual({ type: 'array', itemType: 'i64', value: [-1n, 5n] });
    expect(f.kv.get('u64s')).toEqual({ type: 'array', itemType: 'u64', value: [7n, (1n << 64n) - 2n] });
  });

  it('a header larger than the 1 MiB read window parses the same across window boundaries', () => {
    const words = Array.from({ length: 17000 }, (_, i) => `w${String(i).padStart(62, '0')}`);
    const g = head(1, 2).str('big').u32(9).u32(8).u64(words.length);
    for (const w of words) g.str(w);
    g.str('after').u32(4).u32(0xdeadbeef);
    g.str('t').u32(1).u64(2).u32(0).u64(0).padTo(32);
    const dataOffset = g.length;
    g.f32(1.5).f32(-2);
    const big = g.bytes();
    expect(big.byteLength).toBeGreaterThan(1 << 20);
    const f = parseGguf(big);
    expect(f.kv.get('big')).toEqual({ type: 'array', itemType: 'string', value: words });
    expect(f.kv.get('after')).toEqual({ type: 'u32', value: 0xdeadbeef });
    expect([f.dataOffset, f.tensors[0]?.name, Array.from(new Float32Array(f.read(f.tensors[0]!).buffer))]).toEqual([dataOffset, 't', [1.5, -2]]);
  });

  it('close releases the file: reading after close fails', () => {
    const path = join(dir, 'close.gguf');
    writeGguf(path, new Map(), [{ name: 't', ggmlType: 'F32', dims: [2], read: () => new Uint8Array(8) }]);
    const f = readGguf(path);
    f.close();
    expect(() => f.read(f.tensors[0]!)).toThrow(/read after close/);
  });
});

describe('GGUF writer: layout and validation', () => {
  const enc = (kv: [string, GgufValue][], tensors: GgufTensorInput[] = []): Uint8Array => encodeGgufHeader(new Map(kv), tensors).header;
  const t = (name: string, dims: number[], ggmlType: GgufTensorInput['ggmlType'] = 'F32'): GgufTensorInput => ({ name, ggmlType, dims, read: () => new Uint8Array(0) });

  it('writes every field little-endian as the spec lays it out, padded to the alignment', () => {
    const got = enc([['a', { type: 'u16', value: 0x0102 }], ['b', { type: 'array', itemType: 'i16', value: [-2] }]], [t('w', [3, 2])]);
    const want = head(1, 2).str('a').u32(2).raw([0x02, 0x01]).str('b').u32(9).u32(3).u64(1).raw([0xfe, 0xff]);
    want.str('w').u32(2).u64(3).u64(2).u32(0).u64(0).padTo(32);
    expect(Buffer.from(got).equals(Buffer.from(want.bytes()))).toBe(true);
  });

  it('tensor offsets advance by each size rounded up to the alignment', () => {
    const kv: [string, GgufValue][] = [['general.alignment', { type: 'u32', value: 64 }]];
    const f = parseGguf(Uint8Array.from([...enc(kv, [t('a', [3]), t('b', [20]), t('c', [1])]), ...new Uint8Array(256)]));
    expect(f.tensors.map((x) => x.offset)).toEqual([0, 64, 192]);
    expect(f.dataOffset % 64).toBe(0);
  });

  it('grows its buffer for headers past 64 KiB and past twice that', () => {
    const s1 = 'a'.repeat(70000), s2 = 'b'.repeat(200000);
    const header = enc([['s1', { type: 'string', value: s1 }], ['s2', { type: 'string', value: s2 }], ['n', { type: 'u8', value: 9 }]]);
    const f = parseGguf(header);
    expect([f.kv.get('s1'), f.kv.get('s2'), f.kv.get('n')]).toEqual([{ type: 'string', value: s1 }, { type: 'string', value: s2 }, { type: 'u8', value: 9 }]);
  });

  it('rejects out-of-range integers, non-scalar item types and bad alignments with exact messages', () => {
    expect(() => enc([['k', { type: 'i8', value: 128 }]])).toThrow("GGUF key 'k': 128 is not a valid i8");
    expect(() => enc([['k', { type: 'u32', value: 1.5 }]])).toThrow("GGUF key 'k': 1.5 is not a valid u32");
    const bogus = { type: 'array', itemType: 'string', value: [1] } as unknown as GgufValue;
    expect(() => enc([['k', bogus]])).toThrow("GGUF key 'k': string is not a scalar type");
    const align = "GGUF key 'general.alignment': must be a u32 power of two";
    for (const a of [{ type: 'u32', value: 0 }, { type: 'u32', value: 24 }, { type: 'u64', value: 32n }] as GgufValue[]) {
      expect(() => enc([['general.alignment', a]])).toThrow(align);
    }
  });

  it('rejects bad tensor names, too many dims, non-ggml types and duplicates', () => {
    expect(enc([], [t('x'.repeat(63), [1])]).byteLength).toBeGreaterThan(0);
    expect(() => enc([], [t('x'.repeat(64), [1])])).toThrow(`GGUF tensor '${'x'.repeat(64)}': name longer than ggml's 63-byte limit`);
    expect(() => enc([], [t('d', [1, 1, 1, 1, 1])])).toThrow("GGUF tensor 'd': 5 dimensions (at most 4)");
    expect(() => enc([], [t('q', [32], 'APR_Q4')])).toThrow("GGUF tensor 'q': APR_Q4 is not a ggml type");
    expect(() => enc([], [t('a', [1]), t('a', [1])])).toThrow("GGUF tensor 'a': duplicate name");
  });

  it('names the tensor, its shape and the byte count on a size mismatch', () => {
    const path = join(dir, 'mismatch.gguf');
    expect(() => writeGguf(path, new Map(), [{ name: 't', ggmlType: 'F32', dims: [4, 2], read: () => new Uint8Array(12) }])).toThrow("GGUF tensor 't': got 12 bytes, F32[4, 2] needs 32");
    expect(() => readFileSync(path)).toThrow();
  });
});

describe('GGUF values ↔ JSON: boundaries and type strings', () => {
  it('64-bit integers become numbers exactly within ±(2^53 - 1)', () => {
    expect(ggufValueToJson({ type: 'u64', value: 9007199254740991n })).toBe(9007199254740991);
    expect(ggufValueToJson({ type: 'u64', value: 9007199254740992n })).toBe('9007199254740992');
    expect(ggufValueToJson({ type: 'i64', value: -9007199254740991n })).toBe(-9007199254740991);
    expect(ggufValueToJson({ type: 'i64', value: -9007199254740992n })).toBe('-9007199254740992');
  });

  it('type strings: an empty array of arrays, inferred bool/u32/i64/f32', () => {
    expect(ggufTypeString({ type: 'array', itemType: 'array', value: [] })).toBe('array<array<u8>>');
    expect(ggufValueFromJson(true)).toEqual({ type: 'bool', value: true });
    expect(ggufValueFromJson(0)).toEqual({ type: 'u32', value: 0 });
    expect(ggufValueFromJson(4294967295)).toEqual({ type: 'u32', value: 4294967295 });
    expect(ggufValueFromJson(4294967296)).toEqual({ type: 'i64', value: 4294967296n });
    expect(ggufValueFromJson(0.5)).toEqual({ type: 'f32', value: 0.5 });
  });

  it('values that do not fit their type are dropped, not coerced', () => {
    expect(ggufValueFromJson(1.5, 'u64')).toBeUndefined();
    expect(ggufValueFromJson('abc', 'u64')).toBeUndefined();
    expect(ggufValueFromJson('x12', 'i64')).toBeUndefined();
    expect(ggufValueFromJson('-12', 'i64')).toEqual({ type: 'i64', value: -12n });
    expect(ggufValueFromJson([5], 'array<string>')).toBeUndefined();
    expect(ggufValueFromJson('0.5', 'f32')).toBeUndefined();
    expect(ggufValueFromJson(0.5, 'f32')).toEqual({ type: 'f32', value: 0.5 });
    expect(ggufValueFromJson(0.5, 'u32')).toBeUndefined();
  });

  it('array type strings must match whole', () => {
    expect(ggufValueFromJson([[1]], 'array<array<i32>x>')).toBeUndefined();
    expect(ggufValueFromJson([[1]], 'array<xarray<i32>>')).toBeUndefined();
    expect(ggufValueFromJson([1], 'array<i32>x')).toBeUndefined();
    expect(ggufValueFromJson([1], 'xarray<i32>')).toBeUndefined();
    expect(ggufValueFromJson([[1]], 'array<array<i32>>')).toEqual({ type: 'array', itemType: 'array', value: [{ type: 'array', itemType: 'i32', value: [1] }] });
  });
});

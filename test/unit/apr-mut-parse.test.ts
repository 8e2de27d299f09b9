/**
 * APR v2 reader (src/formats/apr/parse.ts, read.ts, metadata.ts decodeMetadata) against files built here by
 * hand from the byte layout of docs/DESIGN.md: header 64 bytes (magic, version, flags u16 @6, tensor_count
 * u32 @8, metadata_offset u64 @12 = 64, metadata_size u32 @20, tensor_index_offset u64 @24, data_offset u64
 * @32, header CRC32 @40 over [0,40) ++ [44,64)), metadata JSON zero-padded to 64, index entries (name_len
 * u16, name, dtype u8, ndim u8, dims u64×ndim, offset u64, size u64) padded to 64, 64-aligned data, footer
 * CRC32 of all preceding bytes. Each malformed field must give one exact line `file: field: message`.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { type ByteSource, bufferSource, computeFooter, inspectApr, readAprFrom, verifyFooter } from '../../src/formats/apr/index.js';
import { decodeMetadata } from '../../src/formats/apr/metadata.js';
import { FormatError } from '../../src/formats/errors.js';

const F = 'f.apr';
const a64 = (n: number): number => Math.ceil(n / 64) * 64;
const crc = (b: Uint8Array): number => zlib.crc32(b) >>> 0;

function entry(name: string | Uint8Array, dtype: number, dims: (number | bigint)[], offset: number | bigint, size: number | bigint): Uint8Array {
  const nb = typeof name === 'string' ? Buffer.from(name, 'utf8') : name;
  const b = Buffer.alloc(2 + nb.length + 2 + 8 * dims.length + 16);
  b.writeUInt16LE(nb.length, 0);
  b.set(nb, 2);
  let p = 2 + nb.length;
  b[p++] = dtype;
  b[p++] = dims.length;
  for (const d of dims) p = b.writeBigUInt64LE(BigInt(d), p);
  b.writeBigUInt64LE(BigInt(offset), p);
  b.writeBigUInt64LE(BigInt(size), p + 8);
  return b;
}

const CONFIG = { architecture: 'llama', hidden_size: 64, num_layers: 1, num_heads: 4, vocab_size: 4, intermediate_size: 8 };

interface Spec {
  meta?: string;
  entries?: Uint8Array[];
  count?: number;
  /** Bytes of the index section (default: entries padded to 64). */
  indexLength?: number;
  data?: Uint8Array;
  flags?: number;
  patch?: (h: DataView) => void;
}

/** A file built from the spec; `patch` edits the header before its CRC is computed. */
function build(s: Spec = {}): Uint8Array {
  const meta = Buffer.from(s.meta ?? JSON.stringify(CONFIG), 'utf8');
  const index = Buffer.concat(s.entries ?? []);
  const indexLength = s.indexLength ?? a64(index.length);
  const data = s.data ?? new Uint8Array(0);
  const indexOffset = 64 + a64(meta.length);
  const dataOffset = indexOffset + indexLength;
  const out = new Uint8Array(dataOffset + data.length + 4);
  const h = new DataView(out.buffer);
  out.set([0x41, 0x50, 0x52, 0x00], 0);
  h.setUint8(4, 2);
  h.setUint16(6, s.flags ?? 1 << 10, true);
  h.setUint32(8, s.count ?? (s.entries ?? []).length, true);
  h.setBigUint64(12, 64n, true);
  h.setUint32(20, meta.length, true);
  h.setBigUint64(24, BigInt(indexOffset), true);
  h.setBigUint64(32, BigInt(dataOffset), true);
  out.set(meta, 64);
  out.set(index.subarray(0, indexLength), indexOffset);
  out.set(data, dataOffset);
  s.patch?.(h);
  h.setUint32(40, zlib.crc32(out.subarray(44, 64), zlib.crc32(out.subarray(0, 40))) >>> 0, true);
  h.setUint32(out.length - 4, crc(out.subarray(0, out.length - 4)), true);
  return out;
}

const open = (b: Uint8Array, opts = {}): ReturnType<typeof readAprFrom> => readAprFrom(bufferSource(b, F), opts);
function errOf(fn: () => unknown): FormatError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FormatError);
    return e as FormatError;
  }
  throw new Error('expected a FormatError');
}
const msg = (b: Uint8Array): string => errOf(() => open(b)).message;

describe('header: exact messages', () => {
  it('the plain hand-built file opens; version, flags and sections are reported', () => {
    const apr = open(build({ patch: (h) => h.setUint8(5, 7) }));
    expect(apr.header.version).toStrictEqual({ major: 2, minor: 7 });
    expect(apr.header.flagNames).toEqual(['LAYOUT_ROW_MAJOR']);
    expect(apr.header.metadataOffset).toBe(64);
    expect(apr.source).toStrictEqual({ path: F, format: 'apr' });
    expect(apr.config.head_dim).toBe(16);
  });

  it('magic, version, CRC (hex padded to 8 digits), flags', () => {
    expect(msg(build({ patch: (h) => h.setUint8(3, 0x32) }))).toBe(`${F}: header.magic: expected "APR\\0", found "APR2"`);
    expect(msg(build({ patch: (h) => { h.setUint8(4, 3); h.setUint8(5, 1); } }))).toBe(`${F}: header.version: unsupported version 3.1 (this reader reads 2.x)`);
    const b = build();
    const good = new DataView(b.buffer).getUint32(40, true);
    new DataView(b.buffer).setUint32(40, 0xabcd, true);
    expect(msg(b)).toBe(`${F}: header.crc: stored 0x0000abcd, computed 0x${good.toString(16).padStart(8, '0')}`);
    expect(msg(build({ flags: (1 << 10) | (1 << 11) }))).toBe(`${F}: header.flags: LAYOUT_COLUMN_MAJOR is set (tensors must be row-major)`);
    expect(msg(build({ flags: (1 << 10) | 1 | (1 << 3) }))).toBe(`${F}: header.flags: unsupported feature LZ4_COMPRESSED, SIGNED`);
    expect(msg(build({ flags: (1 << 10) | (1 << 4) }))).toBe(`${F}: header.flags: unsupported feature SHARDED`);
  });

  it('file shorter than header + footer; exactly 68 bytes passes that check', () => {
    expect(msg(new Uint8Array(67))).toBe(`${F}: file: 67 bytes is shorter than the 64-byte header and 4-byte footer`);
    expect(msg(new Uint8Array(68))).toBe(`${F}: header.magic: expected "APR\\0", found "\\u0000\\u0000\\u0000\\u0000"`);
  });

  it('section offsets', () => {
    const plain = build();
    const size = plain.length;
    const end = size - 4;
    const at = (off: number, v: bigint | number) => (h: DataView) => h.setBigUint64(off, BigInt(v), true);
    expect(msg(build({ patch: at(12, 128) }))).toBe(`${F}: header.metadata_offset: expected 64, found 128`);
    expect(msg(build({ patch: at(24, 2n ** 64n - 64n) }))).toBe(`${F}: header.tensor_index_offset: ${2n ** 64n - 64n} is past the end of the data (${end})`);
    expect(msg(build({ patch: at(24, end + 1) }))).toBe(`${F}: header.tensor_index_offset: ${end + 1} is past the end of the data (${end})`);
    expect(msg(build({ patch: at(32, end + 1) }))).toBe(`${F}: header.data_offset: ${end + 1} is past the end of the data (${end})`);
    const idx = 64 + a64(JSON.stringify(CONFIG).length);
    expect(msg(build({ patch: (h) => h.setUint32(20, idx - 63, true) }))).toBe(`${F}: header.metadata_size: metadata [64, ${idx + 1}) overlaps the tensor index at ${idx}`);
    expect(msg(build({ entries: [entry('a', 0, [1], 0, 4)], data: new Uint8Array(64), patch: at(24, idx + 8) }))).toBe(`${F}: header.tensor_index_offset: ${idx + 8} is not 64-byte aligned`);
    expect(msg(build({ entries: [entry('a', 0, [1], 0, 4)], data: new Uint8Array(64), patch: at(32, 64) }))).toBe(`${F}: header.data_offset: 64 is before the tensor index at ${idx}`);
    expect(msg(build({ entries: [entry('a', 0, [1], 0, 4)], data: new Uint8Array(64), patch: at(32, 200) }))).toBe(`${F}: header.data_offset: 200 is not 64-byte aligned`);
    // a 64-byte index holds at most 3 minimal (20-byte) entries
    expect(msg(build({ entries: [entry('a', 0, [1], 0, 4)], data: new Uint8Array(64), count: 4 }))).toBe(`${F}: header.tensor_count: 4 entries cannot fit in a 64-byte tensor index`);
  });

  it('metadata may end exactly at the tensor index (padding of JSON whitespace)', () => {
    const text = JSON.stringify(CONFIG);
    const b = build({ meta: text.padEnd(a64(text.length), ' ') });
    expect(new DataView(b.buffer).getUint32(20, true)).toBe(128);
    expect(open(b).config.hidden_size).toBe(64);
  });
});

describe('metadata JSON: exact messages', () => {
  it('invalid UTF-8 inside a JSON string is rejected (strict decoding), invalid JSON quotes the parser', () => {
    const text = JSON.stringify({ ...CONFIG, note: 'x\u00e9' });
    const bytes = Buffer.from(text, 'utf8');
    bytes[bytes.indexOf(0xc3)] = 0xff;
    let utf8Err = '';
    try {
      new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch (e) {
      utf8Err = (e as Error).message;
    }
    const b = build({ meta: text });
    b.set(bytes, 64);
    fixCrcs(b);
    expect(msg(b)).toBe(`${F}: metadata: invalid JSON (${utf8Err})`);
    let jsonErr = '';
    try {
      JSON.parse('{"a":');
    } catch (e) {
      jsonErr = (e as Error).message;
    }
    expect(msg(build({ meta: '{"a":' }))).toBe(`${F}: metadata: invalid JSON (${jsonErr})`);
  });

  it('valid JSON that is not an object', () => {
    for (const text of ['[1]', 'null', '5', '"s"', 'true']) expect(msg(build({ meta: text })), text).toBe(`${F}: metadata: expected a JSON object`);
  });
});

function fixCrcs(b: Uint8Array): void {
  const h = new DataView(b.buffer, b.byteOffset);
  h.setUint32(40, zlib.crc32(b.subarray(44, 64), zlib.crc32(b.subarray(0, 40))) >>> 0, true);
  h.setUint32(b.length - 4, crc(b.subarray(0, b.length - 4)), true);
}

describe('tensor index: exact messages', () => {
  const one = (e: Uint8Array, data = new Uint8Array(64), extra: Partial<Spec> = {}): string => msg(build({ entries: [e], data, ...extra }));

  it('each field that runs past a 64-byte index names itself', () => {
    const past = (field: string) => `${F}: index[0].${field}: runs past the end of the tensor index`;
    // the section is cut at 64 bytes; name lengths chosen so that the named field straddles byte 64
    expect(one(entry('n'.repeat(100), 0, [1], 0, 4), undefined, { indexLength: 64 })).toBe(past('name'));
    expect(one(entry('n'.repeat(62), 0, [1], 0, 4), undefined, { indexLength: 64 })).toBe(past('dtype'));
    expect(one(entry('n'.repeat(61), 0, [1], 0, 4), undefined, { indexLength: 64 })).toBe(past('ndim'));
    expect(one(entry('n'.repeat(56), 0, [1], 0, 4), undefined, { indexLength: 64 })).toBe(past('dims'));
    expect(one(entry('n'.repeat(48), 0, [1], 0, 4), undefined, { indexLength: 64 })).toBe(past('offset'));
    expect(one(entry('n'.repeat(40), 0, [1], 0, 4), undefined, { indexLength: 64 })).toBe(past('size'));
    // first entry takes bytes [0, 63): the second's name_len straddles byte 64
    const first = entry('a'.repeat(43), 0, [], 0, 4);
    expect(first.length).toBe(63);
    expect(msg(build({ entries: [first], count: 2, indexLength: 64, data: new Uint8Array(64) }))).toBe(`${F}: index[1].name_len: runs past the end of the tensor index`);
  });

  it('name: empty, invalid UTF-8; dtype; ndim (8 allowed, 9 not)', () => {
    expect(one(entry('', 0, [1], 0, 4))).toBe(`${F}: index[0].name: empty tensor name`);
    expect(one(entry(Uint8Array.of(0x61, 0xc3), 0, [1], 0, 4))).toBe(`${F}: index[0].name: not valid UTF-8`);
    expect(one(entry('w', 200, [1], 0, 4))).toBe(`${F}: index[0].dtype: unknown dtype id 200 ('w')`);
    expect(one(entry('w', 0, [1, 1, 1, 1, 1, 1, 1, 1, 1], 0, 4))).toBe(`${F}: index[0].ndim: 9 dimensions ('w'; at most 8)`);
    const ok = open(build({ entries: [entry('w', 0, [1, 1, 1, 1, 1, 1, 1, 2], 0, 8)], data: new Uint8Array(64) }));
    expect(ok.entries[0]!.shape).toEqual([1, 1, 1, 1, 1, 1, 1, 2]);
  });

  it('dims, size, offset', () => {
    expect(one(entry('q', 8, [2, 33], 0, 68))).toBe(`${F}: index[0].dims: 'q': innermost dimension 33 is not a multiple of the Q8_0 block size 32`);
    expect(one(entry('q', 8, [2, 32], 0, 70))).toBe(`${F}: index[0].size: 'q' is 70 bytes but Q8_0[2, 32] needs 68`);
    expect(one(entry('w', 0, [3], 8, 12))).toBe(`${F}: index[0].offset: 'w' at 8 is not 64-byte aligned`);
    expect(one(entry('w', 0, [20], 64, 80), new Uint8Array(128))).toBe(`${F}: index[0].offset: 'w' [64, 144) runs past the 128-byte data section`);
    expect(one(entry('w', 0, [2n ** 53n, 0], 0, 0))).toBe(`${F}: index[0].dims: 'w': dimension too large`);
    const ok = open(build({ entries: [entry('w', 0, [2 ** 53 - 1, 0], 0, 0)], data: new Uint8Array(64) }));
    expect(ok.entries[0]!.shape).toEqual([2 ** 53 - 1, 0]);
  });

  it('names: duplicate, out of order (byte order of UTF-8)', () => {
    const two = (x: string, y: string): string => msg(build({ entries: [entry(x, 0, [1], 0, 4), entry(y, 0, [1], 64, 4)], data: new Uint8Array(128) }));
    expect(two('b', 'b')).toBe(`${F}: index[1].name: duplicate tensor name 'b'`);
    expect(two('b', 'a')).toBe(`${F}: index[1].name: 'a' is out of order (the index must be sorted by name)`);
  });

  it('overlaps: only tensors with bytes count, compared in offset order; message names both entries', () => {
    const data = new Uint8Array(256);
    const read = (...es: Uint8Array[]): string[] => open(build({ entries: es, data })).entries.map((e) => `${e.name}@${e.offset}`);
    // a zero-size tensor may sit inside another's range
    expect(read(entry('a', 0, [32], 0, 128), entry('b', 0, [0], 64, 0), entry('c', 0, [0], 0, 0))).toEqual(['a@0', 'b@64', 'c@0']);
    // index order is not offset order
    expect(read(entry('a', 0, [16], 128, 64), entry('b', 0, [16], 64, 64), entry('c', 0, [16], 0, 64))).toEqual(['a@128', 'b@64', 'c@0']);
    expect(read(entry('a', 0, [16], 0, 64), entry('b', 0, [16], 128, 64), entry('c', 0, [16], 64, 64))).toEqual(['a@0', 'b@128', 'c@64']);
    expect(msg(build({ entries: [entry('a', 0, [16], 128, 64), entry('b', 0, [40], 0, 160), entry('c', 0, [16], 192, 64)], data })))
      .toBe(`${F}: index[0].offset: 'a' overlaps 'b' (index[1])`);
  });
});

describe('footer', () => {
  it('verifyFooter: exact message; computeFooter agrees with zlib for every chunk size, 1 included', () => {
    const b = build({ entries: [entry('w', 0, [5], 0, 20)], data: Uint8Array.from({ length: 64 }, (_, i) => i) });
    const want = crc(b.subarray(0, b.length - 4));
    for (const chunk of [1, 3, 64, 1 << 20]) expect(computeFooter(bufferSource(b), chunk)).toStrictEqual({ stored: want, computed: want });
    expect(verifyFooter(bufferSource(b, F), 7)).toBe(want);
    for (const bad of [0, 0.5, -1, Number.NaN]) expect(() => computeFooter(bufferSource(b), bad)).toThrow(new RangeError(`chunk size ${bad}`));
    b[70]! ^= 1;
    const now = crc(b.subarray(0, b.length - 4));
    expect(errOf(() => verifyFooter(bufferSource(b, F))).message).toBe(`${F}: footer.crc: stored 0x${want.toString(16).padStart(8, '0')}, computed 0x${now.toString(16).padStart(8, '0')} over bytes [0, ${b.length - 4})`);
    expect(computeFooter(bufferSource(Uint8Array.of(1, 0, 0, 0)))).toStrictEqual({ stored: 1, computed: 0 });
  });
});

describe('decodeMetadata: derived config fields and exact messages', () => {
  const dm = (meta: Record<string, unknown>, names: string[] = []): ReturnType<typeof decodeMetadata> => decodeMetadata(F, meta, names);
  const dmErr = (meta: Record<string, unknown>, names: string[] = []): string => errOf(() => dm(meta, names)).message;

  it('defaults as aprender derives them; present values are kept; no absent optional keys appear', () => {
    const c = dm({ ...CONFIG, architecture: 'LLaMA' }).config;
    expect(c).toStrictEqual({ ...CONFIG, num_kv_heads: 4, head_dim: 16, rope_theta: 10000, rms_norm_eps: 1e-6, max_position_embeddings: 2048, tie_word_embeddings: true, attention_bias: false });
    expect(dm({ ...CONFIG, rms_norm_eps: 1e-5, head_dim: 8 }).config.rms_norm_eps).toBe(1e-5);
    expect(dm(CONFIG, ['lm_head.weight']).config.tie_word_embeddings).toBe(false);
    expect(dm({ ...CONFIG, tied_embeddings: true }, ['lm_head.weight']).config.tie_word_embeddings).toBe(true);
    expect(dm({ ...CONFIG, tied_embeddings: 'yes' }, ['lm_head.weight']).config.tie_word_embeddings).toBe(false);
    expect(dm(CONFIG, ['model.layers.0.self_attn.q_proj.bias']).config.attention_bias).toBe(true);
    expect(dm({ ...CONFIG, tied_embeddings: true }).extra).toStrictEqual({ tied_embeddings: true });
  });

  it('zod issues become metadata.<path>: <zod message>', () => {
    const zmsg = (schema: z.ZodType, v: unknown): string => schema.safeParse(v).error!.issues[0]!.message;
    expect(dmErr({ ...CONFIG, hidden_size: 'x' })).toBe(`${F}: metadata.hidden_size: ${zmsg(z.number(), 'x')}`);
    const prov = { provenance: [{ op: 5, options: {}, inputDigests: [], toolVersion: '0' }] };
    expect(dmErr({ ...CONFIG, ...prov })).toBe(`${F}: metadata.provenance[0].op: ${zmsg(z.string(), 5)}`);
    expect(dm(CONFIG).provenance).toStrictEqual([]);
  });

  it('tokenizer parts: only the keys present; each wrong type names its key', () => {
    expect(dm({ ...CONFIG, 'tokenizer.json': '{}' }).tokenizer).toStrictEqual({ json: '{}' });
    expect(dm({ ...CONFIG, 'tokenizer.json': '{}', tokenizer_config: { a: 1 }, chat_template: '', generation_config: {} }).tokenizer).toStrictEqual({ json: '{}', config: { a: 1 }, chatTemplate: '', generationConfig: {} });
    expect(dm(CONFIG).tokenizer).toBeUndefined();
    expect(dmErr({ ...CONFIG, 'tokenizer.json': { a: 1 } })).toBe(`${F}: metadata.tokenizer.json: expected the tokenizer.json text as a string`);
    for (const bad of ['x', null, [1], 3]) {
      expect(dmErr({ ...CONFIG, 'tokenizer.json': '{}', tokenizer_config: bad })).toBe(`${F}: metadata.tokenizer_config: expected a JSON object`);
      expect(dmErr({ ...CONFIG, 'tokenizer.json': '{}', generation_config: bad })).toBe(`${F}: metadata.generation_config: expected a JSON object`);
    }
    expect(dmErr({ ...CONFIG, 'tokenizer.json': '{}', chat_template: 1 })).toBe(`${F}: metadata.chat_template: expected a string`);
    expect(dmErr({ ...CONFIG, 'tokenizer.json': '{}', chat_template: null })).toBe(`${F}: metadata.chat_template: expected a string`);
  });

  it('integrity: absent is allowed; unknown, malformed and missing digests have exact messages', () => {
    const d = `sha256:${'0'.repeat(64)}`;
    expect(dm(CONFIG, ['a']).integrity).toBeUndefined();
    expect(dm({ ...CONFIG, integrity: { a: d } }, ['a']).integrity).toStrictEqual({ a: d });
    expect(dmErr({ ...CONFIG, integrity: { a: d, z: d } }, ['a'])).toBe(`${F}: metadata.integrity.z: digest for a tensor that is not in the index`);
    expect(dmErr({ ...CONFIG, integrity: { a: 'sha1:0' } }, ['a'])).toBe(`${F}: metadata.integrity.a: expected "sha256:<64 hex>", found "sha1:0"`);
    expect(dmErr({ ...CONFIG, integrity: { a: d } }, ['a', 'b'])).toBe(`${F}: metadata.integrity.b: missing digest`);
    expect(dmErr({ ...CONFIG, integrity: [d] }, ['a'])).toBe(`${F}: metadata.integrity: expected a JSON object`);
  });
});

describe('readAprFrom / inspectApr behaviour', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'apr-mut-parse-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = build({ entries: [entry('w', 0, [4], 0, 16)], data: new Uint8Array(64) });

  it('verifyTensor: no such tensor, and no digest recorded when the file has no integrity map', () => {
    const apr = open(file);
    expect(errOf(() => apr.verifyTensor('nope')).message).toBe(`${F}: nope: no such tensor`);
    expect(errOf(() => apr.verifyTensor('w')).message).toBe(`${F}: metadata.integrity.w: no digest recorded for this tensor`);
    const checked = open(file, { verifyDigests: true });
    expect(errOf(() => checked.tensors.get('w')!.read()).message).toBe(`${F}: metadata.integrity.w: no digest recorded for this tensor`);
  });

  it('a digest mismatch names both hashes', () => {
    const d = `sha256:${'0'.repeat(64)}`;
    const b = build({ meta: JSON.stringify({ ...CONFIG, integrity: { w: d } }), entries: [entry('w', 0, [4], 0, 16)], data: new Uint8Array(64) });
    const actual = `sha256:${createHash('sha256').update(new Uint8Array(16)).digest('hex')}`;
    expect(errOf(() => open(b).verifyTensor('w')).message).toBe(`${F}: metadata.integrity.w: stored bytes hash to ${actual}, the file records ${d}`);
  });

  it('tensors.close() closes the source', () => {
    let closed = 0;
    const inner = bufferSource(file, F);
    const src: ByteSource = { name: F, size: inner.size, read: (o, l) => inner.read(o, l), readInto: (t, o) => inner.readInto(t, o), close: () => void closed++ };
    const apr = readAprFrom(src);
    expect(closed).toBe(0);
    apr.tensors.close();
    expect(closed).toBe(1);
  });

  it('inspectApr reports the stored footer and closes its file descriptor', () => {
    const p = path.join(dir, 'x.apr');
    writeFileSync(p, file);
    const stored = new DataView(file.buffer).getUint32(file.length - 4, true);
    expect(inspectApr(p).footer).toStrictEqual({ stored });
    expect(inspectApr(p, { verifyFooter: true }).footer).toStrictEqual({ stored, computed: stored });
    expect(readFileSync(p).length).toBe(file.length);
    const fds = (): number => readdirSync('/proc/self/fd').length;
    const before = fds();
    for (let i = 0; i < 40; i++) inspectApr(p);
    expect(fds() - before).toBeLessThan(20);
  });
});

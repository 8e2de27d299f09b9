/**
 * APR v2 layout helpers (src/formats/apr/layout.ts) and the writer (write.ts) against docs/DESIGN.md:
 * flags u16 (bit 5 QUANTIZED, 9 HAS_VOCAB, 10 LAYOUT_ROW_MAJOR), header CRC32 over [0,40) ++ [44,64),
 * metadata zero-padded to 64, index sorted by UTF-8 name bytes, every tensor 64-aligned, footer CRC32.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { readApr, writeApr } from '../../src/formats/apr/index.js';
import { align64, align64Contract, byteSizeBig, compareNames, decodeHeader, flagNames } from '../../src/formats/apr/layout.js';
import type { ModelBundle } from '../../src/tensor/bundle.js';
import type { DType } from '../../src/tensor/dtype.js';
import { MemoryTensorStore, type TensorRef, type TensorStore } from '../../src/tensor/store.js';
import { violatedClause } from '../helpers.js';
import { rawLayout, seededBytes, u32, u64 } from './apr-helpers.js';

const ALL_FLAGS = ['LZ4_COMPRESSED', 'ZSTD_COMPRESSED', 'ENCRYPTED', 'SIGNED', 'SHARDED', 'QUANTIZED', 'HAS_FILTERBANK', 'HAS_MODEL_CARD', 'STREAMING', 'HAS_VOCAB', 'LAYOUT_ROW_MAJOR', 'LAYOUT_COLUMN_MAJOR'];

describe('layout helpers', () => {
  it('flagNames: bits 0..11 by name, 12..15 as bitN, nothing above the u16 field', () => {
    expect(flagNames(0xffff)).toEqual([...ALL_FLAGS, 'bit12', 'bit13', 'bit14', 'bit15']);
    expect(flagNames(1 << 12)).toEqual(['bit12']);
    expect(flagNames((1 << 15) | (1 << 10))).toEqual(['LAYOUT_ROW_MAJOR', 'bit15']);
    expect(flagNames(1 << 16)).toEqual([]);
    expect(flagNames(0)).toEqual([]);
  });

  it('align64 precondition: safe integers in [0, 2^53 − 64]', () => {
    const pre = 'n is a safe non-negative integer';
    expect(violatedClause(() => align64(-1))).toBe(pre);
    expect(violatedClause(() => align64(1.5))).toBe(pre);
    expect(violatedClause(() => align64(2 ** 53 - 63))).toBe(pre);
    expect(violatedClause(() => align64(Number.NaN))).toBe(pre);
    expect(align64(2 ** 53 - 64)).toBe(2 ** 53 - 64);
    expect([0, 1, 63, 64, 65].map(align64)).toEqual([0, 64, 64, 64, 128]);
  });

  it('align64 postcondition rejects every value but the least multiple of 64 at or above n [ob:apr-align64]', () => {
    const post = 'least multiple of 64 at or above n';
    const check = (n: number, a: number): string => violatedClause(() => align64Contract.checkPost(n, a));
    expect(check(65, 128)).toBe('none');
    expect(check(64, 64)).toBe('none');
    expect(check(65, 64)).toBe(post); // below n
    expect(check(65, 192)).toBe(post); // not the least
    expect(check(64, 128)).toBe(post); // a = n + 64
    expect(check(65, 100)).toBe(post); // not a multiple
    expect(check(1, 1)).toBe(post);
  });

  it('decodeHeader: magic is the first 4 bytes only', () => {
    const b = new Uint8Array(64).fill(7);
    b.set([0x41, 0x50, 0x52, 0], 0);
    expect(Array.from(decodeHeader(b).magic)).toEqual([0x41, 0x50, 0x52, 0]);
  });

  it('compareNames orders by UTF-8 bytes, not UTF-16 code units', () => {
    expect(compareNames('\uff5a', '\u{1f600}')).toBeLessThan(0); // EF BD 9A < F0 9F 98 80 (UTF-16: FF5A > D83D)
    expect(compareNames('\u{1f600}', '\uff5a')).toBeGreaterThan(0);
    expect(compareNames('b', 'a')).toBeGreaterThan(0);
    expect(compareNames('a', 'a')).toBe(0);
  });

  it('byteSizeBig: blocks · blockBytes + the per-tensor header (APR_Q8: 4-byte scale); a scalar is one element', () => {
    expect(byteSizeBig('APR_Q8', [3n, 5n])).toBe(15n + 4n);
    expect(byteSizeBig('F32', [])).toBe(4n);
    expect(byteSizeBig('Q8_0', [2n, 64n])).toBe(4n * 34n);
    expect(byteSizeBig('Q8_0', [2n, 33n])).toBe('innermost dimension 33 is not a multiple of the Q8_0 block size 32');
    expect(byteSizeBig('Q4_K', [])).toBe('innermost dimension 1 is not a multiple of the Q4_K block size 256');
  });
});

const dir = mkdtempSync(path.join(tmpdir(), 'apr-mut-layout-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const out = (): string => path.join(dir, `w${n++}.apr`);

const CONFIG: ModelBundle['config'] = {
  architecture: 'llama', hidden_size: 8, num_layers: 1, num_heads: 2, num_kv_heads: 1, head_dim: 4, vocab_size: 4, intermediate_size: 16,
  rope_theta: 10000, rms_norm_eps: 1e-5, max_position_embeddings: 64, tie_word_embeddings: true, attention_bias: false,
};

function bundleOf(store: TensorStore, tokenizer = false): ModelBundle {
  return { config: CONFIG, tensors: store, metadata: {}, provenance: [], source: { path: '<memory>', format: 'memory' }, ...(tokenizer ? { tokenizer: { json: '{}' } } : {}) };
}
function storeOf(tensors: [string, DType, number[], number][]): MemoryTensorStore {
  const s = new MemoryTensorStore();
  tensors.forEach(([name, dtype, shape, bytes], i) => s.add(name, dtype, shape, seededBytes(bytes, i + 3)));
  return s;
}
const refStore = (refs: TensorRef[], names?: string[]): TensorStore => ({
  names: () => names ?? refs.map((r) => r.name),
  get: (k) => refs.find((r) => r.name === k),
  close: () => undefined,
});
const ref = (name: string, dtype: DType, shape: number[], byteLength: number, bytes?: () => Uint8Array): TensorRef => ({ name, dtype, shape, byteLength, read: bytes ?? (() => new Uint8Array(byteLength)) });
const metaOf = (b: Uint8Array): Record<string, unknown> => JSON.parse(Buffer.from(b.subarray(64, 64 + u32(b, 20))).toString('utf8')) as Record<string, unknown>;

describe('writer: bytes as DESIGN.md lays them out', () => {
  it('names sorted by UTF-8 bytes whatever the store order; offsets 64-aligned; a 64-byte tensor gets no padding', () => {
    const p = out();
    const store = storeOf([['z', 'F32', [16], 64], ['\u{1f600}', 'F32', [3], 12], ['\uff5a', 'F32', [16], 64], ['a', 'F32', [1], 4]]);
    const res = writeApr(bundleOf(store), p);
    const b = new Uint8Array(readFileSync(p));
    const raw = rawLayout(b);
    expect(raw.entries.map((e) => e.name)).toEqual(['a', 'z', '\uff5a', '\u{1f600}']);
    expect(raw.entries.map((e) => e.offset)).toEqual([0, 64, 128, 192]);
    expect(b.length).toBe(raw.dataOffset + 192 + 64 + 4);
    for (const e of raw.entries) {
      const want = store.get(e.name)!.read();
      expect(Buffer.from(b.subarray(raw.dataOffset + e.offset, raw.dataOffset + e.offset + e.size)).equals(Buffer.from(want)), e.name).toBe(true);
      expect(b.subarray(raw.dataOffset + e.offset + e.size, raw.dataOffset + Math.ceil((e.offset + e.size) / 64) * 64).every((x) => x === 0)).toBe(true);
    }
    expect(u32(b, b.length - 4)).toBe(zlib.crc32(b.subarray(0, b.length - 4)) >>> 0);
    expect(res.footerCrc).toBe(u32(b, b.length - 4));
    expect(res.bytes).toBe(b.length);
    expect(res.path).toBe(p);
    expect(Object.keys(res.integrity)).toEqual(['a', 'z', '\uff5a', '\u{1f600}']);
    expect(metaOf(b)['integrity']).toStrictEqual(res.integrity);
  });

  it('the returned header matches the stored header field by field', () => {
    const p = out();
    const res = writeApr(bundleOf(storeOf([['q', 'Q8_0', [1, 32], 34], ['f', 'F32', [2], 8]]), true), p);
    const b = new Uint8Array(readFileSync(p));
    expect(res.header).toStrictEqual({
      version: { major: 2, minor: 0 },
      flags: (1 << 10) | (1 << 9) | (1 << 5),
      tensorCount: 2,
      metadataOffset: 64,
      metadataSize: u32(b, 20),
      tensorIndexOffset: u64(b, 24),
      dataOffset: u64(b, 32),
      flagNames: ['QUANTIZED', 'HAS_VOCAB', 'LAYOUT_ROW_MAJOR'],
      headerCrc: zlib.crc32(b.subarray(44, 64), zlib.crc32(b.subarray(0, 40))) >>> 0,
    });
    expect(u32(b, 40)).toBe(res.header.headerCrc);
    expect(b[6]! | (b[7]! << 8)).toBe(res.header.flags);
  });

  it('flags: unquantized without tokenizer is LAYOUT_ROW_MAJOR alone; APR_Q8 counts as quantized', () => {
    const p = out();
    writeApr(bundleOf(storeOf([['f', 'F32', [2], 8], ['h', 'F16', [2], 4]])), p);
    const b = readFileSync(p);
    expect(b.readUInt16LE(6)).toBe(1 << 10);
    const q = out();
    writeApr(bundleOf(storeOf([['q', 'APR_Q8', [2], 6]])), q);
    expect(readFileSync(q).readUInt16LE(6)).toBe((1 << 10) | (1 << 5));
  });

  it('param_count is the sum of element counts and total_size the sum of stored bytes', () => {
    const p = out();
    writeApr(bundleOf(storeOf([['a', 'F32', [2, 3], 24], ['b', 'Q8_0', [1, 64], 68], ['c', 'BF16', [], 2]])), p);
    const meta = metaOf(new Uint8Array(readFileSync(p)));
    expect(meta['param_count']).toBe(6 + 64 + 1);
    expect(meta['total_size']).toBe(24 + 68 + 2);
  });

  it('8 dims and a 256-byte name are accepted and read back', () => {
    const p = out();
    const long = 'n'.repeat(256);
    writeApr(bundleOf(storeOf([[long, 'F32', [1, 1, 1, 1, 1, 1, 1, 2], 8]])), p);
    const apr = readApr(p);
    expect(apr.entries[0]!.name).toBe(long);
    expect(apr.entries[0]!.shape).toEqual([1, 1, 1, 1, 1, 1, 1, 2]);
    apr.tensors.close();
  });
});

describe('writer refusals: exact messages', () => {
  const refuse = (refs: TensorRef[], names?: string[]): string => {
    try {
      writeApr(bundleOf(refStore(refs, names)), out());
    } catch (e) {
      return (e as Error).message;
    }
    return 'no error';
  };

  it('names: empty, longer than 256 UTF-8 bytes, duplicated', () => {
    expect(refuse([ref('', 'F32', [1], 4)])).toBe("APR: tensor name '' must be 1..256 UTF-8 bytes");
    const long = '\u00e9'.repeat(129); // 258 bytes, 129 UTF-16 units
    expect(refuse([ref(long, 'F32', [1], 4)])).toBe(`APR: tensor name '${long}' must be 1..256 UTF-8 bytes`);
    expect(refuse([ref('n'.repeat(257), 'F32', [1], 4)])).toBe(`APR: tensor name '${'n'.repeat(257)}' must be 1..256 UTF-8 bytes`);
    expect(refuse([ref('b', 'F32', [1], 4), ref('a', 'F32', [1], 4)], ['b', 'a', 'b'])).toBe("APR: duplicate tensor name 'b'");
    expect(refuse([ref('b', 'F32', [1], 4), ref('a', 'F32', [1], 4)], ['a', 'b', 'a'])).toBe("APR: duplicate tensor name 'a'");
  });

  it('shapes: more than 8 dims, negative / fractional / unsafe dims, byte length not matching', () => {
    expect(refuse([ref('t', 'F32', [1, 1, 1, 1, 1, 1, 1, 1, 1], 4)])).toBe("APR: tensor 't' has 9 dims (at most 8)");
    expect(refuse([ref('t', 'F32', [2, -1], 4)])).toBe("APR: tensor 't' has a bad shape [2, -1]");
    expect(refuse([ref('t', 'F32', [1.5], 4)])).toBe("APR: tensor 't' has a bad shape [1.5]");
    expect(refuse([ref('t', 'F32', [2 ** 53], 4)])).toBe(`APR: tensor 't' has a bad shape [${2 ** 53}]`);
    expect(refuse([ref('t', 'F32', [2, 3], 20)])).toBe("APR: tensor 't' is 20 bytes but F32[2, 3] needs 24");
  });

  it('read() returning the wrong length, and metadata that changes length while streaming', () => {
    expect(refuse([ref('t', 'F32', [2], 8, () => new Uint8Array(4))])).toBe("APR: tensor 't' read() returned 4 bytes, expected 8");
    const bundle = bundleOf(refStore([ref('t', 'F32', [2], 8, () => {
      bundle.metadata['grown'] = 'x';
      return new Uint8Array(8);
    })]));
    let message = 'no error';
    try {
      writeApr(bundle, out());
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/^APR: metadata changed length \((\d+) → (\d+)\)$/);
    const [, before, after] = /\((\d+) → (\d+)\)/.exec(message)!;
    expect(Number(after) - Number(before)).toBe(Buffer.byteLength(',"grown":"x"'));
  });
});

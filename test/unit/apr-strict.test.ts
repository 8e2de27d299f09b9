import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inspectApr, readApr, writeApr } from '../../src/formats/apr/index.js';
import { FormatError } from '../../src/formats/errors.js';
import { fixFooterCrc, fixHeaderCrc, rawLayout, setU32, setU64, synthBundle, u32, u64 } from './apr-helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'apr-strict-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const validPath = path.join(dir, 'valid.apr');
writeApr(synthBundle(), validPath, { provenance: { op: 'abc', options: {}, inputDigests: [], toolVersion: '0', time: 't' } });
const valid = new Uint8Array(readFileSync(validPath));
const layout = rawLayout(valid);
const entry = (name: string): ReturnType<typeof rawLayout>['entries'][number] => layout.entries.find((e) => e.name === name)!;
const indexOf = (name: string): number => layout.entries.findIndex((e) => e.name === name);

let counter = 0;
/** Copies the valid file, patches it, recomputes both CRCs (unless told not to) and reads it back. */
function readPatched(patch: (b: Uint8Array) => void, fix: { header?: boolean; footer?: boolean } = {}, opts = {}): unknown {
  const b = valid.slice();
  patch(b);
  if (fix.header ?? true) fixHeaderCrc(b);
  if (fix.footer ?? true) fixFooterCrc(b);
  const p = path.join(dir, `case-${counter++}.apr`);
  writeFileSync(p, b);
  try {
    readApr(p, opts).tensors.close();
    return undefined;
  } catch (err) {
    return err;
  }
}

function expectField(err: unknown, field: string | RegExp): void {
  expect(err).toBeInstanceOf(FormatError);
  const fe = err as FormatError;
  if (typeof field === 'string') expect(fe.field).toBe(field);
  else expect(fe.field).toMatch(field);
  expect(fe.message.startsWith(`${fe.file}: ${fe.field}: `)).toBe(true);
  expect(fe.message).not.toContain('\n');
}

/** Replaces `from` by `to` (same byte length) inside the metadata JSON. */
function patchMetadata(b: Uint8Array, from: string, to: string): void {
  expect(Buffer.byteLength(from)).toBe(Buffer.byteLength(to));
  const text = Buffer.from(b.subarray(64, 64 + layout.metadataSize));
  const at = text.indexOf(from);
  expect(at).toBeGreaterThanOrEqual(0);
  b.set(Buffer.from(to), 64 + at);
}

describe('APR v2 reader rejects each malformed structure with a FormatError naming the field', () => {
  it('the unpatched file reads (control)', () => {
    expect(readPatched(() => undefined)).toBeUndefined();
  });

  it('header: magic, version, CRC, flags', () => {
    expectField(readPatched((b) => (b[3] = 0x32)), 'header.magic'); // "APR2", the pre-release magic
    expectField(readPatched((b) => (b[4] = 3)), 'header.version');
    expectField(readPatched((b) => (b[4] = 1)), 'header.version');
    expectField(readPatched((b) => setU32(b, 8, u32(b, 8) + 1), { header: false }), 'header.crc');
    expectField(readPatched((b) => (b[50] = 1), { header: false }), 'header.crc'); // reserved bytes are covered too
    expectField(readPatched((b) => (b[7]! |= 1 << 3)), 'header.flags'); // bit 11 LAYOUT_COLUMN_MAJOR
    expectField(readPatched((b) => (b[6]! |= 1)), 'header.flags'); // LZ4 compressed: unsupported
    expectField(readPatched((b) => (b[6]! |= 1 << 2)), 'header.flags'); // encrypted: unsupported
  });

  it('header: section offsets out of bounds, overlapping or unaligned', () => {
    expectField(readPatched((b) => setU64(b, 12, 128)), 'header.metadata_offset');
    expectField(readPatched((b) => setU64(b, 32, 2n ** 63n)), 'header.data_offset');
    expectField(readPatched((b) => setU64(b, 32, b.byteLength)), 'header.data_offset');
    expectField(readPatched((b) => setU64(b, 24, 2n ** 64n - 1n)), 'header.tensor_index_offset');
    expectField(readPatched((b) => setU32(b, 20, layout.indexOffset)), 'header.metadata_size'); // metadata runs into the index
    expectField(readPatched((b) => setU32(b, 20, 0xffffffff)), 'header.metadata_size');
    expectField(readPatched((b) => setU64(b, 32, layout.indexOffset - 64)), 'header.data_offset'); // data before index
    expectField(readPatched((b) => setU64(b, 32, layout.dataOffset + 8)), 'header.data_offset'); // unaligned
    expectField(readPatched((b) => setU64(b, 24, layout.indexOffset + 8)), 'header.tensor_index_offset');
    expectField(readPatched((b) => setU32(b, 8, 0xffffffff)), 'header.tensor_count');
  });

  it('metadata: invalid UTF-8, invalid JSON, not an object', () => {
    expectField(readPatched((b) => (b[64] = 0xff)), 'metadata');
    expectField(readPatched((b) => (b[64] = 0x78)), 'metadata'); // '{' → 'x'
    expectField(readPatched((b) => setU32(b, 20, 1)), 'metadata'); // "{" alone
    expectField(readPatched((b) => { b.set(Buffer.from('[1]'), 64); setU32(b, 20, 3); }), 'metadata');
  });

  it('metadata: config fields, tokenizer, integrity and provenance are type-checked', () => {
    expectField(readPatched((b) => patchMetadata(b, '"hidden_size"', '"hidden_sizf"')), 'metadata.hidden_size');
    expectField(readPatched((b) => patchMetadata(b, '"architecture":"qwen2"', '"architecture":"gpt_2"')), 'metadata.architecture');
    expectField(readPatched((b) => patchMetadata(b, '"tokenizer_config":{', '"tokenizer_config":[')), /^metadata/);
    const digest = synthDigest('c.f16');
    expectField(readPatched((b) => patchMetadata(b, digest, digest.replace('sha256:', 'sha512:'))), 'metadata.integrity.c.f16');
    expectField(readPatched((b) => patchMetadata(b, '"c.f16":"sha256', '"c.f17":"sha256')), 'metadata.integrity.c.f17');
    expectField(readPatched((b) => patchMetadata(b, '"op":"abc"', '"op":12345')), 'metadata.provenance[0].op');
  });

  it('index: unsorted and duplicate names', () => {
    const a = entry('blk.0.x');
    const c = entry('blk.1.x');
    expectField(readPatched((b) => { b[a.at.name + 4] = 0x31; b[c.at.name + 4] = 0x30; }), `index[${indexOf('blk.1.x')}].name`);
    expectField(readPatched((b) => (b[c.at.name + 4] = 0x30)), `index[${indexOf('blk.1.x')}].name`);
    expect((readPatched((b) => (b[c.at.name + 4] = 0x30)) as Error).message).toContain('duplicate');
    expectField(readPatched((b) => { b[a.at.name] = 0xc3; }), `index[${indexOf('blk.0.x')}].name`); // lone UTF-8 lead byte
    expectField(readPatched((b) => { b[a.at.nameLen] = 0; b[a.at.nameLen + 1] = 0; }), /^index\[0\]/); // empty name
  });

  it('index: unknown dtype, too many dims, dims not a block multiple', () => {
    const q8 = entry('blk.1.x');
    const i = indexOf('blk.1.x');
    expectField(readPatched((b) => (b[q8.at.dtype] = 200)), `index[${i}].dtype`);
    expectField(readPatched((b) => (b[q8.at.ndim] = 9)), `index[${i}].ndim`);
    expectField(readPatched((b) => setU64(b, q8.at.dims + 8, 33)), `index[${i}].dims`);
    expectField(readPatched((b) => setU64(b, q8.at.dims, 0)), `index[${i}].size`); // [0, 32] needs 0 bytes, not 68
  });

  it('index: size ≠ byteSize(dtype, dims), ranges out of the data section, unaligned, overlapping', () => {
    const t = entry('d.q4k');
    const i = indexOf('d.q4k');
    expectField(readPatched((b) => setU64(b, t.at.size, t.size + 1)), `index[${i}].size`);
    expectField(readPatched((b) => setU64(b, t.at.size, 2n ** 64n - 1n)), `index[${i}].size`);
    expectField(readPatched((b) => setU64(b, t.at.offset, t.offset + 8)), `index[${i}].offset`);
    expectField(readPatched((b) => setU64(b, t.at.offset, 2n ** 64n - 64n)), `index[${i}].offset`);
    const dataLength = valid.byteLength - 4 - layout.dataOffset;
    expectField(readPatched((b) => setU64(b, t.at.offset, Math.floor(dataLength / 64) * 64)), `index[${i}].offset`);
    const other = entry('blk.0.x');
    const err = readPatched((b) => setU64(b, t.at.offset, other.offset));
    expectField(err, /^index\[\d+\]\.offset$/);
    expect((err as Error).message).toContain('overlaps');
  });

  it('footer: a flipped data byte fails the CRC; with verifyFooter off it opens and the digest check catches it', () => {
    const t = entry('c.f16');
    const flip = (b: Uint8Array): void => void (b[layout.dataOffset + t.offset + 3]! ^= 0x10);
    expectField(readPatched(flip, { footer: false }), 'footer.crc');
    expectField(readPatched((b) => (b[b.byteLength - 1]! ^= 1), { footer: false }), 'footer.crc');
    const b = valid.slice();
    flip(b);
    const p = path.join(dir, 'flipped.apr');
    writeFileSync(p, b);
    const apr = readApr(p, { verifyFooter: false });
    expect(() => apr.verifyTensor('blk.0.x')).not.toThrow();
    let err: unknown;
    try {
      apr.verifyTensor('c.f16');
    } catch (e) {
      err = e;
    }
    expectField(err, 'metadata.integrity.c.f16');
    const checked = readApr(p, { verifyFooter: false, verifyDigests: true });
    expect(() => checked.tensors.get('c.f16')!.read()).toThrow(FormatError);
    apr.tensors.close();
    checked.tensors.close();
    expect(() => inspectApr(p)).not.toThrow();
    expect(() => inspectApr(p, { verifyFooter: true })).toThrow(/footer\.crc/);
  });

  it('truncated and tiny files', () => {
    for (const n of [0, 3, 64, 67, 68, layout.indexOffset, layout.dataOffset + 10, valid.byteLength - 1]) {
      const p = path.join(dir, `trunc-${n}.apr`);
      writeFileSync(p, valid.subarray(0, n));
      expect(() => readApr(p), `length ${n}`).toThrow(FormatError);
    }
  });
});

function synthDigest(name: string): string {
  const integrity = (JSON.parse(Buffer.from(valid.subarray(64, 64 + layout.metadataSize)).toString('utf8')) as { integrity: Record<string, string> }).integrity;
  expect(u64(valid, 12)).toBe(64);
  return integrity[name]!;
}

import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Crc32, crc32, crc32Combine, crc32Portable } from '../../src/tensor/crc32.js';
import { DIGEST_LENGTH, Sha256Digest, isDigest, sha256Digest } from '../../src/tensor/digest.js';

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('crc32 (IEEE)', () => {
  it('matches the published check values', () => {
    // CRC-32/ISO-HDLC catalogue check value, and the well-known pangram value.
    for (const f of [crc32, crc32Portable]) {
      expect(f(ascii('123456789'))).toBe(0xcbf43926);
      expect(f(ascii('The quick brown fox jumps over the lazy dog'))).toBe(0x414fa339);
      expect(f(new Uint8Array(0))).toBe(0);
    }
  });

  it('portable implementation equals zlib on random data of every length mod 8', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat({ max: 0xffffffff }), (bytes, seed) => {
        expect(crc32Portable(bytes)).toBe(zlib.crc32(bytes) >>> 0);
        expect(crc32Portable(bytes, seed)).toBe(zlib.crc32(bytes, seed) >>> 0);
      }),
      { numRuns: 500 },
    );
  });

  it('incremental updates equal one pass', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 8 }), (parts) => {
        const inc = new Crc32();
        for (const p of parts) inc.update(p);
        const all = Buffer.concat(parts);
        expect(inc.digest()).toBe(zlib.crc32(all) >>> 0);
        expect(inc.length).toBe(all.byteLength);
      }),
      { numRuns: 300 },
    );
  });

  it('crc32Combine(crc(A), crc(B), |B|) = crc(A ++ B)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 2000 }), (a, b) => {
        expect(crc32Combine(zlib.crc32(a), zlib.crc32(b), b.byteLength)).toBe(zlib.crc32(Buffer.concat([a, b])) >>> 0);
      }),
      { numRuns: 300 },
    );
  });

  it('crc32Combine: zero runs of 3 MiB equal zlib, and shifts compose across 2^32 and 2^40', () => {
    const a = zlib.crc32(ascii('abc'));
    const zeros = new Uint8Array(3 << 20);
    expect(crc32Combine(a, zlib.crc32(zeros), zeros.byteLength)).toBe(zlib.crc32(zeros, a) >>> 0);
    // Appending L1 then L2 zero bytes must equal appending L1 + L2: a length truncated to 32 bits breaks this.
    for (const [l1, l2] of [[2 ** 32 - 1, 2], [2 ** 40 + 3, 2 ** 40 - 1], [2 ** 33, 2 ** 31 + 7]] as const) {
      expect(crc32Combine(crc32Combine(a, 0, l1), 0, l2)).toBe(crc32Combine(a, 0, l1 + l2));
    }
    expect(() => crc32Combine(a, 0, -1)).toThrow(RangeError);
  });
});

describe('sha256 digests', () => {
  it('matches the FIPS 180-2 "abc" vector', () => {
    expect(sha256Digest(ascii('abc'))).toBe('sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(sha256Digest(ascii('abc'))).toHaveLength(DIGEST_LENGTH);
  });

  it('streaming equals one shot and recognises the format', () => {
    const data = ascii('hello world, streamed');
    const d = new Sha256Digest().update(data.subarray(0, 5)).update(data.subarray(5)).digest();
    expect(d).toBe(`sha256:${createHash('sha256').update(data).digest('hex')}`);
    expect(isDigest(d)).toBe(true);
    expect(isDigest(d.toUpperCase())).toBe(false);
    expect(isDigest(d.slice(0, -1))).toBe(false);
    expect(isDigest(42)).toBe(false);
  });
});

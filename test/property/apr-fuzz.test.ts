import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type ByteSource, bufferSource, readApr, readAprFrom, writeApr } from '../../src/formats/apr/index.js';
import { FormatError } from '../../src/formats/errors.js';
import { fixFooterCrc, fixHeaderCrc, rawLayout, synthBundle } from '../unit/apr-helpers.js';

/**
 * Corrupted and truncated APR files: every case must end in a FormatError or a valid parse (whose tensors
 * then all read), never another exception, a hang, or a read larger than the file. A corrupted byte the
 * CRCs were not recomputed for must always be detected.
 */
const dir = mkdtempSync(path.join(tmpdir(), 'apr-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const validPath = path.join(dir, 'valid.apr');
writeApr(synthBundle(), validPath);
const VALID = new Uint8Array(readFileSync(validPath));
const LAYOUT = rawLayout(VALID);

/** A buffer source that fails the test on any read larger than the file and counts the bytes read. */
function guarded(bytes: Uint8Array): ByteSource & { total: number } {
  const inner = bufferSource(bytes, 'fuzz.apr');
  const check = (length: number): void => {
    if (length > inner.size) throw new Error(`read of ${length} bytes from a ${inner.size}-byte file`);
    src.total += length;
  };
  const src = {
    name: inner.name,
    size: inner.size,
    total: 0,
    read(offset: number, length: number): Uint8Array {
      check(length);
      return inner.read(offset, length);
    },
    readInto(target: Uint8Array, offset: number): void {
      check(target.byteLength);
      inner.readInto(target, offset);
    },
    close: () => inner.close(),
  };
  return src;
}

type Outcome = 'error' | 'ok';
/** FormatError fields seen, to check that the cases reach past the first checks. */
const seen = new Map<string, number>();
const note = (key: string): void => void seen.set(key, (seen.get(key) ?? 0) + 1);

/** Parses `bytes`; returns the outcome or rethrows anything that is not a FormatError. */
function outcome(bytes: Uint8Array): Outcome {
  const src = guarded(bytes);
  let result: Outcome;
  try {
    const b = readAprFrom(src);
    for (const name of b.tensors.names()) {
      const t = b.tensors.get(name)!;
      if (t.read().byteLength !== t.byteLength) throw new Error(`tensor ${name} read the wrong length`);
    }
    b.tensors.close();
    result = 'ok';
    note('ok');
  } catch (err) {
    if (!(err instanceof FormatError)) throw err;
    note(err.field.replace(/\[\d+\]/g, '[]').replace(/^metadata\.integrity\..*/, 'metadata.integrity.*'));
    result = 'error';
  }
  // Header + metadata + index + one footer pass + tensor reads: never more than three times the file.
  if (src.total > 3 * bytes.byteLength + 64) throw new Error(`read ${src.total} bytes of a ${bytes.byteLength}-byte file`);
  return result;
}

const fixed = (b: Uint8Array): Uint8Array => {
  if (b.byteLength >= 64) fixHeaderCrc(b);
  if (b.byteLength >= 4) fixFooterCrc(b);
  return b;
};

/** Byte positions of the length-like fields: header counts/offsets and every index entry's fields. */
const FIELDS: { at: number; width: 1 | 2 | 4 | 8 }[] = [
  { at: 8, width: 4 },
  { at: 12, width: 8 },
  { at: 20, width: 4 },
  { at: 24, width: 8 },
  { at: 32, width: 8 },
  ...LAYOUT.entries.flatMap((e) => [
    { at: e.at.nameLen, width: 2 as const },
    { at: e.at.dtype, width: 1 as const },
    { at: e.at.ndim, width: 1 as const },
    ...e.dims.map((_, d) => ({ at: e.at.dims + 8 * d, width: 8 as const })),
    { at: e.at.offset, width: 8 as const },
    { at: e.at.size, width: 8 as const },
  ]),
];

function writeField(b: Uint8Array, at: number, width: number, value: bigint): void {
  for (let i = 0; i < width; i++) b[at + i] = Number((value >> BigInt(8 * i)) & 0xffn);
}

const interesting = (size: number): fc.Arbitrary<bigint> =>
  fc.oneof(
    fc.constantFrom(0n, 1n, 2n, 63n, 64n, 65n, 255n, 0xffffn, 0xffffffffn, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n),
    fc.integer({ min: -64, max: 64 }).map((d) => BigInt(Math.max(0, size + d))),
    fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    fc.nat({ max: 4 * size }).map(BigInt),
  );

describe('APR v2 reader under corruption (fast-check, ≥ 10,000 cases)', () => {
  it('the uncorrupted file parses (control)', () => {
    expect(outcome(VALID.slice())).toBe('ok');
    expect(VALID.byteLength).toBeGreaterThan(1000);
  });

  it('every single-byte change at every position is detected (exhaustive)', () => {
    for (let pos = 0; pos < VALID.byteLength; pos++) {
      for (const x of [0x01, 0x80, 0xff]) {
        const b = VALID.slice();
        b[pos]! ^= x;
        expect(outcome(b), `byte ${pos} ^ ${x}`).toBe('error');
      }
    }
  });

  it('every truncation is detected (exhaustive), and so is any appended tail', () => {
    for (let n = 0; n < VALID.byteLength; n++) expect(outcome(VALID.slice(0, n)), `length ${n}`).toBe('error');
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), (tail) => {
        expect(outcome(Uint8Array.from([...VALID, ...tail]))).toBe('error');
      }),
      { numRuns: 500 },
    );
  });

  it('random byte changes without fixing the CRCs are always detected', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: VALID.byteLength - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }), (edits) => {
        const b = VALID.slice();
        for (const [pos, x] of edits) b[pos]! ^= x;
        if (b.every((v, i) => v === VALID[i])) return; // edits cancelled out
        expect(outcome(b)).toBe('error');
      }),
      { numRuns: 3000 },
    );
  });

  it('length and offset fields set to arbitrary values (CRCs recomputed): FormatError or a valid parse', () => {
    seen.clear();
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...FIELDS), interesting(VALID.byteLength)), { minLength: 1, maxLength: 3 }), (patches) => {
        const b = VALID.slice();
        for (const [f, v] of patches) writeField(b, f.at, f.width, v & ((1n << BigInt(8 * f.width)) - 1n));
        outcome(fixed(b));
      }),
      { numRuns: 4000 },
    );
    // Not vacuous: some patches keep the file valid, and the failures spread over the checks.
    expect(seen.get('ok') ?? 0).toBeGreaterThan(0);
    expect(seen.size).toBeGreaterThanOrEqual(12);
  });

  it('random overwrites, truncations and extensions (CRCs recomputed): FormatError or a valid parse', () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant('write' as const), pos: fc.nat({ max: VALID.byteLength - 1 }), bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }),
      fc.record({ kind: fc.constant('truncate' as const), len: fc.nat({ max: VALID.byteLength }) }),
      fc.record({ kind: fc.constant('extend' as const), bytes: fc.uint8Array({ maxLength: 300 }) }),
    );
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (muts) => {
        let b = VALID.slice();
        for (const m of muts) {
          if (m.kind === 'write') b.set(m.bytes.subarray(0, Math.max(0, b.byteLength - m.pos)), Math.min(m.pos, b.byteLength));
          else if (m.kind === 'truncate') b = b.slice(0, m.len);
          else b = Uint8Array.from([...b, ...m.bytes]);
        }
        outcome(fixed(b));
      }),
      { numRuns: 2700 },
    );
  });

  it('the file-backed reader behaves the same on a sample of corrupted files', () => {
    const p = path.join(dir, 'case.apr');
    fc.assert(
      fc.property(fc.nat({ max: VALID.byteLength - 1 }), fc.integer({ min: 1, max: 255 }), fc.boolean(), (pos, x, fix) => {
        const b = VALID.slice();
        b[pos]! ^= x;
        writeFileSync(p, fix ? fixed(b) : b);
        let got: Outcome = 'ok';
        try {
          readApr(p).tensors.close();
        } catch (err) {
          if (!(err instanceof FormatError)) throw err;
          got = 'error';
        }
        expect(got).toBe(outcome(b));
        if (!fix) expect(got).toBe('error');
      }),
      { numRuns: 300 },
    );
  });
});

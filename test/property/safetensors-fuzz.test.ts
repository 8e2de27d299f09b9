import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/errors.js';
import { type SafetensorsFile, openSafetensors, openSafetensorsBuffer } from '../../src/formats/safetensors/read.js';
import { serializeSafetensors } from '../../src/formats/safetensors/write.js';
import { DTYPES, type DType } from '../../src/tensor/dtype.js';
import { MemoryTensorStore, type TensorRef } from '../../src/tensor/store.js';

/**
 * Corrupted, truncated and mutated safetensors files: every case must end in a FormatError or in a parse
 * whose every tensor reads back with the declared size from inside the file. Any other exception type, a
 * case slower than 1 s (a hang), or a tensor range outside the file (a read that would allocate more than
 * the file holds) fails the property.
 */

const RUNS = 10_000;
const FILE_RUNS = 1_000;
const dir = mkdtempSync(join(tmpdir(), 'apr-st-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const dtypeArb = fc.constantFrom<DType>('F32', 'F16', 'BF16', 'I8', 'I16', 'I32');
const nameArb = fc.oneof(fc.constantFrom('w', 'model.layers.0.q_proj.weight', 'é', '😀', '__proto__', 'a"b', 'x\\y'), fc.string({ maxLength: 6 }));
const tensorArb = fc.record({ name: nameArb, dtype: dtypeArb, shape: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }) });

const validFileArb = fc
  .tuple(fc.uniqueArray(tensorArb, { maxLength: 4, selector: (t) => t.name }), fc.option(fc.dictionary(fc.string({ maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 }), { nil: undefined }))
  .map(([tensors, metadata]) => {
    const store = new MemoryTensorStore();
    for (const t of tensors) {
      const n = t.shape.reduce((a, b) => a * b, 1) * DTYPES[t.dtype].blockBytes;
      store.add(t.name, t.dtype, t.shape, Uint8Array.from({ length: n }, (_, i) => (i * 37) & 0xff));
    }
    return serializeSafetensors(store.names().map((n) => store.get(n) as TensorRef), metadata);
  });

function headerLength(bytes: Uint8Array): number {
  return bytes.byteLength < 8 ? 0 : Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true) & 0xffffffn);
}

function flipBytes(bytes: Uint8Array, flips: [number, number][]): Uint8Array {
  const out = bytes.slice();
  for (const [pos, x] of flips) if (out.length > 0) out[pos % out.length] = (out[pos % out.length] ?? 0) ^ (x || 1);
  return out;
}

function setLength(bytes: Uint8Array, len: bigint): Uint8Array {
  const out = bytes.slice();
  if (out.byteLength >= 8) new DataView(out.buffer).setBigUint64(0, len, true);
  return out;
}

/** Rewrites the header text (`edit`) and fixes the length prefix so the damage is inside the JSON. */
function editHeader(bytes: Uint8Array, edit: (text: string) => string): Uint8Array {
  if (bytes.byteLength < 8) return bytes;
  const n = Math.min(headerLength(bytes), bytes.byteLength - 8);
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  const h = new TextEncoder().encode(edit(text));
  const out = new Uint8Array(8 + h.byteLength + bytes.byteLength - 8 - n);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.byteLength), true);
  out.set(h, 8);
  out.set(bytes.subarray(8 + n), 8 + h.byteLength);
  return out;
}

const NUMBER_LITERALS = ['-1', '0', '1', '2', '3', '8', '1.0', '1e1', '4e0', '-0', '4294967296', '9007199254740993', '18446744073709551615', '99999999999999999999999', '1'.repeat(400)];

const mutationArb = fc.oneof(
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }).map((f) => (b: Uint8Array) => flipBytes(b, f)),
  fc.nat().map((k) => (b: Uint8Array) => b.subarray(0, k % (b.byteLength + 1))),
  fc
    .oneof(fc.constantFrom(0n, 1n, 7n, 100_000_001n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.integer({ min: -16, max: 16 }).map(BigInt))
    .map((v) => (b: Uint8Array) => setLength(b, v < 0n || v < 64n ? BigInt.asUintN(64, BigInt(headerLength(b)) + v) : v)),
  fc.tuple(fc.nat(), fc.constantFrom(...NUMBER_LITERALS)).map(([k, lit]) => (b: Uint8Array) =>
    editHeader(b, (text) => {
      const nums = [...text.matchAll(/\d+/g)];
      const m = nums[k % Math.max(1, nums.length)];
      return m?.index === undefined ? text : text.slice(0, m.index) + lit + text.slice(m.index + m[0].length);
    }),
  ),
  fc.tuple(fc.nat(), fc.constantFrom('{', '}', '[', ']', '"', ',', ':', '\\', '\\u', 'null', ' ', '\u0000', '\ud800')).map(([k, s]) => (b: Uint8Array) =>
    editHeader(b, (text) => {
      const at = k % (text.length + 1);
      return k % 2 ? text.slice(0, at) + s + text.slice(at) : text.slice(0, at) + text.slice(at + 1);
    }),
  ),
  fc.constant((b: Uint8Array) =>
    editHeader(b, (text) => {
      const m = /,("[^"]*":\{[^}]*\})/.exec(text) ?? /\{("[^"]*":\{[^}]*\})/.exec(text);
      return m?.[1] === undefined ? text : text.replace(m[1], `${m[1]},${m[1]}`);
    }),
  ),
  fc.uint8Array({ maxLength: 16 }).map((extra) => (b: Uint8Array) => new Uint8Array([...b, ...extra])),
);

const caseArb = fc.oneof(
  { weight: 9, arbitrary: fc.tuple(validFileArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 })).map(([f, ms]) => ms.reduce((b, m) => m(b), f)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }) },
);

function checkParsed(f: SafetensorsFile, size: number): void {
  const headerEnd = f.entries.length > 0 ? Math.min(...f.entries.map((e) => e.begin)) : size;
  let at = headerEnd;
  for (const e of f.entries) {
    expect(e.begin).toBe(at);
    expect(e.end).toBeLessThanOrEqual(size);
    const ref = f.get(e.name);
    expect(ref?.byteLength).toBe(e.end - e.begin);
    expect(ref?.byteLength).toBe(e.shape.reduce((a, d) => a * d, 1) * DTYPES[e.dtype].blockBytes);
    expect(ref?.read().byteLength).toBe(ref?.byteLength);
    at = e.end;
  }
  expect(at).toBe(size);
}

function runCase(open: () => SafetensorsFile, size: number): 'parsed' | 'rejected' {
  const t0 = performance.now();
  let outcome: 'parsed' | 'rejected';
  try {
    const f = open();
    try {
      checkParsed(f, size);
    } finally {
      f.close();
    }
    outcome = 'parsed';
  } catch (err) {
    if (!(err instanceof FormatError)) throw err;
    expect(err.message).not.toContain('\n');
    outcome = 'rejected';
  }
  expect(performance.now() - t0).toBeLessThan(1000);
  return outcome;
}

describe('safetensors reader under corruption', () => {
  it(`${RUNS} mutated buffers: FormatError or a valid parse, nothing else`, () => {
    const tally = { parsed: 0, rejected: 0 };
    fc.assert(
      fc.property(caseArb, (bytes) => {
        tally[runCase(() => openSafetensorsBuffer('fuzz.safetensors', bytes), bytes.byteLength)]++;
      }),
      { numRuns: RUNS, seed: 20240605 },
    );
    // Both outcomes must occur, or the mutators are not exercising the reader.
    expect(tally.parsed).toBeGreaterThan(RUNS / 50);
    expect(tally.rejected).toBeGreaterThan(RUNS / 2);
  });

  it(`${FILE_RUNS} mutated files through the fd reader`, () => {
    const path = join(dir, 'case.safetensors');
    fc.assert(
      fc.property(caseArb, (bytes) => {
        writeFileSync(path, bytes);
        runCase(() => openSafetensors(path), bytes.byteLength);
      }),
      { numRuns: FILE_RUNS, seed: 7 },
    );
  });
});

/**
 * Fuzzing the GGUF reader: corrupted, truncated and length-forged files must end in a FormatError or a
 * successful parse whose tensors all read back in bounds — never another exception, a hang or a huge
 * allocation (every count and length is checked against the bytes left before anything is allocated).
 * 10,500 parser cases plus 400 whole-bundle cases; runs in a few seconds.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/errors.js';
import { parseGguf, readGgufBundle } from '../../src/formats/gguf/index.js';
import { canDequantize, dequantize } from '../../src/tensor/codecs/index.js';
import { elementCount } from '../../src/tensor/dtype.js';
import { GgufBytes } from '../unit/gguf-bytes.js';

type Outcome = 'parsed' | 'format-error';

function parseAndReadAll(bytes: Uint8Array): Outcome {
  try {
    const f = parseGguf(bytes, 'fuzz.gguf');
    for (const t of f.tensors) {
      const data = f.read(t);
      if (data.byteLength !== t.byteLength || f.dataOffset + t.offset + t.byteLength > bytes.byteLength) throw new Error(`tensor ${t.name} read out of bounds`);
      const shape = [...t.dims].reverse();
      if (canDequantize(t.ggmlType)) dequantize(t.ggmlType, data, elementCount(shape));
    }
    return 'parsed';
  } catch (err) {
    if (err instanceof FormatError) return 'format-error';
    throw err;
  }
}

/** A synthetic file exercising every value type, nested arrays and three tensor types. */
function seedFile(): GgufBytes {
  const g = new GgufBytes().u32(0x46554747).u32(3).u64(3).u64(9);
  g.str('general.architecture').u32(8).str('llama');
  g.str('general.alignment').u32(4).u32(32);
  g.str('s.u8').u32(0).u8(7);
  g.str('s.i16').u32(3).raw([0xff, 0xff]);
  g.str('s.f64').u32(12).u64(0x3ff0000000000000n);
  g.str('s.bool').u32(7).u8(1);
  g.str('a.str').u32(9).u32(8).u64(3).str('alpha').str('').str('γ');
  g.str('a.i64').u32(9).u32(11).u64(2).u64(-5n).u64(9n);
  g.str('a.nested').u32(9).u32(9).u64(2).u32(6).u64(1).f32(1.5).u32(8).u64(1).str('x');
  g.str('t.f32').u32(2).u64(8).u64(2).u32(0).u64(0);
  g.str('t.q4_0').u32(1).u64(64).u32(2).u64(64);
  g.str('t.q6_k').u32(1).u64(256).u32(14).u64(128);
  g.padTo(32);
  for (let i = 0; i < 64; i++) g.u8((i * 37) & 0xff);
  for (let i = 0; i < 36; i++) g.u8((i * 11) & 0xff);
  g.padTo(32);
  for (let i = 0; i < 210; i++) g.u8((i * 5) & 0xff);
  return g;
}

const seed = seedFile();
const base = seed.bytes();

function mutate(edits: { pos: number; val: number }[]): Uint8Array {
  const b = base.slice();
  for (const e of edits) b[e.pos % b.length] = e.val;
  return b;
}

function forge(at: number, width: 4 | 8, value: bigint): Uint8Array {
  const b = base.slice();
  const dv = new DataView(b.buffer);
  if (width === 4) dv.setUint32(at, Number(value & 0xffffffffn), true);
  else dv.setBigUint64(at, value, true);
  return b;
}

const interesting = fc.oneof(
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  fc.bigInt({ min: 0n, max: 600n }),
  fc.constantFrom(0n, 1n, 31n, 32n, 33n, 255n, 256n, 0x7fffffffn, 0xffffffffn, 1n << 32n, 1n << 53n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 1n),
);

describe('GGUF reader fuzz', () => {
  it('the unmodified seed parses', () => {
    expect(parseAndReadAll(base)).toBe('parsed');
    expect(parseGguf(base).tensors.map((t) => t.ggmlType)).toEqual(['F32', 'Q4_0', 'Q6_K']);
  });

  it('random byte edits (4,000 cases)', () => {
    const edit = fc.record({ pos: fc.nat({ max: base.length - 1 }), val: fc.integer({ min: 0, max: 255 }) });
    const outcomes = new Set<Outcome>();
    fc.assert(fc.property(fc.array(edit, { minLength: 1, maxLength: 6 }), (edits) => void outcomes.add(parseAndReadAll(mutate(edits)))), { numRuns: 4000, seed: 1 });
    expect([...outcomes].sort()).toEqual(['format-error', 'parsed']);
  });

  it('truncation at every point (2,000 cases)', () => {
    const outcomes = new Set<Outcome>();
    fc.assert(fc.property(fc.nat({ max: base.length }), (n) => void outcomes.add(parseAndReadAll(base.slice(0, n)))), { numRuns: 2000, seed: 2 });
    expect(outcomes.has('format-error')).toBe(true);
  });

  it('forged counts, lengths, types and offsets (3,500 cases)', () => {
    const field = fc.oneof(
      fc.constantFrom(...seed.u64At).map((at) => ({ at, width: 8 as const })),
      fc.constantFrom(...seed.u32At).map((at) => ({ at, width: 4 as const })),
    );
    const outcomes = new Set<Outcome>();
    fc.assert(fc.property(field, interesting, ({ at, width }, v) => void outcomes.add(parseAndReadAll(forge(at, width, v)))), { numRuns: 3500, seed: 3 });
    expect([...outcomes].sort()).toEqual(['format-error', 'parsed']);
  });

  it('random bytes after a valid magic and version (1,000 cases)', () => {
    const head = base.subarray(0, 8);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (tail) => {
        const b = new Uint8Array(8 + tail.length);
        b.set(head);
        b.set(tail, 8);
        return parseAndReadAll(b) !== undefined;
      }),
      { numRuns: 1000, seed: 4 },
    );
  });
});

describe('GGUF bundle reader fuzz', () => {
  const dir = mkdtempSync(join(tmpdir(), 'apr-gguf-fuzz-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A two-head llama with a four-token gpt2 vocabulary: everything readGgufBundle maps. */
  function llamaFile(): Uint8Array {
    const g = new GgufBytes().u32(0x46554747).u32(3).u64(3).u64(12);
    g.str('general.architecture').u32(8).str('llama');
    for (const [k, v] of [['block_count', 1], ['context_length', 64], ['embedding_length', 32], ['feed_forward_length', 32], ['attention.head_count', 2], ['attention.head_count_kv', 1]] as const) g.str(`llama.${k}`).u32(4).u32(v);
    g.str('llama.attention.layer_norm_rms_epsilon').u32(6).f32(1e-5);
    g.str('tokenizer.ggml.model').u32(8).str('gpt2');
    g.str('tokenizer.ggml.tokens').u32(9).u32(8).u64(4).str('a').str('b').str('ab').str('<|e|>');
    g.str('tokenizer.ggml.merges').u32(9).u32(8).u64(1).str('a b');
    g.str('tokenizer.ggml.eos_token_id').u32(4).u32(3);
    g.str('token_embd.weight').u32(2).u64(32).u64(4).u32(0).u64(0);
    g.str('blk.0.attn_q.weight').u32(2).u64(32).u64(32).u32(8).u64(512);
    g.str('blk.0.attn_k.weight').u32(2).u64(32).u64(16).u32(1).u64(1664);
    g.padTo(32);
    for (let i = 0; i < 512 + 1152 + 1024; i++) g.u8((i * 13) & 0xff);
    return g.bytes();
  }

  it('mutated llama files end in a bundle or a FormatError (400 cases)', () => {
    const llama = llamaFile();
    const path = join(dir, 'llama.gguf');
    const tryBundle = (bytes: Uint8Array): Outcome => {
      writeFileSync(path, bytes);
      try {
        const b = readGgufBundle(path);
        for (const n of b.tensors.names()) b.tensors.get(n)?.read();
        b.tensors.close();
        return 'parsed';
      } catch (err) {
        if (err instanceof FormatError) return 'format-error';
        throw err;
      }
    };
    expect(tryBundle(llama)).toBe('parsed');
    const edit = fc.record({ pos: fc.nat({ max: 900 }), val: fc.integer({ min: 0, max: 255 }) });
    const outcomes = new Set<Outcome>();
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        const b = llama.slice();
        for (const e of edits) b[e.pos] = e.val;
        outcomes.add(tryBundle(b));
      }),
      { numRuns: 400, seed: 5 },
    );
    expect([...outcomes].sort()).toEqual(['format-error', 'parsed']);
  });
});

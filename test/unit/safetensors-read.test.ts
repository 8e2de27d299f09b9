import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/errors.js';
import { readHfDir } from '../../src/formats/hf-dir/read.js';
import { readSafetensorsModel } from '../../src/formats/safetensors/model.js';
import { MAX_HEADER_BYTES, openSafetensors, openSafetensorsBuffer } from '../../src/formats/safetensors/read.js';

const FIX = resolve(process.cwd(), '../shared/fixtures');
const tmp = mkdtempSync(join(tmpdir(), 'apr-st-read-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A safetensors file from raw header text (not padded), `data` bytes, and optionally a forged length prefix. */
function file(header: string | Uint8Array, data = 0, length?: bigint): Uint8Array {
  const h = typeof header === 'string' ? new TextEncoder().encode(header) : header;
  const out = new Uint8Array(8 + h.byteLength + data);
  new DataView(out.buffer).setBigUint64(0, length ?? BigInt(h.byteLength), true);
  out.set(h, 8);
  for (let i = 0; i < data; i++) out[8 + h.byteLength + i] = i & 0xff;
  return out;
}

const t = (name: string, dtype: string, shape: number[] | string, begin: number | string, end: number | string) =>
  `${JSON.stringify(name)}:{"dtype":"${dtype}","shape":${typeof shape === 'string' ? shape : JSON.stringify(shape)},"data_offsets":[${begin},${end}]}`;

function rejection(bytes: Uint8Array): FormatError {
  try {
    openSafetensorsBuffer('case.safetensors', bytes).close();
  } catch (err) {
    if (err instanceof FormatError) return err;
    throw err;
  }
  throw new Error('accepted');
}

// Every case below is one the reference reader (safetensors 0.8 `deserialize`) rejects too.
const CASES: [string, Uint8Array, string, RegExp][] = [
  ['file shorter than the length prefix', new Uint8Array(5), 'header length', /shorter than the 8-byte/],
  ['header length past the end of the file', file('{}', 0, 100n), 'header length', /runs past the end/],
  ['header length of 2^64-1', file('{}', 0, 0xffffffffffffffffn), 'header length', /exceeds/],
  ['header over 100 MB', file('{}', 0, BigInt(MAX_HEADER_BYTES + 1)), 'header length', /exceeds the 100000000-byte limit/],
  ['header not UTF-8', file(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), 'header', /not valid UTF-8/],
  ['header not JSON', file('{"a":'), 'header', /invalid JSON/],
  ['header an array', file('[]'), 'header', /expected a JSON object/],
  ['byte-order mark', file('\ufeff{}'), 'header', /unexpected character/],
  ['-0 (serde_json reads a float)', file(`{${t('w', 'F32', '[-0]', 0, 0)}}`), 'w.shape', /non-negative integers/],
  ['trailing characters', file('{}x'), 'header', /trailing characters/],
  ['NUL padding', file('{}\0\0'), 'header', /trailing characters/],
  ['control character in a name', file('{"a\u0001":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 4), 'header', /control character/],
  ['lone surrogate escape', file('{"\\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', 4), 'header', /surrogate/],
  ['nesting deeper than 128', file(`{"__metadata__":${'['.repeat(200)}${']'.repeat(200)}}`), 'header', /nesting deeper/],
  ['unknown dtype', file(`{${t('w', 'F31', [1], 0, 4)}}`, 4), 'w.dtype', /unknown dtype "F31"/],
  ['missing dtype', file('{"w":{"shape":[1],"data_offsets":[0,4]}}', 4), 'w.dtype', /missing/],
  ['entry not an object', file('{"w":[1,2]}'), 'w', /expected a tensor entry object/],
  ['shape with a float', file(`{${t('w', 'F32', '[1.0]', 0, 4)}}`, 4), 'w.shape', /non-negative integers/],
  ['shape with a negative', file(`{${t('w', 'F32', '[-1]', 0, 4)}}`, 4), 'w.shape', /non-negative integers/],
  ['offset in exponent form', file(`{${t('w', 'F32', [1], 0, '4e0')}}`, 4), 'w.data_offsets', /non-negative integers/],
  ['offset beyond 2^53', file(`{${t('w', 'F32', [1], 0, '18446744073709551616')}}`, 4), 'w.data_offsets', /non-negative integers/],
  ['three offsets', file('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}}', 4), 'w.data_offsets', /\[begin, end\]/],
  ['end before begin', file(`{${t('w', 'F32', [1], 4, 0)}}`, 4), 'w.data_offsets', /end 0 < begin 4/],
  ['shape × dtype ≠ byte range', file(`{${t('w', 'F32', [2], 0, 4)}}`, 4), 'w.data_offsets', /covers 4 bytes but F32\[2\] needs 8/],
  ['shape product overflows', file(`{${t('w', 'I8', [4294967296, 4294967296], 0, 0)}}`), 'w.shape', /overflows/],
  ['overlapping offsets', file(`{${t('a', 'F32', [2], 0, 8)},${t('b', 'F32', [1], 4, 8)}}`, 8), 'b.data_offsets', /overlaps/],
  ['gap between tensors', file(`{${t('a', 'F32', [1], 0, 4)},${t('b', 'F32', [1], 8, 12)}}`, 12), 'b.data_offsets', /leaves a gap/],
  ['gap before the first tensor', file(`{${t('a', 'F32', [1], 4, 8)}}`, 8), 'a.data_offsets', /leaves a gap/],
  ['offsets past the data', file(`{${t('a', 'F32', [2], 0, 8)}}`, 4), 'data_offsets', /run past the end/],
  ['data left over after the tensors', file(`{${t('a', 'F32', [1], 0, 4)}}`, 8), 'data_offsets', /do not reach the end/],
  ['duplicate tensor name (JSON.parse would keep the last)', file(`{${t('w', 'F32', [1], 0, 4)},${t('w', 'F32', [1], 4, 8)}}`, 8), 'w', /duplicate tensor name/],
  ['duplicate name spelled with an escape', file(`{${t('ab', 'F32', [1], 0, 4)},"a\\u0062":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, 8), 'ab', /duplicate tensor name/],
  ['duplicate field in an entry', file('{"w":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}', 4), 'w.dtype', /duplicate key/],
  ['metadata value not a string', file('{"__metadata__":{"format":1}}'), '__metadata__.format', /expected a string/],
  ['metadata not an object', file('{"__metadata__":"pt"}'), '__metadata__', /object of strings/],
];

describe('safetensors reader rejects what the reference rejects', () => {
  for (const [what, bytes, field, message] of CASES) {
    it(`${what} → FormatError naming ${field}`, () => {
      const err = rejection(bytes);
      expect(err.file).toBe('case.safetensors');
      expect(err.field).toBe(field);
      expect(err.message).toMatch(message);
      expect(err.message.startsWith(`case.safetensors: ${field}: `)).toBe(true);
      expect(err.message).not.toContain('\n');
    });
  }

  it('names a valid reference dtype this toolkit does not compute with (F64) as unsupported, not unknown', () => {
    const err = rejection(file(`{${t('w', 'F64', [1], 0, 8)}}`, 8));
    expect(err.field).toBe('w.dtype');
    expect(err.message).toMatch(/F64 is not supported by apr/);
  });

  it('a file truncated after opening raises a FormatError on read, naming the tensor', () => {
    const p = join(tmp, 'shrinks.safetensors');
    writeFileSync(p, file(`{${t('w', 'F32', [2], 0, 8)}}`, 8));
    const f = openSafetensors(p);
    writeFileSync(p, file(`{${t('w', 'F32', [2], 0, 8)}}`, 2));
    expect(() => f.get('w')?.read()).toThrow(/w: file truncated while reading/);
    f.close();
  });
});

describe('safetensors reader accepts what the reference accepts', () => {
  it('the reference crate test vector (test_serialization) parses to its values', () => {
    // From safetensors/src/tensor.rs test_serialization: attn.0 F32 [1,2,3] = 0..5.
    const header = '{"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}}';
    const data = new Float32Array([0, 1, 2, 3, 4, 5]);
    const bytes = new Uint8Array([...file(header), ...new Uint8Array(data.buffer)]);
    const f = openSafetensorsBuffer('v', bytes);
    expect(f.get('attn.0')?.shape).toEqual([1, 2, 3]);
    expect([...new Float32Array(f.get('attn.0')!.read().slice().buffer)]).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('scalars, zero-element tensors, whitespace, unknown entry fields, null metadata and a __proto__ name', () => {
    const header = ` \t{"__metadata__":null,"__proto__":{"dtype":"I32","shape":[],"data_offsets":[0,4],"extra":[1.5]},\n"e":{"dtype":"F16","shape":[0,3],"data_offsets":[4,4]}}  `;
    const f = openSafetensorsBuffer('ok', file(header, 4));
    expect(f.names()).toEqual(['__proto__', 'e']);
    expect(f.get('__proto__')?.shape).toEqual([]);
    expect(f.get('__proto__')?.byteLength).toBe(4);
    expect(f.get('e')?.read().byteLength).toBe(0);
    expect(f.metadata).toEqual({});
  });

  it('entries listed out of offset order are laid out by offset', () => {
    const f = openSafetensorsBuffer('ok', file(`{${t('b', 'F32', [1], 4, 8)},${t('a', 'I16', [2], 0, 4)}}`, 8));
    expect(f.entries.map((e) => e.name)).toEqual(['a', 'b']);
    expect([...f.get('b')!.read()]).toEqual([4, 5, 6, 7]);
  });
});

describe('readSafetensorsModel', () => {
  it('opens a fixture model.safetensors with the config.json and tokenizer beside it', () => {
    const b = readSafetensorsModel(join(FIX, 'models/tiny-draft-llama/model.safetensors'));
    const ref = readHfDir(join(FIX, 'models/tiny-draft-llama'));
    expect(b.source.format).toBe('safetensors');
    expect(b.config).toEqual(ref.config);
    expect(b.config.hidden_size).toBe(128);
    expect(b.tensors.names()).toEqual(ref.tensors.names());
    expect(b.tokenizer?.chatTemplate).toContain('<|im_start|>');
    expect(b.metadata).toEqual({ format: 'pt' });
    b.tensors.close();
    ref.tensors.close();
  });

  it('without a config.json beside it: a FormatError naming config.json', () => {
    const p = join(tmp, 'alone.safetensors');
    writeFileSync(p, file('{}'));
    expect(() => readSafetensorsModel(p)).toThrow(FormatError);
    expect(() => readSafetensorsModel(p)).toThrow(/alone\.safetensors: config\.json: .*holds no architecture/);
  });
});

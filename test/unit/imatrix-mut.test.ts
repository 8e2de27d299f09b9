/**
 * Importance-matrix files built byte by byte from the format definitions (GGUF v3: `<name>.in_sum2` and
 * `<name>.counts` F32 tensors plus imatrix.* keys; legacy .dat: i32 n; n × (i32 len, name, i32 ncall, i32 nval,
 * f32[nval]); optional i32 chunk count, i32 len, dataset). Every malformed input fails with a one-line message
 * naming the file and the field; weights = sums / count per matrix (legacy: stored / ncall).
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readGguf } from '../../src/formats/gguf/index.js';
import { type CollectedImatrix, type Imatrix, collectedFrom, encodeImatrixLegacy, imatrixWeights, parseImatrix, readImatrix, weightsFor, writeImatrix } from '../../src/formats/imatrix/index.js';
import { tempDir } from '../helpers.js';

const tmp = tempDir('apr-imatrix-mut-');
afterAll(() => tmp.cleanup());

const f = Math.fround;

/** Little-endian byte builder. */
class Bytes {
  readonly out: number[] = [];
  u32(v: number): this {
    this.out.push(...new Uint8Array(Uint32Array.of(v).buffer));
    return this;
  }
  i32(v: number): this {
    this.out.push(...new Uint8Array(Int32Array.of(v).buffer));
    return this;
  }
  u64(v: number): this {
    this.out.push(...new Uint8Array(BigUint64Array.of(BigInt(v)).buffer));
    return this;
  }
  f32s(v: readonly number[]): this {
    this.out.push(...new Uint8Array(Float32Array.from(v).buffer));
    return this;
  }
  raw(s: string): this {
    this.out.push(...new TextEncoder().encode(s));
    return this;
  }
  gstr(s: string): this {
    return this.u64(new TextEncoder().encode(s).byteLength).raw(s);
  }
  pad(a: number): this {
    while (this.out.length % a !== 0) this.out.push(0);
    return this;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

type Kv = [string, { u32: number } | { i32: number } | { str: string } | { strs: string[] } | { u32s: number[] }];
interface T { name: string; dims: number[]; type?: number; values: number[] }

/** A GGUF v3 file written from the spec: preamble, KVs, tensor infos, data aligned to 32. */
function gguf(kv: Kv[], tensors: T[]): Uint8Array {
  const b = new Bytes().raw('GGUF').u32(3).u64(tensors.length).u64(kv.length);
  for (const [key, v] of kv) {
    b.gstr(key);
    if ('u32' in v) b.u32(4).u32(v.u32);
    else if ('i32' in v) b.u32(5).i32(v.i32);
    else if ('str' in v) b.u32(8).gstr(v.str);
    else if ('strs' in v) {
      b.u32(9).u32(8).u64(v.strs.length);
      for (const s of v.strs) b.gstr(s);
    } else {
      b.u32(9).u32(4).u64(v.u32s.length);
      for (const x of v.u32s) b.u32(x);
    }
  }
  let off = 0;
  const sizes = tensors.map((t) => (t.type === 1 ? 2 : 4) * t.values.length);
  tensors.forEach((t, i) => {
    b.gstr(t.name).u32(t.dims.length);
    for (const d of t.dims) b.u64(d);
    b.u32(t.type ?? 0).u64(off);
    off += Math.ceil((sizes[i] ?? 0) / 32) * 32;
  });
  b.pad(32);
  for (const t of tensors) {
    if (t.type === 1) for (const _ of t.values) b.out.push(0, 0x3c); // F16 1.0
    else b.f32s(t.values);
    b.pad(32);
  }
  return b.bytes();
}

const META: Kv[] = [['imatrix.datasets', { strs: ['c.txt'] }], ['imatrix.chunk_count', { u32: 3 }], ['imatrix.chunk_size', { u32: 64 }]];
const pair = (name: string, sums: number[], counts: number[]): T[] => [
  { name: `${name}.in_sum2`, dims: counts.length > 1 ? [sums.length / counts.length, counts.length] : [sums.length], values: sums },
  { name: `${name}.counts`, dims: counts.length > 1 ? [1, counts.length] : [1], values: counts },
];

/** A legacy .dat file from its definition. */
function dat(entries: [string, number, number[]][], trailer?: (b: Bytes) => void): Uint8Array {
  const b = new Bytes().i32(entries.length);
  for (const [name, ncall, vals] of entries) b.i32(new TextEncoder().encode(name).byteLength).raw(name).i32(ncall).i32(vals.length).f32s(vals);
  trailer?.(b);
  return b.bytes();
}

describe('GGUF imatrix read from bytes', () => {
  it('entries in name order with raw sums and counts; weights = sums / count per matrix [ob:imatrix-file-roundtrip]', () => {
    const bytes = gguf(META, [...pair('d.weight', [2], [4]), ...pair('b.weight', [1, 3], [2]), ...pair('c.weight', [8, 6, 4, 2], [4, 2]), ...pair('a.weight', [5], [5])]);
    const m = parseImatrix(bytes, 'x.gguf');
    expect([...m.entries.keys()]).toEqual(['a.weight', 'b.weight', 'c.weight', 'd.weight']);
    expect([m.format, m.hasMetadata, m.chunkCount, m.chunkSize, m.datasets]).toEqual(['gguf', true, 3, 64, ['c.txt']]);
    expect(m.entries.get('c.weight')?.counts).toEqual([4, 2]);
    const w = imatrixWeights(m);
    expect(Array.from(w.get('c.weight') ?? [])).toEqual([8 / 4, 6 / 4, 4 / 2, 2 / 2]);
    expect(Array.from(w.get('b.weight') ?? [])).toEqual([0.5, 1.5]);
    // names apr cannot map to Hugging Face add no second key
    expect([...w.keys()]).toEqual(['a.weight', 'b.weight', 'c.weight', 'd.weight']);
  });

  it('other orders of the same tensors give the same name order', () => {
    for (const order of [['b', 'a', 'c'], ['c', 'b', 'a'], ['a', 'c', 'b'], ['c', 'a', 'b']]) {
      const m = parseImatrix(gguf(META, order.flatMap((n) => pair(n, [1], [1]))), 'o.gguf');
      expect([...m.entries.keys()]).toEqual(['a', 'b', 'c']);
    }
  });

  it('datasets: absent → [], not a string array → []; each missing key clears hasMetadata', () => {
    const t = pair('a', [1], [1]);
    const none = parseImatrix(gguf([], t), 'n.gguf');
    expect([none.datasets, none.chunkCount, none.chunkSize, none.hasMetadata]).toEqual([[], 0, 0, false]);
    expect(parseImatrix(gguf([['imatrix.datasets', { str: 'abc' }]], t)).datasets).toEqual([]);
    expect(parseImatrix(gguf([['imatrix.datasets', { u32s: [1, 2] }]], t)).datasets).toEqual([]);
    for (let drop = 0; drop < 3; drop++) {
      expect(parseImatrix(gguf(META.filter((_, i) => i !== drop), t)).hasMetadata).toBe(false);
    }
  });

  it('tensor names must end in .in_sum2/.counts and match from the start of the name', () => {
    // "a.in_sum2.bak" and a name broken by a newline are not imatrix tensors and are skipped
    const m = parseImatrix(gguf(META, [...pair('a', [1], [1]), { name: 'z.in_sum2.bak', dims: [1], values: [1] }, { name: 'x\ny.in_sum2', dims: [1], values: [1] }]), 's.gguf');
    expect([...m.entries.keys()]).toEqual(['a']);
    // a lone unrelated tensor is no error: just no entries
    expect(parseImatrix(gguf(META, [{ name: 'other', dims: [1], values: [1] }]), 'u.gguf').entries.size).toBe(0);
  });

  it('malformed GGUF imatrices fail naming the file and the field', () => {
    expect(() => parseImatrix(gguf(META, []), 'e.gguf')).toThrow('e.gguf: tensors: no data in the importance matrix');
    const f16 = [{ name: 'a.in_sum2', dims: [2], type: 1, values: [1, 1] }, { name: 'a.counts', dims: [1], values: [1] }];
    expect(() => parseImatrix(gguf(META, f16), 'h.gguf')).toThrow("h.gguf: tensor 'a.in_sum2': sums and counts must be F32, got F16");
    expect(() => parseImatrix(gguf(META, [{ name: 'a.in_sum2', dims: [5], values: [1, 2, 3, 4, 5] }, { name: 'a.counts', dims: [1, 2], values: [1, 1] }]), 'p.gguf')).toThrow(
      "p.gguf: tensor 'a.in_sum2': 5 sums do not split into 2 matrices",
    );
    expect(() => parseImatrix(gguf(META, [{ name: 'a.in_sum2', dims: [2], values: [1, 2] }, { name: 'a.counts', dims: [0], values: [] }]), 'z.gguf')).toThrow(
      "z.gguf: tensor 'a.in_sum2': 2 sums do not split into 0 matrices",
    );
    const badKey: Kv[] = [['imatrix.datasets', { strs: [] }], ['imatrix.chunk_count', { i32: 3 }]];
    expect(() => parseImatrix(gguf(badKey, pair('a', [1], [1])), 'k.gguf')).toThrow('k.gguf: imatrix.chunk_count: expected a u32, got i32');
  });

  it('collectedFrom gives the raw sums of a GGUF imatrix and nothing for a legacy one', () => {
    const m = parseImatrix(gguf(META, pair('a', [1, 2], [3])), 'c.gguf');
    expect(collectedFrom(m)).toEqual({ entries: m.entries, datasets: ['c.txt'], chunkCount: 3, chunkSize: 64 });
    expect(collectedFrom(parseImatrix(dat([['a', 1, [1]]])))).toBeUndefined();
  });
});

describe('legacy .dat imatrix read from bytes', () => {
  it('entries, the trailer and weights = stored / ncall (stored as is when ncall ≤ 0) [ob:imatrix-file-roundtrip]', () => {
    const m = parseImatrix(dat([['q', 4, [2, 6]], ['', 2, [3]], ['z', 0, [7, 9]], ['n', -1, [5]]], (b) => b.i32(11).i32(3).raw('cal')), 'l.dat');
    expect([m.format, m.hasMetadata, m.chunkCount, m.chunkSize, m.datasets]).toEqual(['dat', false, 11, 0, ['cal']]);
    expect([...m.entries.keys()]).toEqual(['q', '', 'z', 'n']);
    expect(m.entries.get('q')?.counts).toEqual([4]);
    const w = imatrixWeights(m);
    expect(Array.from(w.get('q') ?? [])).toEqual([0.5, 1.5]);
    expect(Array.from(w.get('') ?? [])).toEqual([1.5]);
    expect(Array.from(w.get('z') ?? [])).toEqual([7, 9]);
    expect(Array.from(w.get('n') ?? [])).toEqual([5]);
  });

  it('trailers: chunk count alone, empty dataset, dataset longer than the rest, a short length field', () => {
    const one: [string, number, number[]][] = [['q', 1, [1]]];
    const chunksOnly = parseImatrix(dat(one, (b) => b.i32(9)), 'a.dat');
    expect([chunksOnly.chunkCount, chunksOnly.datasets]).toEqual([9, []]);
    expect(parseImatrix(dat(one, (b) => b.i32(9).i32(0)), 'b.dat').datasets).toEqual([]);
    const long = parseImatrix(dat(one, (b) => b.i32(9).i32(10).raw('abc')), 'c.dat');
    expect([long.chunkCount, long.datasets]).toEqual([9, []]);
    const short = parseImatrix(dat(one, (b) => b.i32(9).raw('xy')), 'd.dat');
    expect([short.chunkCount, short.datasets]).toEqual([9, []]);
  });

  it('a legacy file whose first byte is "G" (71 entries) is not taken for GGUF', () => {
    const many = Array.from({ length: 71 }, (_, i): [string, number, number[]] => [`t${i}`, 1, [i]]);
    const bytes = dat(many);
    expect(bytes[0]).toBe(0x47);
    expect(parseImatrix(bytes, 'g.dat').entries.size).toBe(71);
  });

  it('malformed legacy files fail naming the file and the field', () => {
    expect(() => parseImatrix(Uint8Array.of(1, 0))).toThrow('<buffer>: n_entries: needs 4 bytes, 2 left');
    expect(() => parseImatrix(new Bytes().i32(1).raw('ab').bytes(), 'a.dat')).toThrow('a.dat: entry[0].name_length: needs 4 bytes, 2 left');
    expect(() => parseImatrix(new Bytes().i32(1).i32(1).raw('q').raw('x').bytes(), 'b.dat')).toThrow("b.dat: entry 'q'.ncall: needs 4 bytes, 1 left");
    expect(() => parseImatrix(new Bytes().i32(1).i32(1).raw('q').i32(1).raw('xyz').bytes(), 'c.dat')).toThrow("c.dat: entry 'q'.nval: needs 4 bytes, 3 left");
    expect(() => parseImatrix(new Bytes().i32(1).i32(1).raw('q').i32(1).i32(0).bytes(), 'd.dat')).toThrow("d.dat: entry 'q'.nval: expected ≥ 1 values, got 0");
    expect(() => parseImatrix(new Bytes().i32(0).bytes(), 'e.dat')).toThrow('e.dat: n_entries: no data (0 entries)');
  });
});

describe('weightsFor', () => {
  it('looks a Hugging Face name up under its own key first, then under its GGUF name', () => {
    const own = Float32Array.of(1);
    const gg = Float32Array.of(2);
    const hf = 'model.layers.0.self_attn.q_proj.weight';
    expect(weightsFor(new Map([[hf, own], ['blk.0.attn_q.weight', gg]]), hf)).toBe(own);
    expect(weightsFor(new Map([['blk.0.attn_q.weight', gg]]), hf)).toBe(gg);
    expect(weightsFor(new Map([['other', gg]]), 'other')).toBe(gg);
  });
});

describe('imatrix writers', () => {
  const collected = (): CollectedImatrix => ({
    entries: new Map([
      ['c', { sums: Float32Array.of(4, 8, 3, 6, 0, 0), counts: [256, 2, 0] }],
      ['a', { sums: Float32Array.of(1, 2), counts: [2] }],
      ['b', { sums: Float32Array.of(5), counts: [] }],
      ['d', { sums: new Float32Array(0), counts: [5] }],
      ['e', { sums: Float32Array.of(1), counts: [0] }],
    ]),
    datasets: [],
    chunkCount: 7,
    chunkSize: 128,
  });

  it('GGUF: imatrix.* keys, sorted tensors, dims without trailing 1s; entries with no counts or sums skipped [ob:imatrix-file-roundtrip]', () => {
    const path = join(tmp.dir, 'w.gguf');
    writeImatrix(path, { ...collected(), datasets: ['d1', 'd2'] }, 'gguf');
    const g = readGguf(path);
    try {
      expect(Object.fromEntries(g.kv)).toEqual({
        'general.type': { type: 'string', value: 'imatrix' },
        'imatrix.datasets': { type: 'array', itemType: 'string', value: ['d1', 'd2'] },
        'imatrix.chunk_count': { type: 'u32', value: 7 },
        'imatrix.chunk_size': { type: 'u32', value: 128 },
      });
      expect(g.tensors.map((t) => [t.name, t.dims])).toEqual([
        ['a.in_sum2', [2]], ['a.counts', [1]],
        ['c.in_sum2', [2, 3]], ['c.counts', [1, 3]],
        ['e.in_sum2', [1]], ['e.counts', [1]],
      ]);
    } finally {
      g.close();
    }
    const back: Imatrix = readImatrix(path);
    expect(Array.from(back.entries.get('c')?.sums ?? [])).toEqual([4, 8, 3, 6, 0, 0]);
  });

  it('legacy: sorted entries with data, ncall = ⌈max count / chunk size⌉, no-token matrices store 1·ncall, empty dataset name', () => {
    const c = collected();
    c.entries.delete('d');
    c.entries.delete('b');
    const expected = new Bytes().i32(2);
    expected.i32(1).raw('a').i32(1).i32(2).f32s([f(1 / 2), f(2 / 2)]);
    // ⌈256/128⌉ = 2; per matrix (sum / count)·2, and 1·2 where the count is 0
    expected.i32(1).raw('c').i32(2).i32(6).f32s([f(f(4 / 256) * 2), f(f(8 / 256) * 2), f(f(3 / 2) * 2), f(f(6 / 2) * 2), 2, 2]);
    expected.i32(7).i32(0);
    expect(Array.from(encodeImatrixLegacy(c))).toEqual(expected.out);
  });
});

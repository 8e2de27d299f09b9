/**
 * llama.cpp's importance-matrix files (tools/imatrix/imatrix.cpp, common/imatrix-loader.cpp, commit 80fb11a):
 * the GGUF layout and the legacy .dat layout, written and read back; the per-column weights follow
 * llama-quantize's load_imatrix (sums / count per matrix, 1 for a matrix with no tokens; legacy: stored /
 * ncall). Reading files that llama-imatrix itself wrote is in test/golden/imatrix-llama.test.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/errors.js';
import { readGguf } from '../../src/formats/gguf/index.js';
import { type CollectedImatrix, encodeImatrixLegacy, imatrixWeights, parseImatrix, readImatrix, weightsFor, writeImatrix } from '../../src/formats/imatrix/index.js';
import { tempDir } from '../helpers.js';

const tmp = tempDir('apr-imatrix-format-');
afterAll(() => tmp.cleanup());

const f = Math.fround;

function sample(): CollectedImatrix {
  return {
    entries: new Map([
      ['blk.0.attn_q.weight', { sums: Float32Array.from([4, 9, 0.5, 2.25]), counts: [256] }],
      // two "expert" matrices, the second never routed to
      ['blk.0.ffn_down_exps.weight', { sums: Float32Array.from([1, 2, 3, 0, 0, 0]), counts: [100, 0] }],
      ['blk.1.ffn_up.weight', { sums: Float32Array.from([0, 0]), counts: [0] }],
    ]),
    datasets: ['calib.txt'],
    chunkCount: 2,
    chunkSize: 128,
  };
}

describe('GGUF imatrix files', () => {
  const path = join(tmp.dir, 'sample.gguf');
  writeImatrix(path, sample(), 'gguf');

  it('hold imatrix.* keys and <name>.in_sum2 / <name>.counts F32 tensors, dims without trailing 1s (ggml_n_dims)', () => {
    const g = readGguf(path);
    try {
      expect(g.kv.get('general.type')).toEqual({ type: 'string', value: 'imatrix' });
      expect(g.kv.get('imatrix.datasets')).toEqual({ type: 'array', itemType: 'string', value: ['calib.txt'] });
      expect(g.kv.get('imatrix.chunk_count')).toEqual({ type: 'u32', value: 2 });
      expect(g.kv.get('imatrix.chunk_size')).toEqual({ type: 'u32', value: 128 });
      const dims = Object.fromEntries(g.tensors.map((t) => [t.name, t.dims]));
      expect(g.tensors.map((t) => t.name)).toEqual([
        'blk.0.attn_q.weight.in_sum2', 'blk.0.attn_q.weight.counts',
        'blk.0.ffn_down_exps.weight.in_sum2', 'blk.0.ffn_down_exps.weight.counts',
        'blk.1.ffn_up.weight.in_sum2', 'blk.1.ffn_up.weight.counts',
      ]);
      expect(dims['blk.0.attn_q.weight.in_sum2']).toEqual([4]);
      expect(dims['blk.0.ffn_down_exps.weight.in_sum2']).toEqual([3, 2]);
      expect(dims['blk.0.ffn_down_exps.weight.counts']).toEqual([1, 2]);
    } finally {
      g.close();
    }
  });

  it('read back raw: sums, counts and metadata [ob:imatrix-file-roundtrip]', () => {
    const m = readImatrix(path);
    expect(m.format).toBe('gguf');
    expect(m.hasMetadata).toBe(true);
    expect([m.chunkCount, m.chunkSize, m.datasets]).toEqual([2, 128, ['calib.txt']]);
    expect(Array.from(m.entries.get('blk.0.ffn_down_exps.weight')?.sums ?? [])).toEqual([1, 2, 3, 0, 0, 0]);
    expect(m.entries.get('blk.0.ffn_down_exps.weight')?.counts).toEqual([100, 0]);
  });

  it('weights = sums / count per matrix (float32), 1 for a matrix that saw no token; under GGUF and HF names [ob:imatrix-file-roundtrip]', () => {
    const w = imatrixWeights(readImatrix(path));
    expect(Array.from(w.get('blk.0.attn_q.weight') ?? [])).toEqual([4, 9, 0.5, 2.25].map((v) => f(v / 256)));
    expect(Array.from(w.get('blk.0.ffn_down_exps.weight') ?? [])).toEqual([f(1 / 100), f(2 / 100), f(3 / 100), 1, 1, 1]);
    expect(Array.from(w.get('blk.1.ffn_up.weight') ?? [])).toEqual([1, 1]);
    expect(w.get('model.layers.0.self_attn.q_proj.weight')).toBe(w.get('blk.0.attn_q.weight'));
    expect(weightsFor(w, 'model.layers.1.mlp.up_proj.weight')).toBe(w.get('blk.1.ffn_up.weight'));
    expect(weightsFor(w, 'model.layers.5.mlp.up_proj.weight')).toBeUndefined();
  });

  it('a GGUF without the imatrix.* keys reads with hasMetadata false; sums without counts are refused', () => {
    const bytes = readFileSync(path);
    const renamed = Buffer.from(bytes.toString('latin1').replace('imatrix.chunk_size', 'imatrix.chunk_sizX'), 'latin1');
    expect(parseImatrix(renamed, 'x.gguf').hasMetadata).toBe(false);
    const noCounts = Buffer.from(bytes.toString('latin1').replace('blk.1.ffn_up.weight.counts', 'blk.1.ffn_up.weight.countX'), 'latin1');
    expect(() => parseImatrix(noCounts, 'y.gguf')).toThrow(/y\.gguf: tensor 'blk\.1\.ffn_up\.weight': mismatched sums and counts/);
  });
});

describe('legacy .dat imatrix files', () => {
  it('byte layout: entries with data sorted, ncall = ⌈max count / chunk size⌉, values (sum/count)·ncall, then chunk count and dataset [ob:imatrix-file-roundtrip]', () => {
    const bytes = encodeImatrixLegacy(sample());
    const expected: number[] = [];
    const i32 = (v: number): void => void expected.push(...new Uint8Array(Int32Array.of(v).buffer));
    const f32 = (v: number): void => void expected.push(...new Uint8Array(Float32Array.of(v).buffer));
    const str = (s: string): void => {
      i32(s.length);
      expected.push(...Buffer.from(s, 'latin1'));
    };
    i32(2); // blk.1.ffn_up.weight has no data and is skipped
    str('blk.0.attn_q.weight');
    i32(2); // ⌈256 / 128⌉
    i32(4);
    for (const v of [4, 9, 0.5, 2.25]) f32(f(f(v / 256) * 2));
    str('blk.0.ffn_down_exps.weight');
    i32(1); // ⌈100 / 128⌉
    i32(6);
    for (const v of [1, 2, 3]) f32(f(f(v / 100) * 1));
    for (let k = 0; k < 3; k++) f32(1); // a matrix with no tokens stores 1·ncall
    i32(2);
    str('calib.txt');
    expect(Array.from(bytes)).toEqual(expected);
  });

  it('read back: counts [ncall], weights = stored / ncall, the trailer\'s chunk count and dataset [ob:imatrix-file-roundtrip]', () => {
    const path = join(tmp.dir, 'sample.dat');
    writeImatrix(path, sample(), 'dat');
    const m = readImatrix(path);
    expect(m.format).toBe('dat');
    expect([m.chunkCount, m.datasets, m.entries.size]).toEqual([2, ['calib.txt'], 2]);
    expect(m.entries.get('blk.0.attn_q.weight')?.counts).toEqual([2]);
    const w = imatrixWeights(m);
    expect(Array.from(w.get('blk.0.attn_q.weight') ?? [])).toEqual([4, 9, 0.5, 2.25].map((v) => f(f(f(v / 256) * 2) / 2)));
  });

  it('a file without the optional trailer reads; truncated or empty files fail naming the field', () => {
    const full = encodeImatrixLegacy(sample());
    const noTrailer = full.subarray(0, full.byteLength - 4 - 4 - 'calib.txt'.length);
    const m = parseImatrix(noTrailer, 'n.dat');
    expect([m.entries.size, m.chunkCount, m.datasets]).toEqual([2, 0, []]);
    expect(() => parseImatrix(full.subarray(0, 40), 't.dat')).toThrow(FormatError);
    expect(() => parseImatrix(full.subarray(0, 40), 't.dat')).toThrow(/t\.dat: entry 'blk\.0\.attn_q\.weight'\.values: needs 16 bytes, 5 left/);
    expect(() => parseImatrix(new Uint8Array(4), 'e.dat')).toThrow(/e\.dat: n_entries: no data/);
    const p = join(tmp.dir, 'neg.dat');
    writeFileSync(p, new Uint8Array(Int32Array.of(1, -5).buffer));
    expect(() => readImatrix(p)).toThrow(/neg\.dat: entry\[0\]\.name: needs -5 bytes/);
  });
});

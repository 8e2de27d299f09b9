/**
 * `apr imatrix` and the importance-matrix flags of `apr quantize` on the command line: --help, --json, one-line
 * errors with distinct exit codes (2 usage, 3 bad input), nothing written on failure, provenance recorded.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readGguf } from '../../src/formats/gguf/index.js';
import { fixture, runCli, tempDir } from '../helpers.js';

const DRAFT = fixture('gguf', 'tiny-draft-llama-f32.gguf');
const tmp = tempDir('apr-imatrix-cli-');
afterAll(() => tmp.cleanup());
const calib = join(tmp.dir, 'calib.txt');
writeFileSync(calib, readFileSync(fixture('reference', 'heldout.py.txt'), 'utf8').slice(0, 6000));

describe('apr imatrix (CLI)', () => {
  it('--help names the flags', () => {
    const r = runCli('apr', ['imatrix', '--help']);
    expect(r.status).toBe(0);
    for (const flag of ['--data', '--output', '--ctx', '--chunks', '--format', '--json']) expect(r.stdout).toContain(flag);
  });

  it('writes a GGUF imatrix and prints JSON; errors are one line, with exit 2 (usage) or 3 (input), and write nothing', () => {
    const out = join(tmp.dir, 'draft.gguf');
    const r = runCli('apr', ['imatrix', DRAFT, '--data', calib, '-o', out, '--ctx', '64', '--chunks', '3', '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { format: string; entries: number; chunks: number; ctx: number };
    expect([j.format, j.entries, j.chunks, j.ctx]).toEqual(['gguf', 14, 3, 64]);
    const g = readGguf(out);
    expect(g.kv.get('imatrix.chunk_count')?.value).toBe(3);
    g.close();

    const badFormat = runCli('apr', ['imatrix', DRAFT, '--data', calib, '-o', join(tmp.dir, 'a.gguf'), '--format', 'bin']);
    expect([badFormat.status, badFormat.stderr.trim().split('\n').length]).toEqual([2, 1]);
    expect(badFormat.stderr).toMatch(/unknown --format 'bin' \(expected gguf, dat\)/);
    const tooShort = runCli('apr', ['imatrix', DRAFT, '--data', calib, '-o', join(tmp.dir, 'b.gguf'), '--ctx', '4096']);
    expect([tooShort.status, tooShort.stderr.trim().split('\n').length]).toEqual([3, 1]);
    expect(tooShort.stderr).toMatch(/calib\.txt: text: the text tokenizes to \d+ tokens; a context of 4096 needs at least 8192/);
    expect(existsSync(join(tmp.dir, 'b.gguf'))).toBe(false);
  });
});

describe('apr quantize --imatrix / --imatrix-data (CLI)', () => {
  it('--imatrix-data computes the matrix on the fly and records it; the same as --imatrix with apr imatrix\'s file', () => {
    const a = join(tmp.dir, 'a.gguf'), b = join(tmp.dir, 'b.gguf');
    const r = runCli('apr', ['quantize', DRAFT, '--scheme', 'q4_k_m', '-o', a, '--imatrix-data', calib, '--imatrix-ctx', '64', '--imatrix-chunks', '3', '--json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { imatrix: { computed: boolean; entries: number; chunks: number; weighted: number } };
    expect(j.imatrix).toMatchObject({ computed: true, entries: 14, chunks: 3, weighted: 14 });
    const im = join(tmp.dir, 'draft.gguf');
    expect(runCli('apr', ['quantize', DRAFT, '--scheme', 'q4_k_m', '-o', b, '--imatrix', im]).status).toBe(0);
    const x = readGguf(a), y = readGguf(b);
    expect(x.kv.get('quantize.imatrix.entries_count')).toEqual({ type: 'u32', value: 14 });
    expect(y.kv.get('quantize.imatrix.file')).toEqual({ type: 'string', value: im });
    for (const t of y.tensors) expect(Buffer.from(x.read(t)).equals(Buffer.from(y.read(t))), t.name).toBe(true);
    x.close();
    y.close();
  });

  it('both flags at once is a usage error; a file that is not an imatrix is bad input; nothing is written', () => {
    const out = join(tmp.dir, 'c.gguf');
    const both = runCli('apr', ['quantize', DRAFT, '--scheme', 'q4_0', '-o', out, '--imatrix', calib, '--imatrix-data', calib]);
    expect(both.status).toBe(2);
    const junk = join(tmp.dir, 'junk.dat');
    writeFileSync(junk, 'not an imatrix');
    const bad = runCli('apr', ['quantize', DRAFT, '--scheme', 'q4_0', '-o', out, '--imatrix', junk]);
    expect([bad.status, bad.stderr.trim().split('\n').length]).toEqual([3, 1]);
    expect(bad.stderr).toMatch(/junk\.dat: /);
    expect(existsSync(out)).toBe(false);
  });
});

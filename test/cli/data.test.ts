/** `apr data` end to end: planted overlaps, bad lines (exit 3 or --skip-bad), exit codes, determinism. */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers.js';
import { plantedSet, tempDir, writeJsonl } from '../unit/data-helpers.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('apr data', () => {
  it('decontaminate --json flags exactly the planted rows; exit 1 without -o, 0 with it', () => {
    const set = plantedSet(dir, 11);
    const r = runCli('apr', ['data', 'decontaminate', set.data, '--reference', set.bench, '--ngram', '10', '--threshold', '0', '--json']);
    expect(r.status, r.stderr).toBe(1);
    const doc = JSON.parse(r.stdout) as { flagged: { line: number }[]; total_rows: number; benchmarks: { contaminated_rows: number }[] };
    expect(doc.flagged.map((f) => f.line)).toEqual(set.planted);
    expect(doc.total_rows).toBe(set.rows);
    const clean = join(dir, 'clean.jsonl');
    const w = runCli('apr', ['data', 'decontaminate', set.data, '--reference', set.bench, '-o', clean]);
    expect(w.status, w.stderr).toBe(0);
    expect(readFileSync(clean, 'utf8').trim().split('\n')).toHaveLength(set.rows - set.planted.length);
  });

  it('stops at a malformed line with FILE:LINE and exit 3; --skip-bad reports it and goes on', () => {
    const path = writeJsonl(join(dir, 'bad.jsonl'), [{ text: 'one two three' }, '{"text": oops', { text: 'four five six' }]);
    const r = runCli('apr', ['data', 'audit', path]);
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(new RegExp(`^apr: error: ${path}: line 2: malformed JSON`));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    const s = runCli('apr', ['data', 'audit', path, '--skip-bad', '--json']);
    expect(s.status, s.stderr).toBe(0);
    expect(s.stderr).toContain(`${path}:2: malformed JSON`);
    expect(JSON.parse(s.stdout)).toMatchObject({ total_rows: 2, bad_lines: 1 });
  });

  it('split writes the same files for the same --seed; quality exits 1 under --min-score', () => {
    const rows = Array.from({ length: 30 }, (_, i) => ({ instruction: `task ${i % 20}`, response: `answer number ${i}` }));
    const path = writeJsonl(join(dir, 'rows.jsonl'), rows);
    for (const p of ['x', 'y']) expect(runCli('apr', ['data', 'split', path, '--seed', '5', '-o', join(dir, p)]).status).toBe(0);
    for (const part of ['train', 'val', 'test']) expect(readFileSync(join(dir, `x-${part}.jsonl`), 'utf8')).toBe(readFileSync(join(dir, `y-${part}.jsonl`), 'utf8'));
    const q = runCli('apr', ['data', 'quality', path, '--min-score', '99', '--json']);
    expect(q.status).toBe(1);
    expect(JSON.parse(q.stdout)).toMatchObject({ total_rows: 30, passed: false, criteria: { unique: 20 } });
    const bad = runCli('apr', ['data', 'split', path, '--train', '0.5', '-o', join(dir, 'z')]);
    expect(bad.status).toBe(2);
  });
});

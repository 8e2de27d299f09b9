/** dedup (exact + MinHash LSH), split, quality and audit on generated JSONL, in process. */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { auditData } from '../../src/data/audit.js';
import { dedupData } from '../../src/data/dedup.js';
import { KeyTable } from '../../src/data/hash.js';
import { mulberry32 } from '../../src/data/minhash.js';
import { qualityData } from '../../src/data/quality.js';
import { splitData } from '../../src/data/split.js';
import { tempDir, words, writeJsonl } from './data-helpers.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** 40 distinct rows; row 40+k repeats row k re-cased (exact), row 50+k changes 1 word of 80 (near). */
function dupSet(): { path: string; exact: number[]; near: number[] } {
  const rand = mulberry32(3);
  const base = Array.from({ length: 40 }, () => words(rand, 80, 5000));
  const rows = base.map((w) => ({ text: w.join(' ') }));
  const exact: number[] = [];
  const near: number[] = [];
  for (let k = 0; k < 10; k++) {
    rows.push({ text: (base[k] ?? []).join('  ').toUpperCase() });
    exact.push(rows.length);
  }
  for (let k = 10; k < 20; k++) {
    const w = [...(base[k] ?? [])];
    w[79] = 'changed';
    rows.push({ text: w.join(' ') });
    near.push(rows.length);
  }
  return { path: writeJsonl(join(dir, 'dups.jsonl'), rows), exact, near };
}

describe('dedup', () => {
  it('drops the exact and near duplicates, keeps the first occurrences, same output for the same seed', async () => {
    const set = dupSet();
    const a = await dedupData({ data: set.path, output: join(dir, 'a.jsonl'), seed: 1, bands: 4, rows: 8 });
    await dedupData({ data: set.path, output: join(dir, 'b.jsonl'), seed: 1, bands: 4, rows: 8 });
    expect(a.duplicates.filter((d) => d.kind === 'exact').map((d) => d.line)).toEqual(set.exact);
    expect(a.duplicates.filter((d) => d.kind === 'near').map((d) => d.line)).toEqual(set.near);
    expect(a.kept).toBe(40);
    expect(readFileSync(join(dir, 'a.jsonl'), 'utf8')).toBe(readFileSync(join(dir, 'b.jsonl'), 'utf8'));
    const exactOnly = await dedupData({ data: set.path, seed: 1, bands: 4, rows: 8, exactOnly: true });
    expect([exactOnly.exact_duplicates, exactOnly.near_duplicates]).toEqual([10, 0]);
  });
});

describe('KeyTable', () => {
  it('keeps every key through growth', () => {
    const t = new KeyTable(16);
    for (let i = 1; i <= 5000; i++) expect(t.add(i * 7919 + 0.0, i)).toBe(true);
    expect(t.add(7919)).toBe(false);
    expect(t.get(5000 * 7919)).toBe(5000);
    expect(t.get(3)).toBeUndefined();
    expect(t.size).toBe(5000);
  });
});

describe('split', () => {
  it('gives exact sizes, covers every row once, and is the same for the same seed', async () => {
    const rows = Array.from({ length: 101 }, (_, i) => ({ text: `row ${i}` }));
    const path = writeJsonl(join(dir, 'rows.jsonl'), rows);
    const run = async (seed: number, prefix: string): Promise<string[]> => {
      const r = await splitData({ data: path, output: join(dir, prefix), train: 0.8, val: 0.1, test: 0.1, seed });
      expect(r.parts.map((p) => p.rows)).toEqual([81, 10, 10]);
      return r.parts.map((p) => readFileSync(p.path, 'utf8'));
    };
    const a = await run(42, 'a');
    expect(await run(42, 'b')).toEqual(a);
    expect(await run(43, 'c')).not.toEqual(a);
    expect(a.join('').trim().split('\n').sort()).toEqual(readFileSync(path, 'utf8').trim().split('\n').sort());
  });
});

describe('quality and audit', () => {
  it('scores the rubric and counts duplicates and empty fields', async () => {
    const path = writeJsonl(join(dir, 'q.jsonl'), [
      { instruction: 'Add two numbers.', response: 'def add(a, b):\n    return a + b' },
      { instruction: 'Add two numbers.', response: 'short' },
      { instruction: '', response: 'As an AI language model I cannot.' },
    ]);
    const q = await qualityData({ data: path, minScore: 80 });
    expect(q.score).toBeCloseTo((100 + (100 - 20 - 15) + (100 - 20 - 10)) / 3, 2);
    expect(q.passed).toBe(false);
    const a = await auditData(path);
    expect(a).toMatchObject({ total_rows: 3, duplicate_prompts: 1, rows_with_empty_fields: 1, empty_fields: { instruction: 1 } });
  });
});

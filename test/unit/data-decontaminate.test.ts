/** The decontamination verdict (contract data-decontaminate-v1) and the planted-overlap set, in process. */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { decontaminate } from '../../src/data/decontaminate.js';
import { gramKeys, hashTokens, tokens } from '../../src/data/hash.js';
import { rowOverlap } from '../../src/data/overlap.js';
import { plantedSet, tempDir } from './data-helpers.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const keys = fc.uniqueArray(fc.integer({ min: 1, max: 2 ** 40 }), { minLength: 1, maxLength: 40 });

describe('rowOverlap', () => {
  it('flags a row sharing any n-gram at threshold 0 [ob:decontam-shared-flagged]', () => {
    fc.assert(fc.property(keys, keys, fc.nat(), (row, other, pick) => {
      const shared = row[pick % row.length] ?? 1;
      const reference = new Map([...other, shared].map((k, i) => [k, i]));
      return rowOverlap({ grams: row, reference, threshold: 0 }).contaminated;
    }));
  });
  it('never flags a row sharing no n-gram [ob:decontam-clean-kept]', () => {
    fc.assert(fc.property(keys, keys, fc.double({ min: 0, max: 1, noNaN: true }), (row, other, t) => {
      const reference = new Map(other.filter((k) => !row.includes(k)).map((k, i) => [k, i]));
      return !rowOverlap({ grams: row, reference, threshold: t }).contaminated;
    }));
  });
  it('flags exactly when shared/|G| reaches the threshold [ob:decontam-ratio-threshold]', () => {
    const grams = [1, 2, 3, 4];
    const reference = new Map([[1, 0], [2, 0]]);
    expect(rowOverlap({ grams, reference, threshold: 0.5 }).contaminated).toBe(true);
    expect(rowOverlap({ grams, reference, threshold: 0.51 }).contaminated).toBe(false);
    expect(rowOverlap({ grams, reference, threshold: 0.5 })).toMatchObject({ shared: 2, total: 4, ratio: 0.5 });
  });
});

describe('normalised n-grams', () => {
  it('ignore whitespace and case', () => {
    const a = gramKeys(hashTokens(tokens('def  Foo(x):\n\treturn X+1')), 3);
    const b = gramKeys(hashTokens(tokens('DEF foo( x ) :  return x + 1')), 3);
    expect(a).toEqual(b);
    expect(a.length).toBe(tokens('def foo(x): return x+1').length - 2);
  });
});

describe('decontaminate', () => {
  it('finds exactly the planted 10-gram overlaps, not the 9-token near misses, and writes the clean rows', async () => {
    const set = plantedSet(dir);
    const output = join(dir, 'clean.jsonl');
    expect(set.planted).toHaveLength(12);
    const r = await decontaminate({ data: set.data, references: [set.bench], ngram: 10, threshold: 0, maxRate: 0.01, output });
    expect(r.flagged.map((f) => f.line)).toEqual(set.planted);
    expect(r.total_contaminated).toBe(set.planted.length);
    expect(r.benchmarks[0]).toMatchObject({ benchmark: 'bench', total_samples: 6, contaminated_rows: set.planted.length, passed: false });
    const clean = readFileSync(output, 'utf8').trim().split('\n');
    const lines = readFileSync(set.data, 'utf8').trim().split('\n');
    expect(clean).toEqual(lines.filter((_l, i) => !set.planted.includes(i + 1)));
  });
});

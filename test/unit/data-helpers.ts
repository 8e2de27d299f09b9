/** Seeded generators of JSONL test data for the `apr data` tests. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '../../src/data/minhash.js';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'apr-data-'));
}

export function writeJsonl(path: string, rows: readonly unknown[]): string {
  writeFileSync(path, rows.map((r) => (typeof r === 'string' ? r : JSON.stringify(r))).join('\n') + '\n');
  return path;
}

/** `n` words drawn from a vocabulary of `vocab` synthetic words. */
export function words(rand: () => number, n: number, vocab = 300, prefix = 'w'): string[] {
  return Array.from({ length: n }, () => `${prefix}${Math.floor(rand() * vocab)}`);
}

/** A whitespace and case variation of a token list: random spacing, tabs, newlines and upper case. */
export function vary(rand: () => number, toks: readonly string[]): string {
  const seps = [' ', '  ', '\t', '\n', ' \n  '];
  return toks.map((t) => (rand() < 0.5 ? t.toUpperCase() : t) + (seps[Math.floor(rand() * seps.length)] ?? ' ')).join('');
}

export interface PlantedSet {
  bench: string;
  data: string;
  /** 1-based lines of the planted rows. */
  planted: number[];
  rows: number;
}

/**
 * A benchmark of 6 problems (prompt + canonical_solution) and a training file of 60 rows: 12 rows carry
 * 10–14 consecutive tokens of a benchmark prompt or solution (re-spaced and re-cased) inside other text;
 * 8 carry only 9 consecutive tokens (must not be flagged at --ngram 10); the rest are clean.
 */
export function plantedSet(dir: string, seed = 7): PlantedSet {
  const rand = mulberry32(seed);
  const problems = Array.from({ length: 6 }, (_, i) => ({
    task_id: `Bench/${i}`,
    prompt: `def f${i}(x):\n    """${words(rand, 30, 300, 'b').join(' ')}"""\n`,
    canonical_solution: `    return ${words(rand, 30, 300, 'b').join(' + ')}\n`,
  }));
  const source = (i: number): string[] => {
    const p = problems[i % problems.length];
    const text = i % 2 === 0 ? (p?.prompt ?? '') : (p?.canonical_solution ?? '');
    return text.toLowerCase().match(/[\p{L}\p{N}_]+|[^\s\p{L}\p{N}_]/gu) ?? [];
  };
  const rows: unknown[] = [];
  const planted: number[] = [];
  for (let i = 0; i < 60; i++) {
    const filler = (): string => words(rand, 20, 300, 'c').join(' ');
    let middle = '';
    if (i % 5 === 0 || i % 5 === 3) {
      const toks = source(i);
      const len = i % 5 === 0 ? 10 + (i % 4) : 9;
      const start = Math.floor(rand() * (toks.length - len));
      middle = vary(rand, toks.slice(start, start + len));
      if (len >= 10) planted.push(i + 1);
    }
    const kind = i % 3;
    if (kind === 0) rows.push({ instruction: filler(), response: `${filler()} ${middle} ${filler()}` });
    else if (kind === 1) rows.push({ prompt: `${filler()} ${middle}`, completion: filler() });
    else rows.push({ messages: [{ role: 'user', content: filler() }, { role: 'assistant', content: `${middle}\n${filler()}` }] });
  }
  return { bench: writeJsonl(join(dir, 'bench.jsonl'), problems), data: writeJsonl(join(dir, 'train.jsonl'), rows), planted, rows: rows.length };
}

/**
 * `apr data split`: a deterministic train/val/test split in two streaming passes. Pass 1 counts the N rows;
 * then a seeded Fisher–Yates permutation (mulberry32(seed)) of 0..N−1 puts its first round(N·train)
 * entries in train, the next round(N·val) in val and the rest in test (one byte of assignment per row);
 * pass 2 writes each row, unchanged and in file order, to its part. The same file and seed give the same
 * split. Outputs: with -o naming an existing folder (or ending in '/'), FOLDER/{train,val,test}.jsonl;
 * otherwise PREFIX-{train,val,test}.jsonl.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BadLineCounter, type ReadOptions, readJsonl, withWriters } from './jsonl.js';
import { mulberry32 } from './minhash.js';

export interface SplitOptions extends ReadOptions {
  data: string;
  output: string;
  train: number;
  val: number;
  test: number;
  seed: number;
}

export interface SplitReport {
  data_path: string;
  seed: number;
  total_rows: number;
  bad_lines: number;
  parts: { name: 'train' | 'val' | 'test'; path: string; rows: number }[];
}

const NAMES = ['train', 'val', 'test'] as const;

/** The three output paths for `-o` (see the header). */
function splitPaths(output: string): string[] {
  const folder = output.endsWith('/') || (existsSync(output) && statSync(output).isDirectory());
  return NAMES.map((n) => (folder ? join(output, `${n}.jsonl`) : `${output}-${n}.jsonl`));
}

/** Part index (0 train, 1 val, 2 test) of each of `n` rows. */
function assignParts(n: number, train: number, val: number, seed: number): Uint8Array {
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const rand = mulberry32(seed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = perm[i] ?? 0;
    perm[i] = perm[j] ?? 0;
    perm[j] = t;
  }
  const nTrain = Math.round(n * train);
  const nVal = Math.min(n - nTrain, Math.round(n * val));
  const parts = new Uint8Array(n).fill(2);
  perm.forEach((row, k) => {
    if (k < nTrain) parts[row] = 0;
    else if (k < nTrain + nVal) parts[row] = 1;
  });
  return parts;
}

export async function splitData(o: SplitOptions): Promise<SplitReport> {
  let n = 0;
  const bad = new BadLineCounter();
  for await (const row of readJsonl(o.data, o, bad)) if (row.line > 0) n++;
  const parts = assignParts(n, o.train, o.val, o.seed);
  const paths = splitPaths(o.output);
  const counts = [0, 0, 0];
  await withWriters(paths, async (writers) => {
    let k = 0;
    for await (const row of readJsonl(o.data, { skipBad: true })) {
      const p = parts[k++] ?? 2;
      counts[p] = (counts[p] ?? 0) + 1;
      writers[p]?.writeLine(row.raw);
    }
  });
  return {
    data_path: o.data, seed: o.seed, total_rows: n, bad_lines: bad.count,
    parts: NAMES.map((name, i) => ({ name, path: paths[i] ?? '', rows: counts[i] ?? 0 })),
  };
}

/**
 * `apr data dedup`: one streaming pass keeps the first occurrence of every row and drops
 *  - exact duplicates: rows whose text (fields.ts), normalised (hash.ts), hashes to a 53-bit key already kept
 *    (a row without text fields is keyed by its raw line);
 *  - near duplicates: rows sharing any MinHash LSH band key (minhash.ts) with a kept row.
 * Memory is bounded per kept row: 1 + bands keys in KeyTable (12 bytes a slot, load ≤ 0.6, doubling), so
 * at most (1 + bands) · 12 / 0.3 = 40 · (1 + bands) bytes per kept row (200 B with 4 bands) — no rows or
 * signatures are stored. Deterministic for a given --seed.
 */
import { fullText, rowText } from './fields.js';
import { KeyTable, textKey } from './hash.js';
import { BadLineCounter, type ReadOptions, readJsonl, withWriters } from './jsonl.js';
import { type MinHashParams, MinHasher } from './minhash.js';

export interface DedupOptions extends ReadOptions, MinHashParams {
  data: string;
  output?: string;
  /** Exact duplicates only (no MinHash). */
  exactOnly?: boolean;
}

export interface DuplicateRow {
  line: number;
  /** The kept row it duplicates. */
  of: number;
  kind: 'exact' | 'near';
}

export interface DedupReport {
  data_path: string;
  output: string | null;
  seed: number;
  bands: number;
  rows_per_band: number;
  total_rows: number;
  bad_lines: number;
  kept: number;
  exact_duplicates: number;
  near_duplicates: number;
  /** The first MAX_LISTED duplicates. */
  duplicates: DuplicateRow[];
  table_bytes: number;
}

const MAX_LISTED = 1000;

export async function dedupData(o: DedupOptions): Promise<DedupReport> {
  const exact = new KeyTable();
  const bands = new KeyTable();
  const hasher = new MinHasher(o);
  const bad = new BadLineCounter();
  const r: DedupReport = {
    data_path: o.data, output: o.output ?? null, seed: o.seed, bands: o.bands, rows_per_band: o.rows, total_rows: 0, bad_lines: 0,
    kept: 0, exact_duplicates: 0, near_duplicates: 0, duplicates: [], table_bytes: 0,
  };
  const note = (d: DuplicateRow): void => {
    if (d.kind === 'exact') r.exact_duplicates++;
    else r.near_duplicates++;
    if (r.duplicates.length < MAX_LISTED) r.duplicates.push(d);
  };
  await withWriters([o.output], async ([out]) => {
    for await (const row of readJsonl(o.data, o, bad)) {
      r.total_rows++;
      const t = rowText(row.value);
      const text = t.kind === 'none' ? row.raw : fullText(t);
      const key = textKey(text);
      const same = exact.get(key);
      if (same !== undefined) {
        note({ line: row.line, of: same, kind: 'exact' });
        continue;
      }
      const keys = o.exactOnly ? [] : hasher.bandKeys(hasher.signature(hasher.shingles(text)));
      const near = keys.map((k) => bands.get(k)).find((v) => v !== undefined);
      if (near !== undefined) {
        note({ line: row.line, of: near, kind: 'near' });
        continue;
      }
      exact.add(key, row.line);
      for (const k of keys) bands.add(k, row.line);
      r.kept++;
      out?.writeLine(row.raw);
    }
  });
  r.bad_lines = bad.count;
  r.table_bytes = exact.bytes + bands.bytes;
  return r;
}

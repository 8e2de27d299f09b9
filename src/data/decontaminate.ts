/**
 * `apr data decontaminate`: n-gram overlap of a training JSONL against benchmark JSONL files.
 *
 * Benchmark text: every string field of a benchmark row (and every string inside an array field) except
 * `task_id` and `entry_point` — so HumanEval's prompt, canonical_solution and test, MBPP's text, code and
 * test_list. Row text: the fields named in fields.ts. N-grams are over normalised tokens (hash.ts) and never
 * span two fields. The verdict per row and benchmark is overlap.ts's. Memory: the benchmarks' n-gram maps
 * (benchmarks are small) plus a bounded list of flagged lines; the data file is streamed.
 */
import { basename, extname } from 'node:path';
import { rowText } from './fields.js';
import { gramKeys, hashTokens, tokens } from './hash.js';
import { BadLineCounter, type JsonObject, type ReadOptions, readJsonl, withWriters } from './jsonl.js';
import { rowOverlap } from './overlap.js';

export interface DecontaminateOptions extends ReadOptions {
  data: string;
  references: readonly string[];
  ngram: number;
  threshold: number;
  /** A benchmark passes when contaminated rows / rows < maxRate. */
  maxRate: number;
  output?: string;
}

export interface BenchmarkReport {
  benchmark: string;
  path: string;
  /** Benchmark items (upstream's total_samples). */
  total_samples: number;
  /** Benchmark items that share an n-gram with a flagged training row (upstream's contaminated_samples). */
  contaminated_samples: number;
  /** Training rows flagged against this benchmark. */
  contaminated_rows: number;
  /** contaminated_rows / training rows. */
  overlap_ratio: number;
  passed: boolean;
}

export interface FlaggedRow {
  line: number;
  benchmarks: string[];
  shared: number;
  ratio: number;
}

export interface DecontaminateReport {
  data_path: string;
  ngram: number;
  threshold: number;
  max_rate: number;
  total_rows: number;
  bad_lines: number;
  total_contaminated: number;
  overall_overlap: number;
  passed: boolean;
  decontaminated: boolean;
  output: string | null;
  benchmarks: BenchmarkReport[];
  /** The first MAX_LISTED flagged rows (all of them unless `flagged_truncated`). */
  flagged: FlaggedRow[];
  flagged_truncated: boolean;
}

const MAX_LISTED = 1000;
const SKIPPED_KEYS = new Set(['task_id', 'entry_point']);

interface Reference {
  name: string;
  path: string;
  items: number;
  grams: Map<number, number>;
  hits: Set<number>;
  rows: number;
}

function benchmarkStrings(row: JsonObject): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(row)) {
    if (SKIPPED_KEYS.has(k)) continue;
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) out.push(...v.filter((x): x is string => typeof x === 'string'));
  }
  return out;
}

function addGrams(into: Map<number, number> | Set<number>, text: string, n: number, item: number): void {
  for (const g of gramKeys(hashTokens(tokens(text)), n)) {
    if (into instanceof Set) into.add(g);
    else if (!into.has(g)) into.set(g, item);
  }
}

async function loadReference(path: string, n: number, opts: ReadOptions): Promise<Reference> {
  const grams = new Map<number, number>();
  let items = 0;
  for await (const row of readJsonl(path, opts)) {
    for (const s of benchmarkStrings(row.value)) addGrams(grams, s, n, items);
    items++;
  }
  return { name: basename(path, extname(path)), path, items, grams, hits: new Set(), rows: 0 };
}

/** The distinct n-gram keys of a training row. */
function rowGrams(value: JsonObject, n: number): number[] {
  const set = new Set<number>();
  for (const part of rowText(value).parts) addGrams(set, part, n, 0);
  return [...set];
}

function flagRow(refs: readonly Reference[], grams: readonly number[], threshold: number, line: number): FlaggedRow | undefined {
  const flagged: FlaggedRow = { line, benchmarks: [], shared: 0, ratio: 0 };
  for (const ref of refs) {
    const o = rowOverlap({ grams, reference: ref.grams, threshold }, ref.hits);
    if (!o.contaminated) continue;
    ref.rows++;
    flagged.benchmarks.push(ref.name);
    flagged.shared = Math.max(flagged.shared, o.shared);
    flagged.ratio = Math.max(flagged.ratio, o.ratio);
  }
  return flagged.benchmarks.length > 0 ? flagged : undefined;
}

function benchmarkReport(ref: Reference, rows: number, maxRate: number): BenchmarkReport {
  const ratio = rows === 0 ? 0 : ref.rows / rows;
  return { benchmark: ref.name, path: ref.path, total_samples: ref.items, contaminated_samples: ref.hits.size, contaminated_rows: ref.rows, overlap_ratio: ratio, passed: ratio < maxRate };
}

/** Streams the data file once; writes the rows that no benchmark flags to `output` when given. */
export async function decontaminate(o: DecontaminateOptions): Promise<DecontaminateReport> {
  const refs: Reference[] = [];
  for (const path of o.references) refs.push(await loadReference(path, o.ngram, o));
  const bad = new BadLineCounter();
  const flagged: FlaggedRow[] = [];
  let rows = 0;
  let contaminated = 0;
  await withWriters([o.output], async ([out]) => {
    for await (const row of readJsonl(o.data, o, bad)) {
      rows++;
      const hit = flagRow(refs, rowGrams(row.value, o.ngram), o.threshold, row.line);
      if (hit === undefined) out?.writeLine(row.raw);
      else {
        contaminated++;
        if (flagged.length < MAX_LISTED) flagged.push(hit);
      }
    }
  });
  const benchmarks = refs.map((r) => benchmarkReport(r, rows, o.maxRate));
  return {
    data_path: o.data, ngram: o.ngram, threshold: o.threshold, max_rate: o.maxRate, total_rows: rows, bad_lines: bad.count,
    total_contaminated: contaminated, overall_overlap: rows === 0 ? 0 : contaminated / rows, passed: benchmarks.every((b) => b.passed),
    decontaminated: o.output !== undefined, output: o.output ?? null, benchmarks, flagged, flagged_truncated: contaminated > flagged.length,
  };
}

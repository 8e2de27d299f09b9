/** Help texts, shared flags and text reports of `apr data` (commands/data.ts). */
import type { AuditReport } from '../../data/audit.js';
import type { DecontaminateReport } from '../../data/decontaminate.js';
import type { DedupReport } from '../../data/dedup.js';
import type { ReadOptions } from '../../data/jsonl.js';
import type { QualityReport } from '../../data/quality.js';
import { CliError, printTable, warn } from '../output.js';

export interface ReadFlags {
  skipBad?: boolean;
  json?: boolean;
}

/** Bad usage (exit 2) unless `ok`. */
export function need(ok: boolean, message: string): void {
  if (!ok) throw new CliError(message);
}

/** Reader options from the flags: with --skip-bad each malformed line is a warning naming FILE:LINE. */
export function readOpts(o: ReadFlags): ReadOptions {
  return { skipBad: o.skipBad ?? false, onBad: (m) => warn(`skipped ${m}`) };
}

export const DATA_HELP = {
  common: `
Every subcommand streams its JSONL input line by line (bounded memory) and writes outputs atomically.
Text fields, detected per row (first match wins): "messages" (chat: [{role, content}]; prompt = non-assistant
contents, response = assistant contents), "instruction" + "response"|"output" (+ "input"), "prompt" +
"completion"|"response", "text". A row with none of them has no text.
Malformed lines (not JSON, or not an object): the first stops the command with FILE:LINE (exit 3); with
--skip-bad each is reported on stderr, skipped and counted as bad_lines. Blank lines are ignored.
Tokens for n-grams and hashes: lower-cased runs of letters/digits/_ and single punctuation characters, so
whitespace and case never matter.`,
  prep: `
A unit is a def, async def or class (nested ones too) with its decorators; it needs a docstring (the first
statement of its block). Row: {"instruction": "Write a Python function \`sig\`.\\n\\n<docstring>",
"response": "<full source, dedented>", "source": "path:line", "name", "kind"[, "corpus"]}.`,
  decontaminate: `
Threshold: with G the row's distinct n-grams and B the benchmark's, shared = |G ∩ B|; the row is flagged
when shared ≥ 1 and shared/|G| ≥ --threshold. So --threshold 0 (default) flags any row sharing a single
n-gram; 0.5 flags rows of which at least half the n-grams occur in the benchmark. Rows shorter than --ngram
tokens are never flagged. Benchmark text: every string field (and strings in arrays) except task_id and
entry_point. Exit 1 when a benchmark's flagged-row rate is ≥ --max-rate and no -o was given.`,
  dedup: `
Exact: same normalised text. Near: MinHash over token 5-gram shingles (--bands × --band-rows hash functions
seeded by --seed) with LSH banding; a row sharing a band with a kept row is dropped (probability
1 − (1 − J^r)^b at Jaccard J: 0.89 at 0.9, 0.21 at 0.7 for 4 × 8). First occurrences are kept. Memory per
kept row: (1 + bands) 53-bit keys in typed-array tables, ≤ 40 B each; no rows or signatures are stored.`,
  quality: `
Rubric (per row, 100 points; for a "text" row prompt and response are the text):
  20 prompt non-empty   20 response ≥ 10 chars   15 prompt not seen before   15 response ≠ prompt
  10 prompt ≤ 8192 and response ≤ 32768 chars    10 no U+FFFD or control characters
  10 no boilerplate ("as an ai language model", "i cannot help with", "lorem ipsum", "traceback (most recent call last)")
The score is the mean over rows; a row without text fields scores 0.`,
  split: `
Pass 1 counts N rows; a seeded permutation puts round(N·train) rows in train, round(N·val) in val, the rest in
test; pass 2 writes rows unchanged in file order. Same file + seed → same split.`,
  audit: `
Reports rows, bad lines, rows per kind, empty fields, character lengths (min/mean/max), duplicate rows (same
normalised text) and duplicate prompts.`,
} as const;

export function printDecontaminate(r: DecontaminateReport): void {
  printTable(['benchmark', 'items', 'items hit', 'rows flagged', 'rate', 'passed'], r.benchmarks.map((b) => [b.benchmark, b.total_samples, b.contaminated_samples, b.contaminated_rows, b.overlap_ratio.toFixed(4), b.passed ? 'yes' : 'NO']));
  const lines = r.flagged.slice(0, 20).map((f) => f.line).join(', ');
  process.stdout.write(`${r.total_contaminated} of ${r.total_rows} rows flagged (${r.ngram}-grams, threshold ${r.threshold})${lines ? `: lines ${lines}${r.total_contaminated > 20 ? ', ...' : ''}` : ''}\n`);
  if (r.output !== null) process.stdout.write(`wrote ${r.output}: ${r.total_rows - r.total_contaminated} clean rows\n`);
}

export function printDedup(r: DedupReport): void {
  process.stdout.write(`${r.total_rows} rows: kept ${r.kept}, ${r.exact_duplicates} exact and ${r.near_duplicates} near duplicates (seed ${r.seed}, ${r.bands}×${r.rows_per_band} MinHash)\n`);
  for (const d of r.duplicates.slice(0, 20)) process.stdout.write(`  line ${d.line}: ${d.kind} duplicate of line ${d.of}\n`);
  if (r.output !== null) process.stdout.write(`wrote ${r.output}\n`);
}

export function printQuality(r: QualityReport): void {
  printTable(['criterion', 'points', 'rows'], Object.entries(r.rubric).map(([c, p]) => [c, p, r.criteria[c as keyof typeof r.criteria]]));
  process.stdout.write(`score ${r.score}/100 over ${r.total_rows} rows (${r.rows_below_min} below ${r.min_score}): ${r.passed ? 'passed' : 'FAILED'}\n`);
}

export function printAudit(r: AuditReport): void {
  process.stdout.write(`${r.data_path}: ${r.total_rows} rows, ${r.bad_lines} bad lines\n`);
  process.stdout.write(`kinds: ${Object.entries(r.kinds).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}\n`);
  printTable(['length (chars)', 'min', 'mean', 'max', 'rows'], Object.entries(r.lengths).map(([k, s]) => [k, s.min, s.mean, s.max, s.rows]));
  const empty = Object.entries(r.empty_fields).map(([k, n]) => `${k} ${n}`).join(', ');
  process.stdout.write(`empty fields: ${empty || 'none'} (${r.rows_with_empty_fields} rows)\nduplicates: ${r.duplicate_rows} rows, ${r.duplicate_prompts} prompts\n`);
}

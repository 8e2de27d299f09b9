/**
 * Folds StrykerJS's JSON report (mutation-testing-report-schema, reports/mutation/mutation.json) into the
 * committed per-file summary that pmat's CB-045 reads (mutation/summary.json): per file, the SHA-256 of the
 * source the mutants were made from (so a later edit makes the entry stale), the count per mutant status, and
 * the survivors and ignored (equivalent) mutants with their lines. Entries of files not in this report are kept,
 * so folders can be run one at a time (`npm run mutation -- src/train/losses`).
 *   usage: tsx scripts/mutation-summary.ts [report.json] [summary.json]
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

interface StrykerMutant {
  mutatorName: string;
  replacement?: string;
  status: string;
  statusReason?: string;
  location: { start: { line: number; column: number } };
}

interface StrykerReport {
  files: Record<string, { source: string; mutants: StrykerMutant[] }>;
}

interface FileSummary {
  sha256: string;
  counts: Record<string, number>;
  survived: string[];
  ignored: string[];
}

interface MutationSummary {
  schema: 'apr-mutation-summary-v1';
  files: Record<string, FileSummary>;
}

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

function describe(m: StrykerMutant): string {
  const where = `${m.location.start.line}:${m.location.start.column}`;
  const what = m.replacement === undefined ? m.mutatorName : `${m.mutatorName} → ${m.replacement.replace(/\s+/g, ' ').slice(0, 60)}`;
  return m.statusReason ? `${where} ${what} (${m.statusReason.replace(/\s+/g, ' ').slice(0, 120)})` : `${where} ${what}`;
}

function summarise(report: StrykerReport, root: string): Record<string, FileSummary> {
  const out: Record<string, FileSummary> = {};
  for (const [path, f] of Object.entries(report.files)) {
    const counts: Record<string, number> = {};
    for (const m of f.mutants) counts[m.status] = (counts[m.status] ?? 0) + 1;
    const rel = relative(root, resolve(root, path)).split('\\').join('/');
    out[rel] = {
      sha256: sha256(f.source),
      counts,
      survived: f.mutants.filter((m) => m.status === 'Survived' || m.status === 'NoCoverage').map(describe),
      ignored: f.mutants.filter((m) => m.status === 'Ignored').map(describe),
    };
  }
  return out;
}

/** Files Stryker's `mutate` list names (a folder glob or a file): those it made no mutant in are absent from the report. */
function mutateFiles(root: string): string[] {
  const config = JSON.parse(readFileSync(join(root, 'stryker.config.json'), 'utf8')) as { mutate?: string[] };
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
    }
  };
  for (const m of config.mutate ?? []) {
    if (m.endsWith('/**/*.ts')) walk(m.slice(0, -'/**/*.ts'.length));
    else if (existsSync(join(root, m))) out.push(m);
  }
  return out;
}

/** An entry with no mutants for each listed file the report does not mention (type-only or re-export modules). */
function withoutMutants(root: string, reported: Record<string, FileSummary>): Record<string, FileSummary> {
  const out: Record<string, FileSummary> = {};
  for (const f of mutateFiles(root)) {
    if (!reported[f]) out[f] = { sha256: sha256(readFileSync(join(root, f), 'utf8')), counts: {}, survived: [], ignored: [] };
  }
  return out;
}

function main(): void {
  const root = process.cwd();
  const reportPath = resolve(root, process.argv[2] ?? 'reports/mutation/mutation.json');
  const summaryPath = resolve(root, process.argv[3] ?? 'mutation/summary.json');
  const report = JSON.parse(readFileSync(reportPath, 'utf8')) as StrykerReport;
  const old: MutationSummary = existsSync(summaryPath) ? (JSON.parse(readFileSync(summaryPath, 'utf8')) as MutationSummary) : { schema: 'apr-mutation-summary-v1', files: {} };
  const reported = summarise(report, root);
  const files = { ...old.files, ...withoutMutants(root, reported), ...reported };
  const sorted = Object.fromEntries(Object.keys(files).sort().map((k) => [k, files[k]]));
  const tmp = `${summaryPath}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ schema: 'apr-mutation-summary-v1', files: sorted }, null, 1)}\n`);
  renameSync(tmp, summaryPath);
  process.stdout.write(`${Object.keys(report.files).length} file(s) folded into ${relative(root, summaryPath)}\n`);
}

main();

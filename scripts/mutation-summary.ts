/**
 * Folds StrykerJS's JSON report (mutation-testing-report-schema, reports/mutation/mutation.json) into the
 * committed per-file summary that pmat's CB-045 reads (mutation/summary.json): per file, the SHA-256 of the
 * source the mutants were made from (so a later edit makes the entry stale), the count per mutant status, and
 * the survivors and ignored (equivalent) mutants with their lines; static mutants (not run: "ignoreStatic") are
 * only counted, as Static. Entries of files not in this report are kept,
 * so folders can be run one at a time (`npm run mutation -- src/train/losses`).
 *   usage: tsx scripts/mutation-summary.ts [report.json] [summary.json] [stryker-config.json]
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

/** One folded report: the target's score then (per-run history, so a folder's before/after stays on record). */
interface RunRecord {
  target: string;
  label?: string;
  date: string;
  seconds?: number;
  valid: number;
  detected: number;
  score: number;
  equivalent: number;
  static: number;
}

interface MutationSummary {
  schema: 'apr-mutation-summary-v1';
  files: Record<string, FileSummary>;
  runs?: RunRecord[];
}

const MAX_RUNS = 100;

const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

/**
 * 'Static' for a mutant Stryker did not run because it is static (evaluated once, at module load: with
 * "ignoreStatic" it reports it Ignored, as it does an equivalent one marked in the source); otherwise its status.
 */
function statusOf(m: StrykerMutant): string {
  return m.status === 'Ignored' && /static mutant/i.test(m.statusReason ?? '') ? 'Static' : m.status;
}

function describe(m: StrykerMutant): string {
  const where = `${m.location.start.line}:${m.location.start.column}`;
  const what = m.replacement === undefined ? m.mutatorName : `${m.mutatorName} → ${m.replacement.replace(/\s+/g, ' ').slice(0, 60)}`;
  return m.statusReason ? `${where} ${what} (${m.statusReason.replace(/\s+/g, ' ').slice(0, 120)})` : `${where} ${what}`;
}

function summarise(report: StrykerReport, root: string): Record<string, FileSummary> {
  const out: Record<string, FileSummary> = {};
  for (const [path, f] of Object.entries(report.files)) {
    const counts: Record<string, number> = {};
    for (const m of f.mutants) counts[statusOf(m)] = (counts[statusOf(m)] ?? 0) + 1;
    const rel = relative(root, resolve(root, path)).split('\\').join('/');
    out[rel] = {
      sha256: sha256(f.source),
      counts,
      survived: f.mutants.filter((m) => m.status === 'Survived' || m.status === 'NoCoverage').map(describe),
      ignored: f.mutants.filter((m) => statusOf(m) === 'Ignored').map(describe),
    };
  }
  return out;
}

/** Files Stryker's `mutate` list names (a folder glob or a file): those it made no mutant in are absent from the report. */
function mutateFiles(root: string, configPath: string): string[] {
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as { mutate?: string[] };
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      const p = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
    }
  };
  // entries: a folder glob, a file, or a brace list of files ({a.ts,b.ts}, as scripts/mutation-plan.ts writes)
  const entries = (config.mutate ?? []).flatMap((m) => (m.startsWith('{') && m.endsWith('}') ? m.slice(1, -1).split(',') : [m]));
  for (const m of entries) {
    if (m.endsWith('/**/*.ts')) walk(m.slice(0, -'/**/*.ts'.length));
    else if (existsSync(join(root, m))) out.push(m);
  }
  return out;
}

/** An entry with no mutants for each listed file the report does not mention (type-only or re-export modules). */
function withoutMutants(root: string, configPath: string, reported: Record<string, FileSummary>): Record<string, FileSummary> {
  const out: Record<string, FileSummary> = {};
  for (const f of mutateFiles(root, configPath)) {
    if (!reported[f]) out[f] = { sha256: sha256(readFileSync(join(root, f), 'utf8')), counts: {}, survived: [], ignored: [] };
  }
  return out;
}

/** The report's totals as CB-045 counts them; target, label and seconds come from scripts/mutation.sh's environment. */
function runRecord(files: Record<string, FileSummary>): RunRecord {
  const sum = (keys: readonly string[]): number => Object.values(files).reduce((n, f) => n + keys.reduce((m, k) => m + (f.counts[k] ?? 0), 0), 0);
  const detected = sum(['Killed', 'Timeout']);
  const valid = detected + sum(['Survived', 'NoCoverage']);
  const env = process.env;
  return {
    target: env['APR_MUTATION_TARGET'] ?? Object.keys(files).join(','),
    ...(env['APR_MUTATION_LABEL'] ? { label: env['APR_MUTATION_LABEL'] } : {}),
    date: new Date().toISOString(),
    ...(env['APR_MUTATION_SECONDS'] ? { seconds: Number(env['APR_MUTATION_SECONDS']) } : {}),
    valid,
    detected,
    score: valid === 0 ? 100 : Math.round((1000 * detected) / valid) / 10,
    equivalent: sum(['Ignored']),
    static: sum(['Static']),
  };
}

function main(): void {
  const root = process.cwd();
  const reportPath = resolve(root, process.argv[2] ?? 'reports/mutation/mutation.json');
  const summaryPath = resolve(root, process.argv[3] ?? 'mutation/summary.json');
  const configPath = resolve(root, process.argv[4] ?? 'stryker.config.json');
  const report = JSON.parse(readFileSync(reportPath, 'utf8')) as StrykerReport;
  const old: MutationSummary = existsSync(summaryPath) ? (JSON.parse(readFileSync(summaryPath, 'utf8')) as MutationSummary) : { schema: 'apr-mutation-summary-v1', files: {} };
  const reported = summarise(report, root);
  const files = { ...old.files, ...withoutMutants(root, configPath, reported), ...reported };
  const sorted = Object.fromEntries(Object.keys(files).sort().map((k) => [k, files[k]]));
  const tmp = `${summaryPath}.tmp`;
  const runs = [...(old.runs ?? []), runRecord(reported)].slice(-MAX_RUNS);
  writeFileSync(tmp, `${JSON.stringify({ schema: 'apr-mutation-summary-v1', files: sorted, runs }, null, 1)}\n`);
  renameSync(tmp, summaryPath);
  process.stdout.write(`${Object.keys(report.files).length} file(s) folded into ${relative(root, summaryPath)}\n`);
}

main();

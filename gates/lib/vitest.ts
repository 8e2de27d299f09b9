import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, relative, sep } from 'node:path';
import type { ProjectContext } from './context.js';
import { runNodeTool, sha256 } from './tools.js';

export interface VitestAssertion {
  fullName: string;
  status: string;
  duration?: number | null;
  failureMessages?: string[];
}

export interface VitestFile {
  name: string;
  status: string;
  startTime?: number;
  endTime?: number;
  message?: string;
  assertionResults: VitestAssertion[];
}

/** The subset of vitest's `--reporter=json` output (Jest-compatible) that the gates read. */
export interface VitestReport {
  numTotalTests: number;
  numPassedTests: number;
  numFailedTests: number;
  numPendingTests: number;
  numFailedTestSuites: number;
  numTotalTestSuites: number;
  success: boolean;
  /** When the run started (ms since the epoch). */
  startTime?: number;
  testResults: VitestFile[];
}

export interface CoverageMetric {
  total: number;
  covered: number;
  pct: number;
}

export type CoverageTotals = Record<'lines' | 'statements' | 'functions' | 'branches', CoverageMetric>;

export interface CoverageSummary {
  total: CoverageTotals;
  files: Map<string, CoverageTotals>;
}

export interface VitestData {
  report?: VitestReport;
  /** Where the report came from, or why there is none. */
  reportSource: string;
  coverage?: CoverageSummary;
  coverageSource: string;
}

const COVERAGE_PROVIDERS = ['@vitest/coverage-v8', '@vitest/coverage-istanbul'];
const VITEST_TIMEOUT_MS = 30 * 60_000;

export function coverageProvider(root: string): string | undefined {
  return COVERAGE_PROVIDERS.find((p) => existsSync(join(root, 'node_modules', p, 'package.json')));
}

/** A report file that is newer than every code file and younger than `reports.maxAgeHours`. */
function freshFile(ctx: ProjectContext, rel: string | undefined): boolean {
  if (!rel || !ctx.exists(rel)) return false;
  const mtime = statSync(ctx.abs(rel)).mtimeMs;
  const maxAgeMs = ctx.config.reports.maxAgeHours * 3_600_000;
  return mtime >= ctx.newestInputMtime([rel]) && ctx.now.getTime() - mtime <= maxAgeMs;
}

const TEST_FILE = /\.(test|spec)\.[cm]?[jt]sx?$/;

/** Test files of the project that a report does not mention: a partial run (`vitest run some/file`) leaves some out. */
function testFilesMissingFrom(ctx: ProjectContext, report: VitestReport): string[] {
  const ran = new Set(report.testResults.map((f) => (isAbsolute(f.name) ? relative(ctx.root, f.name) : f.name).split(sep).join('/')));
  return ctx.testFiles.filter((f) => TEST_FILE.test(f) && !ran.has(f));
}

/** The configured report when it is fresh and covers the whole suite; otherwise why not. */
function readReport(ctx: ProjectContext, rel: string): { report?: VitestReport; source: string } {
  if (!freshFile(ctx, rel)) return { source: ctx.exists(rel) ? `${rel} is older than the code` : `no ${rel}` };
  const report = parseVitestReport(ctx.text(rel) ?? '');
  if (!report) return { source: `${rel} is not a vitest JSON report` };
  const missing = testFilesMissingFrom(ctx, report);
  if (missing.length > 0) return { source: `${rel} is from a partial run (${missing.length} test file(s) missing, e.g. ${missing[0] ?? ''})` };
  return { report, source: `fresh report ${rel}` };
}

/** Coverage written by the same run as the report (not before it started), so a stale summary is not paired with new results. */
function readCoverage(ctx: ProjectContext, rel: string, report: VitestReport | undefined): { coverage?: CoverageSummary; source: string } {
  if (!freshFile(ctx, rel)) return { source: ctx.exists(rel) ? `${rel} is older than the code` : `no ${rel}` };
  if (report?.startTime !== undefined && statSync(ctx.abs(rel)).mtimeMs < report.startTime) return { source: `${rel} predates the test run of the report` };
  const coverage = parseCoverageSummary(ctx.text(rel) ?? '', ctx.root);
  return coverage ? { coverage, source: `fresh ${rel}` } : { source: `${rel} is not a json-summary report` };
}

function parseVitestReport(text: string): VitestReport | undefined {
  try {
    const r = JSON.parse(text) as Partial<VitestReport>;
    if (typeof r.numTotalTests !== 'number' || !Array.isArray(r.testResults)) return undefined;
    return r as VitestReport;
  } catch {
    return undefined;
  }
}

function parseCoverageSummary(text: string, root: string): CoverageSummary | undefined {
  try {
    const raw = JSON.parse(text) as Record<string, CoverageTotals>;
    const total = raw['total'];
    if (!total?.lines) return undefined;
    const files = new Map<string, CoverageTotals>();
    for (const [k, v] of Object.entries(raw)) {
      if (k === 'total') continue;
      files.set((isAbsolute(k) ? relative(root, k) : k).split(sep).join('/'), v);
    }
    return { total, files };
  } catch {
    return undefined;
  }
}

/** Test results (and coverage where possible), obtained once per run and shared by the gates. */
export function vitestData(ctx: ProjectContext): Promise<VitestData> {
  return ctx.memo('vitest', () => obtain(ctx));
}

async function obtain(ctx: ProjectContext): Promise<VitestData> {
  const { vitestJson, coverageSummary } = ctx.config.reports;
  const data: VitestData = { reportSource: 'no vitest report', coverageSource: 'no coverage data' };
  if (vitestJson) {
    const r = readReport(ctx, vitestJson);
    data.reportSource = r.source;
    if (r.report) data.report = r.report;
  }
  const c = readCoverage(ctx, coverageSummary, data.report);
  data.coverageSource = c.source;
  if (c.coverage) data.coverage = c.coverage;
  // A fresh report without coverage is enough only when coverage cannot be measured anyway.
  if (data.report && (data.coverage || !coverageProvider(ctx.root))) return data;
  if (ctx.skipSlow || ctx.reuseResults) {
    const why = ctx.reuseResults ? '--reuse-results' : '--skip-slow';
    if (!data.report) data.reportSource = `vitest not run (${why}): ${data.reportSource}`;
    return data;
  }
  return runVitest(ctx, data);
}

async function runVitest(ctx: ProjectContext, data: VitestData): Promise<VitestData> {
  const provider = data.coverage ? undefined : coverageProvider(ctx.root);
  const key = sha256(['vitest', provider ?? '', ctx.inputsHash()]);
  const cached = ctx.cache.get<{ report: VitestReport; coverage?: string }>(key);
  if (cached) return withResults(ctx, data, cached.report, cached.coverage, 'cached result of an identical tree');
  const dir = mkdtempSync(join(tmpdir(), 'pmat-vitest-'));
  try {
    const args = ['run', '--reporter=json', `--outputFile=${join(dir, 'report.json')}`];
    if (provider) args.push(...coverageArgs(ctx, join(dir, 'coverage')));
    const r = await ctx.withToolSlot(() => runNodeTool(ctx.root, 'vitest', args, VITEST_TIMEOUT_MS));
    const reportText = existsSync(join(dir, 'report.json')) ? readFileSync(join(dir, 'report.json'), 'utf8') : '';
    const report = parseVitestReport(reportText);
    if (!report) {
      const tail = (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' | ');
      return { ...data, reportSource: `vitest wrote no report (exit ${r.code}${r.timedOut ? ', timed out' : ''}): ${tail}` };
    }
    const summaryPath = join(dir, 'coverage', 'coverage-summary.json');
    const coverage = existsSync(summaryPath) ? readFileSync(summaryPath, 'utf8') : undefined;
    if (report.success) ctx.cache.set(key, { report, coverage });
    return withResults(ctx, data, report, coverage, `ran vitest (${(r.durationMs / 1000).toFixed(1)} s)`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function coverageArgs(ctx: ProjectContext, dir: string): string[] {
  const args = ['--coverage.enabled=true', '--coverage.reporter=json-summary', `--coverage.reportsDirectory=${dir}`];
  for (const g of ctx.config.paths.library) args.push(`--coverage.include=${g}`);
  for (const g of ctx.config.paths.cli) args.push(`--coverage.exclude=${g}`);
  return args;
}

function withResults(ctx: ProjectContext, data: VitestData, report: VitestReport, coverage: string | undefined, source: string): VitestData {
  const out: VitestData = { ...data, report, reportSource: source };
  const summary = coverage ? parseCoverageSummary(coverage, ctx.root) : undefined;
  if (summary) {
    out.coverage = summary;
    out.coverageSource = `${source} with coverage`;
  }
  return out;
}

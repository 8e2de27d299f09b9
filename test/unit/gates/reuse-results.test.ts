import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { runCompliance } from '../../../gates/registry.js';
import { plant, removePlanted, writeCoverage, writeFiles } from './fixture.js';

afterAll(removePlanted);

const SOURCES = ['src/approx.ts', 'src/index.ts', 'src/ops/mean.ts', 'src/stats.ts'];
const CONFIG = JSON.stringify({ paths: { source: ['src/**'] }, reports: { vitestJson: 'coverage/vitest-report.json' } });
const ONLY = ['CB-003', 'CB-004', 'CB-031'];

/** A vitest JSON report (the subset pmat reads) in which every listed file ran; `failed` names a failing test. */
function report(dir: string, files: readonly string[], opts: { failed?: string; startTime?: number } = {}): string {
  const testResults = files.map((f) => ({
    name: join(dir, f),
    status: opts.failed ? 'failed' : 'passed',
    startTime: 1000,
    endTime: 1500,
    message: '',
    assertionResults: [
      { fullName: 'mean of 1..4 is 2.5', status: 'passed', duration: 3, failureMessages: [] },
      ...(opts.failed ? [{ fullName: opts.failed, status: 'failed', duration: 2, failureMessages: ['AssertionError: expected 2 to be 3'] }] : []),
    ],
  }));
  const total = testResults.reduce((n, f) => n + f.assertionResults.length, 0);
  const failed = opts.failed ? files.length : 0;
  return JSON.stringify({
    numTotalTests: total, numPassedTests: total - failed, numFailedTests: failed, numPendingTests: 0,
    numFailedTestSuites: failed, numTotalTestSuites: files.length, success: failed === 0, startTime: opts.startTime ?? Date.now() - 5000, testResults,
  });
}

function statuses(r: Awaited<ReturnType<typeof runCompliance>>): Record<string, string> {
  return Object.fromEntries(r.checks.map((c) => [c.id, c.status]));
}

describe('pmat --reuse-results: one test run, read from its report files', () => {
  it('reads a fresh, complete report and coverage without running vitest', async () => {
    const dir = plant({ 'pmat.config.json': CONFIG });
    writeFiles(dir, { 'coverage/vitest-report.json': report(dir, ['test/stats.spec.ts']) });
    writeCoverage(dir, SOURCES, 95);
    const r = await runCompliance(dir, { only: ONLY, cache: false, reuseResults: true });
    expect(statuses(r)).toEqual({ 'CB-003': 'pass', 'CB-004': 'pass', 'CB-031': 'pass' });
    expect(r.checks[0]?.summary).toContain('fresh report coverage/vitest-report.json');
    expect(r.checks[1]?.summary).toContain('fresh coverage/coverage-summary.json');
    // a vitest run of the planted project takes seconds; reading two files does not
    expect(r.durationMs).toBeLessThan(5000);
  });

  it('reports the failing test of the reused report (exit-1 case)', async () => {
    const dir = plant({ 'pmat.config.json': CONFIG });
    writeFiles(dir, { 'coverage/vitest-report.json': report(dir, ['test/stats.spec.ts'], { failed: 'is wrong' }) });
    writeCoverage(dir, SOURCES, 95);
    const r = await runCompliance(dir, { only: ['CB-003'], cache: false, reuseResults: true });
    expect(r.checks[0]?.status).toBe('fail');
    expect(r.checks[0]?.findings.map((f) => f.message)).toEqual(['is wrong: AssertionError: expected 2 to be 3']);
  });

  it('rejects the report of a partial run (a test file missing), and then does not run the suite itself', async () => {
    const dir = plant({ 'pmat.config.json': CONFIG, 'test/extra.spec.ts': "import { expect, it } from 'vitest';\nit('one', () => {\n  expect(1).toBe(1);\n});\n" });
    writeFiles(dir, { 'coverage/vitest-report.json': report(dir, ['test/stats.spec.ts']) });
    writeCoverage(dir, SOURCES, 95);
    const r = await runCompliance(dir, { only: ['CB-003'], cache: false, reuseResults: true });
    expect(r.checks[0]?.status).toBe('fail');
    expect(r.checks[0]?.summary).toBe('vitest not run (--reuse-results): coverage/vitest-report.json is from a partial run (1 test file(s) missing, e.g. test/extra.spec.ts)');
  });

  it('rejects a report older than the code, and a coverage summary written before the reported run began', async () => {
    const stale = plant({ 'pmat.config.json': CONFIG });
    writeFiles(stale, { 'coverage/vitest-report.json': report(stale, ['test/stats.spec.ts']) });
    await new Promise((resolve) => setTimeout(resolve, 20));
    writeFiles(stale, { 'src/stats.ts': "export { mean, variance } from './index.js';\n" });
    const early = plant({ 'pmat.config.json': CONFIG });
    writeCoverage(early, SOURCES, 95);
    writeFiles(early, { 'coverage/vitest-report.json': report(early, ['test/stats.spec.ts'], { startTime: Date.now() + 60_000 }) });
    const [rs, re] = await Promise.all([stale, early].map((d) => runCompliance(d, { only: ['CB-003', 'CB-004'], cache: false, reuseResults: true })));
    expect(rs?.checks[0]?.summary).toContain('coverage/vitest-report.json is older than the code');
    expect(rs?.checks[0]?.status).toBe('fail');
    expect(re?.checks[0]?.status).toBe('pass');
    expect(re?.checks[1]?.status).toBe('warn');
    expect(re?.checks[1]?.summary).toContain('coverage/coverage-summary.json predates the test run of the report');
  });
});

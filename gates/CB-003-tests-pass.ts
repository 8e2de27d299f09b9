import { relative } from 'node:path';
import { z } from 'zod';
import { defineCheck, outcome, plural, skip, type Finding } from './lib/types.js';
import { vitestData, type VitestFile } from './lib/vitest.js';

function firstLine(s: string | undefined): string {
  return (s ?? '').trim().split('\n')[0]?.slice(0, 200) ?? '';
}

function fileFindings(root: string, f: VitestFile): Finding[] {
  const file = relative(root, f.name) || f.name;
  const failed = f.assertionResults.filter((a) => a.status === 'failed');
  if (failed.length === 0 && f.status === 'failed') return [{ level: 'fail', file, message: `suite failed: ${firstLine(f.message)}` }];
  return failed.map((a) => ({ level: 'fail' as const, file, message: `${a.fullName}: ${firstLine(a.failureMessages?.[0])}` }));
}

/** The test suite passes (vitest): from a fresh JSON report of the CI run, or by running it. */
export const testsPass = defineCheck({
  id: 'CB-003',
  name: 'tests-pass',
  description: 'the vitest suite passes and is not empty',
  slow: true,
  thresholds: z.object({ minTests: z.number().int().min(0).default(1) }),
  async run(ctx, t) {
    const data = await vitestData(ctx);
    const r = data.report;
    if (!r) return ctx.skipSlow ? skip(data.reportSource) : outcome(data.reportSource, [{ level: 'fail', message: 'the test suite produced no results' }]);
    const findings = r.testResults.flatMap((f) => fileFindings(ctx.root, f));
    if (r.numTotalTests < t.minTests) findings.push({ level: 'fail', message: `${plural(r.numTotalTests, 'test')}, fewer than ${t.minTests}` });
    if (!r.success && findings.length === 0) findings.push({ level: 'fail', message: 'vitest reported failure' });
    const summary = `${r.numPassedTests}/${r.numTotalTests} tests passed in ${plural(r.testResults.length, 'file')}, ${r.numPendingTests} skipped (${data.reportSource})`;
    return outcome(summary, findings);
  },
});

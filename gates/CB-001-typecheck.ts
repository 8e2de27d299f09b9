import { z } from 'zod';
import { cachedTool, describeRun, tail } from './lib/cached-tool.js';
import { defineCheck, outcome, plural, skip, type Finding } from './lib/types.js';

const TSC_ERROR = /^(.+?)\((\d+),\d+\): error (TS\d+): (.*)$/;

/** The compiler is the truth about types: `tsc --noEmit` over the project's tsconfig. */
export const typecheck = defineCheck({
  id: 'CB-001',
  name: 'typecheck',
  description: 'tsc --noEmit over the project tsconfig reports no errors',
  slow: true,
  thresholds: z.object({
    project: z.string().default('tsconfig.json'),
    timeoutSeconds: z.number().positive().default(900),
  }),
  async run(ctx, t) {
    if (!ctx.exists(t.project)) return outcome(`${t.project} not found`, [{ level: 'fail', message: 'no tsconfig: the project is not type-checked' }]);
    const r = await cachedTool(ctx, 'tsc', ['--noEmit', '-p', t.project, '--pretty', 'false'], t.timeoutSeconds);
    if (!r) return skip('skipped (--skip-slow) and no result for this tree');
    const findings: Finding[] = [];
    for (const line of r.stdout.split('\n')) {
      const m = TSC_ERROR.exec(line.trim());
      if (m) findings.push({ level: 'fail', file: m[1], line: Number(m[2]), message: `${m[3] ?? ''} ${m[4] ?? ''}` });
    }
    if (r.code !== 0 && findings.length === 0) findings.push({ level: 'fail', message: `tsc exited ${r.code}${r.timedOut ? ' (timed out)' : ''}: ${tail(r)}` });
    const summary = findings.length === 0 ? `tsc --noEmit clean (${describeRun(r)})` : `tsc: ${plural(findings.length, 'error')} (${describeRun(r)})`;
    return outcome(summary, findings);
  },
});

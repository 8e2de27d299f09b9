import { relative } from 'node:path';
import { z } from 'zod';
import { defineCheck, levelAbove, outcome, skip, type Finding } from './lib/types.js';
import { vitestData } from './lib/vitest.js';

/** Keeps the suite fast: single tests and whole test files under their time limits. */
export const slowTests = defineCheck({
  id: 'CB-031',
  name: 'slow-tests',
  description: 'no single test and no test file over the time limits (from the vitest JSON report)',
  slow: true,
  thresholds: z.object({
    testWarnSeconds: z.number().positive().default(10),
    testFailSeconds: z.number().positive().default(60),
    fileWarnSeconds: z.number().positive().default(30),
    fileFailSeconds: z.number().positive().default(120),
  }),
  async run(ctx, t) {
    const data = await vitestData(ctx);
    const r = data.report;
    if (!r) return skip(`no test timings: ${data.reportSource}`);
    const findings: Finding[] = [];
    let slowest = { name: '-', s: 0 };
    for (const f of r.testResults) {
      const file = relative(ctx.root, f.name) || f.name;
      const fileS = f.startTime !== undefined && f.endTime !== undefined ? (f.endTime - f.startTime) / 1000 : 0;
      if (fileS > slowest.s) slowest = { name: file, s: fileS };
      const fl = levelAbove(fileS, t.fileWarnSeconds, t.fileFailSeconds);
      if (fl) findings.push({ level: fl, file, message: `test file took ${fileS.toFixed(1)} s` });
      for (const a of f.assertionResults) {
        const s = (a.duration ?? 0) / 1000;
        const tl = levelAbove(s, t.testWarnSeconds, t.testFailSeconds);
        if (tl) findings.push({ level: tl, file, message: `'${a.fullName}' took ${s.toFixed(1)} s` });
      }
    }
    return outcome(`slowest file ${slowest.name} ${slowest.s.toFixed(1)} s over ${r.testResults.length} files (${data.reportSource})`, findings);
  },
});

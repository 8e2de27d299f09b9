import { z } from 'zod';
import { codeLines } from './lib/analysis.js';
import { defineCheck, levelBelow, outcome } from './lib/types.js';

/** Enough test code for the production code: ratio of test to source code lines. */
export const testCodeRatio = defineCheck({
  id: 'CB-030',
  name: 'test-code-ratio',
  description: 'lines of test code per line of source code stay above the limits',
  thresholds: z.object({
    warn: z.number().min(0).default(0.5),
    fail: z.number().min(0).default(0.25),
  }),
  run(ctx, t) {
    const count = (files: readonly string[]): number => files.reduce((n, f) => n + codeLines(ctx.text(f) ?? ''), 0);
    const src = count(ctx.sourceFiles);
    const tests = count(ctx.testFiles);
    const ratio = src === 0 ? Infinity : tests / src;
    const level = levelBelow(ratio, t.warn, t.fail);
    const summary = `${tests} test / ${src} source code lines = ${Number.isFinite(ratio) ? ratio.toFixed(2) : '∞'}; limits ${t.warn}/${t.fail}`;
    return outcome(summary, level ? [{ level, message: `test-to-code ratio ${ratio.toFixed(2)} < ${level === 'fail' ? t.fail : t.warn}` }] : []);
  },
});

import { z } from 'zod';
import { codeLines } from './lib/analysis.js';
import { matchesAny } from './lib/glob.js';
import { defineCheck, levelBelow, outcome } from './lib/types.js';

/** Enough test code for the production code: ratio of test to source code lines. */
export const testCodeRatio = defineCheck({
  id: 'CB-030',
  name: 'test-code-ratio',
  description: 'lines of test code per line of source code stay above the limits',
  thresholds: z.object({
    warn: z.number().min(0).default(0.5),
    fail: z.number().min(0).default(0.25),
    /**
     * Source globs that are verification code rather than production code (e.g. z3 proof harnesses, which
     * back contract obligations as tests do): their lines count on the test side.
     */
    verification: z.array(z.string()).default([]),
  }),
  run(ctx, t) {
    const count = (files: readonly string[]): number => files.reduce((n, f) => n + codeLines(ctx.text(f) ?? ''), 0);
    const verification = ctx.sourceFiles.filter((f) => matchesAny(f, t.verification));
    const src = count(ctx.sourceFiles.filter((f) => !verification.includes(f)));
    const tests = count(ctx.testFiles) + count(verification);
    const ratio = src === 0 ? Infinity : tests / src;
    const level = levelBelow(ratio, t.warn, t.fail);
    const summary = `${tests} test${verification.length > 0 ? ` (incl. ${verification.length} verification files)` : ''} / ${src} source code lines = ${Number.isFinite(ratio) ? ratio.toFixed(2) : '∞'}; limits ${t.warn}/${t.fail}`;
    return outcome(summary, level ? [{ level, message: `test-to-code ratio ${ratio.toFixed(2)} < ${level === 'fail' ? t.fail : t.warn}` }] : []);
  },
});

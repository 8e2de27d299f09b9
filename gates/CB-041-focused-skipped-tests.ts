import { ts } from 'ts-morph';
import { z } from 'zod';
import { scanNodes } from './lib/analysis.js';
import { testCall } from './lib/tests.js';
import { defineCheck, outcome, plural, type Finding } from './lib/types.js';

/** Inside an `if` or `?:`: a skip that happens only when, say, an outside tool is missing (like skipIf). */
function underCondition(n: ts.Node): boolean {
  for (let p = n.parent; !ts.isSourceFile(p); p = p.parent) if (ts.isIfStatement(p) || ts.isConditionalExpression(p)) return true;
  return false;
}

/** No `.only` (it silently skips the rest of the suite) and no unconditional `.skip`/`.todo`. */
export const focusedSkippedTests = defineCheck({
  id: 'CB-041',
  name: 'focused-skipped-tests',
  description: 'no .only in tests; no unconditional .skip/.todo (skipIf/runIf or a skip under an if are fine)',
  thresholds: z.object({ maxSkipped: z.number().int().min(0).default(0) }),
  run(ctx, t) {
    const found = scanNodes(ctx, ctx.testFiles, 'fail', (n) => {
      if (!ts.isCallExpression(n) || ts.isCallExpression(n.parent)) return undefined;
      const c = testCall(n);
      if (!c) return undefined;
      if (c.modifiers.includes('only')) return `${c.runner}.only focuses the suite`;
      const s = c.modifiers.find((m) => m === 'skip' || m === 'todo');
      return s && !underCondition(n) ? `${c.runner}.${s}` : undefined;
    });
    const only = found.filter((f) => f.message.includes('.only'));
    const skipped = found.filter((f) => !f.message.includes('.only'));
    const findings: Finding[] = [...only, ...(skipped.length > t.maxSkipped ? skipped.map((f) => ({ ...f, level: 'warn' as const })) : [])];
    return outcome(`${plural(only.length, 'focused test')}, ${plural(skipped.length, 'skipped test')} (max ${t.maxSkipped})`, findings);
  },
});

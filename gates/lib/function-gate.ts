import { z } from 'zod';
import { sourceFunctions } from './analysis.js';
import type { FunctionMetrics } from './ast.js';
import type { ProjectContext } from './context.js';
import { levelAbove, outcome, plural, type Finding, type Outcome } from './types.js';

export const limits = (warn: number, fail: number) =>
  z.object({ warn: z.number().int().min(0).default(warn), fail: z.number().int().min(0).default(fail) });

/** Shared body of the per-function metric gates: every source function against warn/fail limits. */
export function functionGate(ctx: ProjectContext, metric: keyof Omit<FunctionMetrics, 'name' | 'line'>, label: string, t: { warn: number; fail: number }): Outcome {
  const findings: Finding[] = [];
  let max = 0;
  let count = 0;
  let worst = '';
  for (const [file, fns] of sourceFunctions(ctx)) {
    for (const fn of fns) {
      count++;
      const v = fn[metric];
      if (v > max) {
        max = v;
        worst = `${file}:${fn.line} ${fn.name}`;
      }
      const level = levelAbove(v, t.warn, t.fail);
      if (level) findings.push({ level, file, line: fn.line, message: `${fn.name}: ${label} ${v} > ${level === 'fail' ? t.fail : t.warn}` });
    }
  }
  findings.sort((a, b) => (a.level === b.level ? 0 : a.level === 'fail' ? -1 : 1));
  return outcome(`max ${label} ${max} over ${plural(count, 'function')}${worst ? ` (${worst})` : ''}; limits ${t.warn}/${t.fail}`, findings);
}

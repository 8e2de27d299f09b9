import { z } from 'zod';
import { dependencies } from './lib/package.js';
import { defineCheck, levelAbove, outcome, type Finding } from './lib/types.js';

const limit = (warn: number, fail: number) => z.object({ warn: z.number().int().min(0).default(warn), fail: z.number().int().min(0).default(fail) }).prefault({});

/** A small dependency surface: runtime and development dependencies under the limits. */
export const dependencyCount = defineCheck({
  id: 'CB-022',
  name: 'dependency-count',
  description: 'the number of dependencies stays under the limits',
  thresholds: z.object({ dependencies: limit(15, 25), devDependencies: limit(20, 30) }),
  run(ctx, t) {
    if (!ctx.packageJson()) return outcome('no package.json', [{ level: 'fail', message: 'package.json missing or invalid' }]);
    const findings: Finding[] = [];
    const counts = (['dependencies', 'devDependencies'] as const).map((field) => {
      const n = Object.keys(dependencies(ctx, field)).length;
      const level = levelAbove(n, t[field].warn, t[field].fail);
      if (level) findings.push({ level, file: 'package.json', message: `${n} ${field} > ${level === 'fail' ? t[field].fail : t[field].warn}` });
      return `${n} ${field}`;
    });
    return outcome(counts.join(', '), findings);
  },
});

import { dirname } from 'node:path';
import { ts } from 'ts-morph';
import { z } from 'zod';
import { defineCheck, outcome, type Finding } from './lib/types.js';

/** The compiler is as strict as the project claims: required and recommended tsconfig flags. */
export const tsconfigStrict = defineCheck({
  id: 'CB-040',
  name: 'tsconfig-strict',
  description: 'tsconfig enables strict mode and the recommended extra checks',
  thresholds: z.object({
    project: z.string().default('tsconfig.json'),
    require: z.array(z.string()).default(['strict']),
    recommend: z.array(z.string()).default(['noUncheckedIndexedAccess', 'noImplicitOverride', 'noFallthroughCasesInSwitch']),
  }),
  run(ctx, t) {
    if (!ctx.exists(t.project)) return outcome(`${t.project} not found`, [{ level: 'fail', message: `no ${t.project}` }]);
    const file = ctx.abs(t.project);
    const read = ts.readConfigFile(file, (p) => ts.sys.readFile(p));
    if (read.error) return outcome(`${t.project} unreadable`, [{ level: 'fail', file: t.project, message: ts.flattenDiagnosticMessageText(read.error.messageText, ' ') }]);
    const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, dirname(file));
    const opts = parsed.options as Record<string, unknown>;
    const findings: Finding[] = [
      ...t.require.filter((k) => opts[k] !== true).map((k) => ({ level: 'fail' as const, file: t.project, message: `compilerOptions.${k} is not true` })),
      ...t.recommend.filter((k) => opts[k] !== true).map((k) => ({ level: 'warn' as const, file: t.project, message: `compilerOptions.${k} is not enabled` })),
    ];
    const on = [...t.require, ...t.recommend].filter((k) => opts[k] === true);
    return outcome(`${t.project}: ${on.join(', ') || 'no strictness flags'} enabled`, findings);
  },
});

import { z } from 'zod';
import { isExpired, suppressionUsage } from './lib/runner.js';
import { defineCheck, outcome, plural, type Finding } from './lib/types.js';

const DAY_MS = 86_400_000;

/** Suppressions in pmat.config.json are temporary: none expired, none unused, none open-ended. */
export const pmatSuppressions = defineCheck({
  id: 'CB-044',
  name: 'pmat-suppressions',
  description: 'pmat.config.json suppressions are unexpired, used, and expire within the limit',
  last: true,
  thresholds: z.object({ maxDays: z.number().int().positive().default(180) }),
  run(ctx, t) {
    const usage = suppressionUsage(ctx);
    const findings: Finding[] = [];
    for (const s of ctx.config.suppressions) {
      const label = `${s.id}${s.path ? ` ${s.path}` : ''}`;
      const days = (Date.parse(s.expires) - ctx.now.getTime()) / DAY_MS;
      if (isExpired(s, ctx.now)) findings.push({ level: 'fail', file: 'pmat.config.json', message: `suppression ${label} expired on ${s.expires} (${s.reason})` });
      else if (days > t.maxDays) findings.push({ level: 'warn', file: 'pmat.config.json', message: `suppression ${label} expires in ${Math.round(days)} days (> ${t.maxDays})` });
      else if (usage.ran.has(s.id) && !usage.used.has(s)) findings.push({ level: 'warn', file: 'pmat.config.json', message: `suppression ${label} matches nothing: remove it` });
    }
    return outcome(`${plural(ctx.config.suppressions.length, 'suppression')} in pmat.config.json`, findings);
  },
});

import { z } from 'zod';
import { defineCheck, outcome, type Finding } from './lib/types.js';

/** Lowest Node major version a simple `engines.node` range admits (>=20, ^20.1, 20.x, ~20), or undefined. */
export function lowestMajor(range: string): number | undefined {
  const majors = range.split('||').map((part) => {
    const m = /^\s*(>=|\^|~|=)?\s*v?(\d+)(\.[\dx*]+)*\s*(<\S+)?\s*$/.exec(part.replace(/\s+-\s+\S+$/, ''));
    return m ? Number(m[2]) : undefined;
  });
  return majors.every((x) => x !== undefined) && majors.length > 0 ? Math.min(...majors) : undefined;
}

/** The supported Node versions are declared and include the running Node. */
export const engines = defineCheck({
  id: 'CB-029',
  name: 'engines',
  description: 'package.json declares engines.node, and the running Node satisfies it',
  thresholds: z.object({ minNodeMajor: z.number().int().min(0).default(18) }),
  run(ctx, t) {
    const e = ctx.packageJson()?.['engines'];
    const range = e && typeof e === 'object' ? (e as Record<string, unknown>)['node'] : undefined;
    if (typeof range !== 'string' || range.trim() === '' || range.trim() === '*') {
      return outcome('no engines.node', [{ level: 'fail', file: 'package.json', message: 'engines.node missing or unbounded' }]);
    }
    const findings: Finding[] = [];
    const low = lowestMajor(range);
    const running = Number(process.versions.node.split('.')[0]);
    if (low === undefined) findings.push({ level: 'warn', file: 'package.json', message: `engines.node '${range}' is not a simple range pmat can read` });
    else if (low < t.minNodeMajor) findings.push({ level: 'warn', file: 'package.json', message: `engines.node admits Node ${low}, older than ${t.minNodeMajor}` });
    else if (running < low) findings.push({ level: 'fail', file: 'package.json', message: `running Node ${process.versions.node} is below engines.node '${range}'` });
    return outcome(`engines.node '${range}', running Node ${process.versions.node}`, findings);
  },
});

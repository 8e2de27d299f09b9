import { z } from 'zod';
import { dependencies } from './lib/package.js';
import { defineCheck, outcome, skip, type Finding } from './lib/types.js';

/** `npm ci` fails when package.json and package-lock.json disagree: catch it before CI does. */
export const lockfileSync = defineCheck({
  id: 'CB-025',
  name: 'lockfile-sync',
  description: 'package-lock.json records the same dependency specs as package.json',
  thresholds: z.object({}),
  run(ctx) {
    if (!ctx.exists('package-lock.json')) return skip('no package-lock.json (another package manager, or none)');
    const lock = ctx.json('package-lock.json') as { lockfileVersion?: number; packages?: Record<string, Record<string, unknown>> } | undefined;
    const root = lock?.packages?.[''];
    if (!root) return outcome('package-lock.json has no packages[""] entry', [{ level: 'fail', file: 'package-lock.json', message: 'lockfile v1 or invalid: regenerate with npm 7+' }]);
    const findings: Finding[] = [];
    for (const field of ['dependencies', 'devDependencies', 'optionalDependencies'] as const) {
      const want = dependencies(ctx, field);
      const have = (root[field] ?? {}) as Record<string, string>;
      for (const name of new Set([...Object.keys(want), ...Object.keys(have)])) {
        if (want[name] !== have[name]) findings.push({ level: 'fail', file: 'package-lock.json', message: `${field}.${name}: package.json '${want[name] ?? '(absent)'}', lockfile '${have[name] ?? '(absent)'}'` });
      }
      for (const name of Object.keys(want)) {
        if (!lock.packages?.[`node_modules/${name}`]) findings.push({ level: 'fail', file: 'package-lock.json', message: `${name} is not resolved in the lockfile` });
      }
    }
    return outcome(`package-lock.json v${lock.lockfileVersion ?? '?'} compared with package.json`, findings);
  },
});

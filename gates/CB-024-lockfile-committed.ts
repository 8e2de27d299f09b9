import { z } from 'zod';
import { defineCheck, outcome } from './lib/types.js';

const LOCKFILES = ['package-lock.json', 'npm-shrinkwrap.json', 'pnpm-lock.yaml', 'yarn.lock', 'bun.lock', 'bun.lockb'];

/** The lockfile is in version control, so a clean clone installs the same tree. */
export const lockfileCommitted = defineCheck({
  id: 'CB-024',
  name: 'lockfile-committed',
  description: 'a package lockfile is tracked by git',
  thresholds: z.object({}),
  run(ctx) {
    const present = LOCKFILES.filter((f) => ctx.exists(f));
    if (!ctx.tracked) {
      return outcome('not a git work tree', [{ level: present.length > 0 ? 'warn' : 'fail', message: `cannot tell whether ${present[0] ?? 'a lockfile'} is committed: not a git repository` }]);
    }
    const tracked = LOCKFILES.filter((f) => ctx.tracked?.has(f));
    if (tracked.length > 0) return outcome(`${tracked.join(', ')} tracked by git`);
    const why = present.length > 0 ? `${present.join(', ')} exists but is not tracked by git` : 'no lockfile (run npm install and commit package-lock.json)';
    return outcome('no committed lockfile', [{ level: 'fail', message: why }]);
  },
});

import { z } from 'zod';
import { DEPENDENCY_FIELDS, dependencies } from './lib/package.js';
import { defineCheck, outcome, plural, type Finding, type Level } from './lib/types.js';

const EXACT = /^v?\d+\.\d+\.\d+(-[\w.]+)?(\+[\w.]+)?$/;
const TILDE = /^~\d+(\.\d+){0,2}(-[\w.]+)?$/;
const SOURCE = /^(git(\+\w+)?:|https?:|file:|link:|github:|[\w-]+\/[\w.-]+(#.*)?$)/;

/** Why a version spec is not pinned, or undefined when it is (exact, or `~` patch range if allowed). */
export function unpinnedReason(spec: string, allowTilde: boolean): { level: Level; why: string } | undefined {
  const v = spec.startsWith('npm:') ? spec.slice(spec.lastIndexOf('@') + 1) : spec.trim();
  if (v.startsWith('workspace:')) return undefined;
  if (EXACT.test(v)) return undefined;
  if (TILDE.test(v)) return allowTilde ? undefined : { level: 'fail', why: '~ range (config allows exact versions only)' };
  if (SOURCE.test(v)) return { level: 'warn', why: 'installed from a URL or repository, not the registry' };
  if (v.startsWith('^')) return { level: 'fail', why: '^ range admits new minor versions' };
  if (v === '*' || v === '' || v === 'latest' || v === 'x' || v === 'next') return { level: 'fail', why: `'${v || '(empty)'}' admits any version` };
  return { level: 'fail', why: 'version range' };
}

/** Reproducible installs: every dependency pinned (exact, or `~` patch ranges when allowed). */
export const pinnedVersions = defineCheck({
  id: 'CB-023',
  name: 'pinned-versions',
  description: 'no ^, *, latest or open ranges in package.json dependencies',
  thresholds: z.object({ allowTilde: z.boolean().default(true) }),
  run(ctx, t) {
    if (!ctx.packageJson()) return outcome('no package.json', [{ level: 'fail', message: 'package.json missing or invalid' }]);
    const findings: Finding[] = [];
    let total = 0;
    for (const field of DEPENDENCY_FIELDS.filter((f) => f !== 'peerDependencies')) {
      for (const [name, spec] of Object.entries(dependencies(ctx, field))) {
        total++;
        const r = unpinnedReason(spec, t.allowTilde);
        if (r) findings.push({ level: r.level, file: 'package.json', message: `${field}.${name} '${spec}': ${r.why}` });
      }
    }
    return outcome(`${plural(total, 'dependency', 'dependencies')} checked (exact${t.allowTilde ? ' or ~patch' : ''} pins required)`, findings);
  },
});

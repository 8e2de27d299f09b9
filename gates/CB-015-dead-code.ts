import { z } from 'zod';
import { importGraph } from './lib/analysis.js';
import type { ProjectContext } from './lib/context.js';
import { matchesAny } from './lib/glob.js';
import { exportedNames } from './lib/imports.js';
import { defineCheck, outcome, plural, type Finding } from './lib/types.js';

/** `dist/src/cli/x.js` (a bin or export target) → `src/cli/x.ts`. */
function sourceOfTarget(target: string): string {
  return target.replace(/^\.\//, '').replace(/^(dist|build|lib|out)\//, '').replace(/\.(c|m)?js$/, '.ts');
}

function targetsOf(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (v && typeof v === 'object') return Object.values(v).flatMap(targetsOf);
  return [];
}

/** Files whose exports are public: configured entry points and package.json bin/main/module/exports. */
function entryPoints(ctx: ProjectContext): Set<string> {
  const pkg = ctx.packageJson() ?? {};
  const fromPkg = ['bin', 'main', 'module', 'exports'].flatMap((k) => targetsOf(pkg[k])).map(sourceOfTarget);
  return new Set([...ctx.tsFiles.filter((f) => matchesAny(f, ctx.config.paths.entryPoints)), ...fromPkg]);
}

/**
 * Dead code: exported names that no other file imports (re-exports and namespace or dynamic imports
 * count as uses), and source files that nothing imports and that are not entry points.
 */
export const deadCode = defineCheck({
  id: 'CB-015',
  name: 'dead-code',
  description: 'no unused exports and no unreachable source files',
  thresholds: z.object({
    /** Also report exported interfaces and type aliases nobody imports (erased at run time). */
    includeTypes: z.boolean().default(false),
    failAbove: z.number().int().min(0).default(10),
    /** Export names never reported (globs over the name, e.g. `*Contract` for contracts read by a binder). */
    ignoreNames: z.array(z.string()).default([]),
  }),
  run(ctx, t) {
    const entries = entryPoints(ctx);
    const used = new Map<string, Set<string> | '*'>();
    for (const e of importGraph(ctx)) {
      if (e.from === e.to) continue;
      const prev = used.get(e.to);
      if (prev === '*' || e.names === '*') used.set(e.to, '*');
      else used.set(e.to, new Set([...(prev ?? []), ...e.names]));
    }
    const dead: Finding[] = [];
    for (const file of ctx.sourceFiles.filter((f) => !entries.has(f))) {
      const names = used.get(file);
      if (!names) {
        dead.push({ level: 'warn', file, message: 'no file imports this module' });
        continue;
      }
      if (names === '*') continue;
      for (const ex of exportedNames(ctx.sourceFile(file))) {
        if ((t.includeTypes || !ex.typeOnly) && !names.has(ex.name) && !matchesAny(ex.name, t.ignoreNames)) dead.push({ level: 'warn', file, line: ex.line, message: `export '${ex.name}' is never imported` });
      }
    }
    const findings = dead.map((f) => (dead.length > t.failAbove ? { ...f, level: 'fail' as const } : f));
    return outcome(`${plural(dead.length, 'unused export or module', 'unused exports or modules')} across ${plural(ctx.sourceFiles.length, 'source file')}`, findings);
  },
});

import { posix } from 'node:path';
import { ts } from 'ts-morph';
import { z } from 'zod';
import { importGraph } from './lib/analysis.js';
import { walk } from './lib/ast.js';
import type { ProjectContext } from './lib/context.js';
import { matchesAny } from './lib/glob.js';
import { defineCheck, outcome, plural, type Finding } from './lib/types.js';

/** Paths a test names as strings: `'src/cli/apr.ts'` or `join('src', 'cli', 'apr.ts')` (for spawned CLIs). */
function namedPaths(sf: ts.SourceFile): string[] {
  const out: string[] = [];
  walk(sf, (n) => {
    if (ts.isStringLiteralLike(n) && /\.(ts|js)$/.test(n.text)) out.push(n.text);
    if (ts.isCallExpression(n) && n.arguments.length > 1 && /\b(join|resolve)$/.test(n.expression.getText(sf))) {
      const parts = n.arguments.filter(ts.isStringLiteralLike).map((a) => a.text);
      if (parts.length > 0) out.push(parts.join('/'));
    }
  });
  return out;
}

/** Modules a file loads by URL, as worker threads are: `new URL('./worker.js', import.meta.url)`. */
function urlLoaded(ctx: ProjectContext, file: string): string[] {
  const out: string[] = [];
  walk(ctx.sourceFile(file), (n) => {
    const arg = ts.isNewExpression(n) && n.expression.getText() === 'URL' ? n.arguments?.[0] : undefined;
    if (arg && ts.isStringLiteralLike(arg) && /^\.\.?\//.test(arg.text) && /\.(ts|js)$/.test(arg.text)) {
      const target = posix.join(posix.dirname(file), arg.text).replace(/\.js$/, '.ts');
      if (ctx.sourceFiles.includes(target)) out.push(target);
    }
  });
  return out;
}

/** Source files reached from the tests through imports (transitively), URL-loaded workers, or named as paths to run. */
function reached(ctx: ProjectContext): Set<string> {
  const next = new Map<string, string[]>();
  for (const e of importGraph(ctx)) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  for (const f of ctx.sourceFiles) {
    const loaded = urlLoaded(ctx, f);
    if (loaded.length > 0) next.set(f, [...(next.get(f) ?? []), ...loaded]);
  }
  const seen = new Set<string>();
  const queue = [...ctx.testFiles];
  for (const t of ctx.testFiles) {
    for (const p of namedPaths(ctx.sourceFile(t))) {
      const clean = p.replace(/^\.?\//, '').replace(/^dist\//, '').replace(/\.js$/, '.ts');
      queue.push(...ctx.sourceFiles.filter((f) => f === clean || f.endsWith(`/${clean}`)));
    }
  }
  for (let f = queue.pop(); f !== undefined; f = queue.pop()) {
    if (seen.has(f)) continue;
    seen.add(f);
    queue.push(...(next.get(f) ?? []));
  }
  return seen;
}

/** Every module in scope is exercised by some test (imported, directly or not, or run by path). */
export const untestedModules = defineCheck({
  id: 'CB-043',
  name: 'untested-modules',
  description: 'every source module is reached from some test file',
  thresholds: z.object({
    scope: z.array(z.string()).default(['src/**']),
    /** Untested modules warn; above this share of the scope they fail. */
    failAbovePercent: z.number().min(0).max(100).default(50),
  }),
  run(ctx, t) {
    const scope = ctx.sourceFiles.filter((f) => matchesAny(f, t.scope));
    const hit = reached(ctx);
    const untested = scope.filter((f) => !hit.has(f));
    const level = scope.length > 0 && (100 * untested.length) / scope.length > t.failAbovePercent ? 'fail' : 'warn';
    const findings: Finding[] = untested.map((file) => ({ level, file, message: 'no test imports or runs this module' }));
    return outcome(`${scope.length - untested.length}/${plural(scope.length, 'module')} reached from ${plural(ctx.testFiles.length, 'test file')} (fail above ${t.failAbovePercent}% untested)`, findings);
  },
});

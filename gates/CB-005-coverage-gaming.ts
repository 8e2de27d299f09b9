import { ts } from 'ts-morph';
import { z } from 'zod';
import { fileComments } from './lib/analysis.js';
import { lineOf, walk } from './lib/ast.js';
import type { ProjectContext } from './lib/context.js';
import { matchesAny } from './lib/glob.js';
import { defineCheck, outcome, plural, type Finding } from './lib/types.js';

const IGNORE_HINT = /\b(istanbul|v8|c8)\s+ignore\b/;
const CONFIG_FILES = ['vitest.config.ts', 'vitest.config.mts', 'vitest.config.js', 'vitest.config.mjs', 'vite.config.ts', 'vite.config.js', 'vite.config.mjs'];
const RC_FILES = ['.c8rc', '.c8rc.json', '.nycrc', '.nycrc.json'];

function stringsOf(e: ts.Expression | undefined): string[] {
  if (!e || !ts.isArrayLiteralExpression(e)) return [];
  return e.elements.flatMap((x) => (ts.isStringLiteralLike(x) ? [x.text] : []));
}

function propertyOf(obj: ts.ObjectLiteralExpression, name: string): ts.Expression | undefined {
  for (const p of obj.properties) {
    if (ts.isPropertyAssignment(p) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) && p.name.text === name) return p.initializer;
  }
  return undefined;
}

interface CoverageSettings {
  exclude: string[];
  include: string[] | undefined;
  line: number;
}

/** `coverage: { exclude, include }` objects anywhere in a vitest/vite config file. */
function vitestCoverageSettings(file: string, text: string): CoverageSettings[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: CoverageSettings[] = [];
  walk(sf, (n) => {
    if (!ts.isPropertyAssignment(n) || n.name.getText(sf) !== 'coverage' || !ts.isObjectLiteralExpression(n.initializer)) return;
    const include = propertyOf(n.initializer, 'include');
    out.push({ exclude: stringsOf(propertyOf(n.initializer, 'exclude')), include: include ? stringsOf(include) : undefined, line: lineOf(sf, n.getStart(sf)) });
  });
  return out;
}

function rcSettings(ctx: ProjectContext): { file: string; s: CoverageSettings }[] {
  const out: { file: string; s: CoverageSettings }[] = [];
  const add = (file: string, v: unknown): void => {
    if (!v || typeof v !== 'object') return;
    const o = v as { exclude?: unknown; include?: unknown };
    const list = (x: unknown): string[] => (Array.isArray(x) ? x.filter((y): y is string => typeof y === 'string') : []);
    out.push({ file, s: { exclude: list(o.exclude), include: o.include === undefined ? undefined : list(o.include), line: 1 } });
  };
  const pkg = ctx.packageJson();
  add('package.json', pkg?.['c8']);
  add('package.json', pkg?.['nyc']);
  for (const f of RC_FILES) add(f, ctx.json(f));
  return out;
}

function judge(file: string, s: CoverageSettings, scope: readonly string[]): Finding[] {
  const findings: Finding[] = [];
  for (const pattern of s.exclude) {
    const hit = scope.filter((f) => matchesAny(f, [pattern]));
    if (hit.length > 0) findings.push({ level: 'fail', file, line: s.line, message: `coverage exclude '${pattern}' hides ${plural(hit.length, 'library file')} (${hit[0] ?? ''}…)` });
  }
  if (s.include && s.include.length > 0) {
    const left = scope.filter((f) => !matchesAny(f, s.include ?? []));
    if (left.length > 0) findings.push({ level: 'fail', file, line: s.line, message: `coverage include leaves out ${plural(left.length, 'library file')} (${left[0] ?? ''}…)` });
  }
  return findings;
}

/** No coverage-exclusion gaming: no ignore hints in code, no config that drops library files from coverage. */
export const coverageGaming = defineCheck({
  id: 'CB-005',
  name: 'coverage-gaming',
  description: 'no istanbul/v8/c8 ignore hints and no coverage include/exclude that hides library files',
  thresholds: z.object({ maxIgnoreHints: z.number().int().min(0).default(0) }),
  run(ctx, t) {
    const hints: Finding[] = [];
    for (const file of ctx.sourceFiles) {
      for (const c of fileComments(ctx, file)) if (IGNORE_HINT.test(c.text)) hints.push({ level: 'fail', file, line: c.line, message: `coverage ignore hint: ${c.text.slice(0, 60)}` });
    }
    const findings = hints.length > t.maxIgnoreHints ? hints : [];
    const settings = [
      ...CONFIG_FILES.filter((x) => ctx.exists(x)).flatMap((file) => vitestCoverageSettings(file, ctx.text(file) ?? '').map((s) => ({ file, s }))),
      ...rcSettings(ctx),
    ];
    // the coverage scope is library code (what CB-004 measures): excluding CLI or script files is not gaming
    for (const { file, s } of settings) findings.push(...judge(file, s, ctx.libraryFiles));
    return outcome(`${plural(hints.length, 'ignore hint')} in source, ${plural(settings.length, 'coverage setting')} inspected`, findings);
  },
});

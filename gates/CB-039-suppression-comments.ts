import { z } from 'zod';
import { fileComments } from './lib/analysis.js';
import { defineCheck, outcome, plural, type Finding, type Level } from './lib/types.js';

/** Why a comment is a bad suppression, or undefined. */
export function badSuppression(text: string): { level: Level; why: string } | undefined {
  const body = text.replace(/^\/\/|^\/\*|\*\/$/g, '').trim();
  if (/^@ts-(ignore|nocheck)\b/.test(body)) return { level: 'fail', why: `${/^@ts-\w+/.exec(body)?.[0] ?? ''} silences the compiler` };
  if (/^@ts-expect-error\s*$/.test(body)) return { level: 'warn', why: '@ts-expect-error without a reason' };
  const m = /^eslint-disable(-next-line|-line)?\b(.*)$/s.exec(body);
  if (!m) return undefined;
  const [rules = '', reason] = (m[2] ?? '').split(/\s--\s?/);
  if (m[1] === undefined && rules.trim() === '') return { level: 'fail', why: 'eslint-disable of every rule' };
  if (!reason?.trim()) return { level: 'fail', why: `eslint-disable${m[1] ?? ''} without a '-- reason'` };
  return undefined;
}

/** Linter and compiler suppressions are rare, narrow and explained. */
export const suppressionComments = defineCheck({
  id: 'CB-039',
  name: 'suppression-comments',
  description: 'no @ts-ignore/@ts-nocheck; every eslint-disable names rules and gives a reason',
  thresholds: z.object({ maxEslintDisables: z.number().int().min(0).default(20) }),
  run(ctx, t) {
    const findings: Finding[] = [];
    let disables = 0;
    for (const file of [...ctx.sourceFiles, ...ctx.testFiles]) {
      for (const c of fileComments(ctx, file)) {
        if (/eslint-disable/.test(c.text)) disables++;
        const bad = badSuppression(c.text);
        if (bad) findings.push({ level: bad.level, file, line: c.line, message: bad.why });
      }
    }
    if (disables > t.maxEslintDisables) findings.push({ level: 'warn', message: `${disables} eslint-disable comments > ${t.maxEslintDisables}` });
    return outcome(`${plural(disables, 'eslint-disable comment')}; ${plural(findings.length, 'problem')}`, findings);
  },
});

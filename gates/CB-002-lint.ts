import { z } from 'zod';
import { cachedTool, describeRun, tail } from './lib/cached-tool.js';
import { defineCheck, outcome, plural, skip, type Finding } from './lib/types.js';

const CONFIGS = ['eslint.config.js', 'eslint.config.mjs', 'eslint.config.cjs', 'eslint.config.ts', 'eslint.config.mts'];

interface EslintFileResult {
  filePath: string;
  messages: { ruleId: string | null; severity: number; message: string; line?: number }[];
}

function parse(stdout: string): EslintFileResult[] | undefined {
  try {
    const r = JSON.parse(stdout) as unknown;
    return Array.isArray(r) ? (r as EslintFileResult[]) : undefined;
  } catch {
    return undefined;
  }
}

/** ESLint with the project's own flat config: errors fail, warnings warn. */
export const lint = defineCheck({
  id: 'CB-002',
  name: 'lint',
  description: 'eslint with the project config reports no errors or warnings',
  slow: true,
  thresholds: z.object({ timeoutSeconds: z.number().positive().default(900) }),
  async run(ctx, t) {
    if (!CONFIGS.some((c) => ctx.exists(c))) return outcome('no eslint.config.* found', [{ level: 'fail', message: 'the project has no ESLint flat config' }]);
    const r = await cachedTool(ctx, 'eslint', ['.', '--format', 'json'], t.timeoutSeconds);
    if (!r) return skip('skipped (--skip-slow) and no result for this tree');
    const files = parse(r.stdout);
    if (!files) return outcome(`eslint failed (exit ${r.code})`, [{ level: 'fail', message: tail(r) }]);
    const findings: Finding[] = files.flatMap((f) =>
      f.messages.map((m) => ({
        level: m.severity >= 2 ? ('fail' as const) : ('warn' as const),
        file: f.filePath.startsWith(ctx.root) ? f.filePath.slice(ctx.root.length + 1) : f.filePath,
        line: m.line,
        message: `${m.message}${m.ruleId ? ` (${m.ruleId})` : ''}`,
      })),
    );
    const errors = findings.filter((f) => f.level === 'fail').length;
    const summary = findings.length === 0
      ? `eslint clean over ${plural(files.length, 'file')} (${describeRun(r)})`
      : `eslint: ${plural(errors, 'error')}, ${plural(findings.length - errors, 'warning')} (${describeRun(r)})`;
    return outcome(summary, findings);
  },
});

import { z } from 'zod';
import { codeLines } from './lib/analysis.js';
import type { ProjectContext } from './lib/context.js';
import { defineCheck, outcome, skip, type Finding } from './lib/types.js';
import { coverageProvider, vitestData, type CoverageSummary, type CoverageTotals } from './lib/vitest.js';

const METRICS = ['lines', 'statements', 'functions', 'branches'] as const;

/**
 * Files in coverage scope that the report does not mention were never loaded by a test: their code
 * lines count as uncovered lines and statements instead of silently vanishing from the denominator.
 */
function withUnloaded(ctx: ProjectContext, cov: CoverageSummary): { totals: CoverageTotals; missing: string[] } {
  const missing = cov.files.size === 0 ? [] : ctx.libraryFiles.filter((f) => !cov.files.has(f));
  const extra = missing.reduce((n, f) => n + codeLines(ctx.text(f) ?? ''), 0);
  const adjust = (m: CoverageTotals['lines']): CoverageTotals['lines'] => {
    const total = m.total + extra;
    return { total, covered: m.covered, pct: total === 0 ? 100 : (100 * m.covered) / total };
  };
  return { totals: { ...cov.total, lines: adjust(cov.total.lines), statements: adjust(cov.total.statements) }, missing };
}

/** Coverage at or above the thresholds, measured over every library file. */
export const coverage = defineCheck({
  id: 'CB-004',
  name: 'coverage',
  description: 'test coverage of library code is at or above the thresholds',
  slow: true,
  thresholds: z.object({
    lines: z.number().min(0).max(100).default(80),
    statements: z.number().min(0).max(100).default(80),
    functions: z.number().min(0).max(100).default(80),
    branches: z.number().min(0).max(100).default(70),
  }),
  async run(ctx, t) {
    const data = await vitestData(ctx);
    const cov = data.coverage;
    if (!cov) {
      const provider = coverageProvider(ctx.root);
      if (ctx.skipSlow && provider) return skip(`skipped (--skip-slow): ${data.coverageSource}`);
      const summary = ctx.config.reports.coverageSummary;
      if (!provider) {
        return outcome(`coverage not measured: no coverage provider installed, and no fresh ${summary}`, [
          { level: 'warn', message: 'coverage unknown: install @vitest/coverage-v8 or write a json-summary report' },
        ]);
      }
      return outcome(`coverage not measured: ${data.coverageSource}; ${data.reportSource}`, [
        { level: 'warn', message: `coverage unknown: run the whole suite with coverage (vitest run --coverage, json-summary into ${summary})` },
      ]);
    }
    const { totals, missing } = withUnloaded(ctx, cov);
    const findings: Finding[] = [];
    for (const m of METRICS) {
      if (totals[m].pct < t[m]) findings.push({ level: 'fail', message: `${m} ${totals[m].pct.toFixed(1)}% < ${t[m]}%` });
    }
    const unloaded = missing.length > 0 ? `; ${missing.length} library file(s) never loaded, counted as uncovered` : '';
    const summary = `${METRICS.map((m) => `${m} ${totals[m].pct.toFixed(1)}%`).join(', ')} (${data.coverageSource}${unloaded})`;
    return outcome(summary, findings);
  },
});

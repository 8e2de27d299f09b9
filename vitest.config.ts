import ts from 'typescript';
import { defineConfig, type Plugin } from 'vitest/config';

/**
 * Node 20 has no native TC39 decorators and Vite 8's Oxc transformer only lowers legacy ones, so files that
 * use a decorator are compiled by TypeScript itself (the same compiler as `npm run build`).
 */
function lowerTc39Decorators(): Plugin {
  return {
    name: 'apr-lower-tc39-decorators',
    enforce: 'pre',
    transform(code, id) {
      if (!id.endsWith('.ts') || id.includes('/node_modules/') || !/^\s*@\w+\(/m.test(code)) return null;
      const out = ts.transpileModule(code, {
        fileName: id,
        compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, sourceMap: true, inlineSources: true },
      });
      return { code: out.outputText, map: out.sourceMapText ? (JSON.parse(out.sourceMapText) as { mappings: string }) : null };
    },
  };
}

export default defineConfig({
  plugins: [lowerTc39Decorators()],
  test: {
    include: ['test/**/*.test.ts'],
    env: { APR_CONTRACTS: 'full' },
    // a fixed fast-check seed under CI or with APR_FC_SEED (see the file)
    setupFiles: ['test/fast-check-seed.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The JSON report (and, with --coverage, coverage/coverage-summary.json) is what `pmat comply check
    // --reuse-results` reads, so CI runs the suite once: `npm test -- --coverage`, then pmat.
    reporters: ['default', './test/obligation-reporter.ts', ['json', { outputFile: 'coverage/vitest-report.json' }]],
    coverage: {
      provider: 'v8',
      reporter: ['json-summary', 'text-summary'],
      reportsDirectory: 'coverage',
      // a failing test must not also hide the coverage figures (CB-003 reports the failure)
      reportOnFailure: true,
      // library code, as pmat.config.json's paths.library minus paths.cli (the CLI is exercised end to end)
      include: ['src/**/*.ts', 'gates/**/*.ts'],
      exclude: ['src/cli/**'],
    },
  },
});

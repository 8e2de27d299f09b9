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
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default', './test/obligation-reporter.ts'],
  },
});

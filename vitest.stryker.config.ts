import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';
import base from './vitest.config.js';

const FOLDERS = ['test/unit', 'test/property', 'test/train'];
/** Tests that run apr (or another program) in a child process, where Stryker's active mutant is not set. */
const CHILD_PROCESS = /\b(spawn|spawnSync|execFile|execFileSync|execSync|fork)\(|runCli\(/;
/**
 * Comma-separated test paths or path prefixes (scripts/mutation.sh sets it from mutation/tests.json, per mutated
 * folder): only the tests that exercise that folder, so the dry run does not run the whole suite instrumented.
 */
const SELECTED = (process.env['APR_MUTATION_TESTS'] ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');

function inProcessTests(): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.test.ts') && !CHILD_PROCESS.test(readFileSync(p, 'utf8'))) out.push(p);
    }
  };
  FOLDERS.forEach(walk);
  return SELECTED.length === 0 ? out : out.filter((p) => SELECTED.some((s) => p === s || p.startsWith(s)));
}

/**
 * The suite's config for Stryker: its own reporter only (no JSON/obligation reports written from the run), and
 * only tests that exercise the code in this process (unit, property, train): the CLI and golden tests, and any
 * test that starts a child process, run code where Stryker's active mutant is not set, so they cannot kill a
 * mutant and would only cost time. Instrumented code runs several times slower, hence the longer per-test limit.
 * (The config is replaced, not merged: mergeConfig concatenates the include lists.)
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: inProcessTests(),
    reporters: ['default'],
    testTimeout: 600_000,
    coverage: { enabled: false },
  },
});

import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** The clean planted project: every pmat check passes (or is not applicable) on it. */
export const CLEAN = resolve(process.cwd(), 'test/fixtures/pmat/clean');
const NODE_MODULES = resolve(process.cwd(), 'node_modules');

/** Written at plant time: as a file inside this repo, the repo's own eslint would try to type-check it. */
const ESLINT_CONFIG = `import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', 'coverage/**', '.vitest-cache/**', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  { languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } } },
);
`;

const planted: string[] = [];

export type Changes = Record<string, string | null>;

export function writeFiles(dir: string, changes: Changes): void {
  for (const [file, content] of Object.entries(changes)) {
    const path = join(dir, file);
    if (content === null) {
      rmSync(path, { force: true });
      continue;
    }
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
}

/**
 * A copy of the clean project in a temp folder with `changes` applied (null deletes a file), its
 * files added to a fresh git index, and node_modules linked to this repo's (for tsc/eslint/vitest).
 */
export function plant(changes: Changes = {}, opts: { git?: boolean } = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'pmat-fixture-'));
  planted.push(dir);
  cpSync(CLEAN, dir, { recursive: true });
  writeFileSync(join(dir, 'eslint.config.js'), ESLINT_CONFIG);
  symlinkSync(NODE_MODULES, join(dir, 'node_modules'), 'dir');
  writeFiles(dir, changes);
  if (opts.git ?? true) {
    execFileSync('git', ['init', '-q'], { cwd: dir });
    execFileSync('git', ['add', '-A'], { cwd: dir });
  }
  return dir;
}

/** A json-summary coverage report (istanbul format) with the same percentage for every metric. */
export function writeCoverage(dir: string, files: readonly string[], pct: number): void {
  const metric = (total: number) => ({ total, covered: Math.round((total * pct) / 100), skipped: 0, pct });
  const totals = { lines: metric(100), statements: metric(100), functions: metric(10), branches: metric(20) };
  const doc: Record<string, unknown> = { total: totals };
  for (const f of files) doc[join(dir, f)] = totals;
  writeFiles(dir, { 'coverage/coverage-summary.json': JSON.stringify(doc) });
}

export function removePlanted(): void {
  for (const d of planted.splice(0)) rmSync(d, { recursive: true, force: true });
}

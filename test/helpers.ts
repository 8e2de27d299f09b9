import { FormatError } from '../src/formats/errors.js';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ContractViolation } from '../src/contract/index.js';

export const FIXTURES = resolve(process.cwd(), '../shared/fixtures');
export const fixture = (...parts: string[]): string => join(FIXTURES, ...parts);

export function tempDir(prefix = 'apr-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface CliRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs one of the package's CLIs from source (tsx), as a user would run the built one. */
export function runCli(tool: 'apr' | 'pv' | 'pmat', args: string[], opts: { input?: string; env?: Record<string, string> } = {}): CliRun {
  const r = spawnSync(process.execPath, ['--import', 'tsx', `src/cli/${tool}.ts`, ...args], {
    encoding: 'utf8',
    input: opts.input ?? '',
    env: { ...process.env, ...opts.env },
    maxBuffer: 64 << 20,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The clause a contract check names when `fn` throws a ContractViolation, 'none' when it passes (other errors rethrown). */
export function violatedClause(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ContractViolation) return err.clause;
    throw err;
  }
  return 'none';
}

/** The message of the FormatError `fn` throws (other errors rethrown; an error when it throws none). */
export function formatErrorMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof FormatError) return err.message;
    throw err;
  }
  throw new Error('no error');
}

/** Sets or (undefined) unsets environment variables; returns their previous values, for restoring the same way. */
export function applyEnv(vars: Record<string, string | undefined>): Record<string, string | undefined> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(vars)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  return saved;
}

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { plant, removePlanted } from './gates/fixture.js';

afterAll(removePlanted);

const CLI = resolve(process.cwd(), 'src/cli/pmat.ts');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function pmat(...args: string[]): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: process.cwd() });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

describe('pmat CLI', () => {
  it('--help lists the comply command; comply check --help lists the flags', async () => {
    const [top, sub] = await Promise.all([pmat('--help'), pmat('comply', 'check', '--help')]);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('comply');
    expect(sub.code).toBe(0);
    for (const flag of ['--path', '--strict', '--format', '--failures-only', '--skip-slow', '--reuse-results', '--only']) expect(sub.stdout).toContain(flag);
  });

  it('--version prints the package version', async () => {
    const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
    const r = await pmat('--version');
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(version);
  });

  it('an unknown command, a bad flag and a bad format value give one line and exit 2', async () => {
    const cases = [['frobnicate'], ['comply', 'check', '--strikt'], ['comply', 'check', '--format', 'xml']];
    const runs = await Promise.all(cases.map((args) => pmat(...args)));
    for (const [i, r] of runs.entries()) {
      expect(r.code, cases[i]?.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stdout).toBe('');
    }
  });

  it('an invalid pmat.config.json gives one line naming the field and exit 3', async () => {
    const dir = plant({ 'pmat.config.json': '{"checks": {"CB-009": {"thresholds": {"warn": "x"}}}}' });
    const r = await pmat('comply', 'check', '--path', dir);
    expect(r.code).toBe(3);
    expect(r.stderr.trim()).toMatch(/^pmat: error: pmat\.config\.json: checks\.CB-009\.thresholds\.warn: Invalid input/);
  });

  it('exit 0 on a clean project, 1 on a failure, 2 on warnings with --strict; JSON and SARIF on stdout', async () => {
    const clean = plant();
    const failing = plant({ 'src/approx.ts': 'export const id = (x: any): number => x as number;\n' });
    const warning = plant({ 'src/long.ts': `${Array.from({ length: 450 }, (_, i) => `export const c${i} = ${i};`).join('\n')}\n` });
    const [ok, bad, strict] = await Promise.all([
      pmat('comply', 'check', '--path', clean, '--only', 'CB-009,CB-016', '--format', 'json'),
      pmat('comply', 'check', '--path', failing, '--only', 'CB-009,CB-016', '--failures-only'),
      pmat('comply', 'check', '--path', warning, '--only', 'CB-009', '--strict', '--format', 'sarif'),
    ]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ is_compliant: true, summary: { total: 2, pass: 2, warn: 0, fail: 0, skip: 0 } });
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('✗ CB-016 no-any');
    expect(bad.stdout).not.toContain('CB-009');
    expect(bad.stdout).toContain('Status: NON-COMPLIANT');
    expect(strict.code).toBe(2);
    const sarif = JSON.parse(strict.stdout) as { version: string; runs: { results: { ruleId: string; level: string; locations: unknown[] }[] }[] };
    expect(sarif.version).toBe('2.1.0');
    expect(sarif.runs[0]?.results).toEqual([expect.objectContaining({ ruleId: 'CB-009', level: 'warning' })]);
  });

  it('comply list shows every check id', async () => {
    const r = await pmat('comply', 'list');
    expect(r.code).toBe(0);
    expect(r.stdout.match(/^CB-\d{3}\s/gm)?.length).toBeGreaterThanOrEqual(30);
  });
});

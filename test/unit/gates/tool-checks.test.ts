import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exitCode } from '../../../gates/lib/runner.js';
import { runCompliance } from '../../../gates/registry.js';
import { plant, removePlanted, writeCoverage, writeFiles } from './fixture.js';

afterAll(removePlanted);

const SOURCES = ['src/approx.ts', 'src/index.ts', 'src/ops/mean.ts', 'src/stats.ts'];

const pvStub = (level: string): string => `console.log(JSON.stringify({ contracts: [{ id: 'stats-mean-v1', level: '${level}' }] }));\n`;

describe('pmat tool checks (tsc, eslint, vitest, pv) on planted projects', () => {
  it('CB-001 fails on a type error and CB-002 on a lint error (exit 1)', async () => {
    const dir = plant({
      'src/typo.ts': 'export const x: number = "one";\n',
      'src/lint.ts': 'export function f(): number {\n  const unused = 1;\n  return 2;\n}\n',
    });
    const r = await runCompliance(dir, { only: ['CB-001', 'CB-002'], cache: false });
    const [tsc, eslint] = r.checks;
    expect(tsc?.status).toBe('fail');
    expect(tsc?.findings).toEqual([expect.objectContaining({ file: 'src/typo.ts', line: 1, message: expect.stringContaining('TS2322') as string })]);
    expect(eslint?.status).toBe('fail');
    expect(eslint?.findings.some((f) => f.file === 'src/lint.ts' && f.line === 2 && f.message.includes('no-unused-vars'))).toBe(true);
    expect(exitCode(r, false)).toBe(1);
  });

  it('CB-003 fails on a failing test (exit 1) and CB-031 on a slow one', async () => {
    const dir = plant({
      'test/bad.spec.ts': "import { expect, it } from 'vitest';\nit('is wrong', () => {\n  expect(1 + 1).toBe(3);\n});\nit('is slow', async () => {\n  await new Promise((r) => setTimeout(r, 1200));\n  expect(true).toBe(true);\n});\n",
      'pmat.config.json': JSON.stringify({ checks: { 'CB-031': { thresholds: { testWarnSeconds: 0.5, testFailSeconds: 1 } } } }),
    });
    const r = await runCompliance(dir, { only: ['CB-003', 'CB-031'], cache: false });
    const [tests, slow] = r.checks;
    expect(tests?.status).toBe('fail');
    expect(tests?.findings.map((f) => f.message)).toEqual([expect.stringMatching(/^is wrong: .*expected 2 to be 3/)]);
    expect(slow?.status).toBe('fail');
    expect(slow?.findings.map((f) => f.message)).toEqual([expect.stringMatching(/^'is slow' took 1\.\d s$/)]);
    expect(exitCode(r, false)).toBe(1);
  });

  it('CB-004 fails below the threshold, passes above it, and warns without coverage data', async () => {
    const low = plant();
    writeCoverage(low, SOURCES, 50);
    const high = plant();
    writeCoverage(high, SOURCES, 95);
    const none = plant();
    rmSync(join(none, 'node_modules'));
    mkdirSync(join(none, 'node_modules'));
    const [rl, rh, rn] = await Promise.all([low, high, none].map((d) => runCompliance(d, { only: ['CB-004'], cache: false, skipSlow: true })));
    expect(rl?.checks[0]?.status).toBe('fail');
    expect(rl?.checks[0]?.findings.map((f) => f.message)).toContain('lines 50.0% < 80%');
    expect(exitCode(rl ?? ({} as never), false)).toBe(1);
    expect(rh?.checks[0]?.status).toBe('pass');
    expect(rn?.checks[0]?.status).toBe('warn');
    expect(rn?.checks[0]?.message).toContain('@vitest/coverage-v8');
  });

  it('CB-004 counts a library file missing from the coverage report as uncovered', async () => {
    const dir = plant();
    writeCoverage(dir, SOURCES.filter((f) => f !== 'src/stats.ts'), 85);
    const r = await runCompliance(dir, { only: ['CB-004'], cache: false, skipSlow: true });
    expect(r.checks[0]?.message).toContain('1 library file(s) never loaded');
    // 85 of 100 lines covered, plus the 10 code lines of src/stats.ts uncovered: 85/110 = 77.3%.
    expect(r.checks[0]?.findings.map((f) => f.message)).toEqual(['lines 77.3% < 80%', 'statements 77.3% < 80%']);
  });

  it('CB-007 fails when pv puts a contract below the minimum level and passes at it', async () => {
    const cfg = JSON.stringify({ checks: { 'CB-007': { thresholds: { minLevel: 2 } } } });
    const [low, ok] = await Promise.all(
      ['L1', 'L3'].map((level) => runCompliance(plant({ 'src/cli/pv.ts': pvStub(level), 'pmat.config.json': cfg }), { only: ['CB-007'], cache: false })),
    );
    expect(low?.checks[0]?.status).toBe('fail');
    expect(low?.checks[0]?.findings[0]?.message).toBe('contract stats-mean-v1 is at L1, below L2');
    expect(ok?.checks[0]?.status, ok?.checks[0]?.message).toBe('pass');
  });

  it('reuses a tool result only for an identical tree', async () => {
    const unique = `${Date.now()}-${Math.random()}`; // a tree no earlier run has cached
    const dir = plant({ 'src/stamp.ts': `export const stamp = '${unique}';\n` });
    const first = await runCompliance(dir, { only: ['CB-001'] });
    const second = await runCompliance(dir, { only: ['CB-001'] });
    writeFiles(dir, { 'src/stamp.ts': `export const stamp: number = '${unique}';\n` });
    const third = await runCompliance(dir, { only: ['CB-001'] });
    expect(first.checks[0]?.message).not.toContain('reused');
    expect(second.checks[0]?.message).toBe('tsc --noEmit clean (reused result for an identical tree)');
    expect(third.checks[0]?.status).toBe('fail');
    expect(third.checks[0]?.message).not.toContain('reused');
  });
});

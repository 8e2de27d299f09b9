import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exitCode } from '../../../gates/lib/runner.js';
import { runCompliance } from '../../../gates/registry.js';
import { CLEAN, plant, removePlanted, type Changes } from './fixture.js';

afterAll(removePlanted);

const cleanPkg = JSON.parse(readFileSync(join(CLEAN, 'package.json'), 'utf8')) as Record<string, unknown>;
const pkg = (patch: Record<string, unknown>): string => JSON.stringify({ ...cleanPkg, ...patch }, null, 2);
const devDeps = cleanPkg['devDependencies'] as Record<string, string>;

interface Variant {
  id: string;
  what: string;
  changes: Changes;
  expect: string;
  after?: (dir: string) => void;
}

const variants: Variant[] = [
  { id: 'CB-022', what: '26 dependencies', changes: { 'package.json': pkg({ dependencies: Object.fromEntries(Array.from({ length: 26 }, (_, i) => [`dep-${i}`, '1.0.0'])) }) }, expect: '26 dependencies > 25' },
  { id: 'CB-023', what: 'a ^ range', changes: { 'package.json': pkg({ devDependencies: { ...devDeps, vitest: '^4.1.12' } }) }, expect: "devDependencies.vitest '^4.1.12'" },
  { id: 'CB-023', what: "'latest'", changes: { 'package.json': pkg({ dependencies: { yaml: 'latest' } }) }, expect: "'latest' admits any version" },
  { id: 'CB-024', what: 'an untracked lockfile', changes: {}, after: (d) => execFileSync('git', ['rm', '-q', '--cached', 'package-lock.json'], { cwd: d }), expect: 'exists but is not tracked by git' },
  { id: 'CB-025', what: 'a lockfile out of step with package.json', changes: { 'package.json': pkg({ devDependencies: { ...devDeps, vitest: '~4.2.0' } }) }, expect: "devDependencies.vitest: package.json '~4.2.0', lockfile '~4.1.12'" },
  { id: 'CB-026', what: 'three set-up commands', changes: { 'README.md': '# x\n\n## Getting started\n\n```sh\nnpm ci\nnpm run typecheck\nnpm test\n```\n' }, expect: 'set-up section has 3 commands, expected exactly 2' },
  { id: 'CB-026', what: 'a set-up command naming a missing npm script', changes: { 'README.md': '# x\n\n## Set-up\n\n```sh\nnpm ci && npm run build\nnpm test\n```\n' }, expect: "runs npm script 'build'" },
  { id: 'CB-027', what: 'a CI script that skips the tests', changes: { '.ci/run': '#!/usr/bin/env bash\nset -euo pipefail\nnpm ci && npm run typecheck\n' }, expect: "does not run the README test command 'npm test'" },
  { id: 'CB-028', what: 'no LICENSE file', changes: { LICENSE: null }, expect: 'no license file' },
  { id: 'CB-029', what: 'no engines field', changes: { 'package.json': pkg({ engines: undefined }) }, expect: 'engines.node missing' },
  { id: 'CB-030', what: 'no tests', changes: { 'test/stats.spec.ts': null }, expect: 'test-to-code ratio 0.00 < 0.25' },
  { id: 'CB-040', what: 'strict mode off', changes: { 'tsconfig.json': '{ "compilerOptions": { "strict": false, "noUncheckedIndexedAccess": true, "noImplicitOverride": true, "noFallthroughCasesInSwitch": true } }\n' }, expect: 'compilerOptions.strict is not true' },
  { id: 'CB-044', what: 'an expired suppression', changes: { 'pmat.config.json': JSON.stringify({ suppressions: [{ id: 'CB-016', path: 'src/x.ts', reason: 'legacy', expires: '2000-01-01' }] }) }, expect: 'expired on 2000-01-01' },
];

describe('pmat project checks: each fails on its planted fault', () => {
  for (const v of variants) {
    it(`${v.id} fails on ${v.what} (exit 1)`, async () => {
      const dir = plant(v.changes);
      v.after?.(dir);
      const r = await runCompliance(dir, { only: [v.id], cache: false });
      const c = r.checks[0];
      expect(c?.status, c?.message).toBe('fail');
      expect(c?.findings.some((f) => f.level === 'fail' && f.message.includes(v.expect)), JSON.stringify(c?.findings)).toBe(true);
      expect(exitCode(r, false)).toBe(1);
    });
  }

  it('the clean project passes them all (exit 0 with --strict)', async () => {
    const ids = [...new Set(variants.map((v) => v.id))];
    const r = await runCompliance(plant(), { only: ids, cache: false, strict: true });
    expect(r.checks.filter((c) => c.status !== 'pass').map((c) => `${c.id} ${c.status}: ${c.message}`)).toEqual([]);
    expect(exitCode(r, true)).toBe(0);
  });

  it('CB-027 warns (exit 2 with --strict) when the CI script does not stop on errors', async () => {
    const r = await runCompliance(plant({ '.ci/run': '#!/usr/bin/env bash\nnpm ci && npm run typecheck\nnpm test\n' }), { only: ['CB-027'], cache: false, strict: true });
    expect(r.checks[0]?.status).toBe('warn');
    expect(r.checks[0]?.message).toContain("no 'set -e'");
    expect(exitCode(r, true)).toBe(2);
    expect(exitCode(r, false)).toBe(0);
  });

  it('CB-030 counts files named as verification (proof harnesses) on the test side, and only those', async () => {
    const proof = Array.from({ length: 400 }, (_, i) => `export const fact${i} = ${i} + 1;`).join('\n');
    const noTests = { 'test/stats.spec.ts': null, 'src/proofs/stats-bounds.ts': proof };
    const plain = await runCompliance(plant(noTests), { only: ['CB-030'], cache: false });
    expect(plain.checks[0]?.status).toBe('fail');
    const config = JSON.stringify({ paths: { source: ['src/**'] }, checks: { 'CB-030': { thresholds: { verification: ['src/proofs/**'] } } } });
    const counted = await runCompliance(plant({ ...noTests, 'pmat.config.json': config }), { only: ['CB-030'], cache: false });
    expect(counted.checks[0]?.status, counted.checks[0]?.message).toBe('pass');
    expect(counted.checks[0]?.message).toContain('incl. 1 verification files');
  });

  it('CB-024 cannot pass outside a git work tree', async () => {
    const r = await runCompliance(plant({}, { git: false }), { only: ['CB-024'], cache: false });
    expect(r.checks[0]?.status).toBe('warn');
    expect(r.checks[0]?.message).toContain('not a git repository');
  });

  it('CB-044 warns about an unused suppression and applies a used one', async () => {
    const config = {
      suppressions: [
        { id: 'CB-016', path: 'src/legacy.ts', reason: 'ported code, typed in #12', expires: '2999-01-01' },
        { id: 'CB-017', path: 'src/none.ts', reason: 'nothing there', expires: '2999-01-01' },
      ],
      checks: { 'CB-044': { thresholds: { maxDays: 400_000 } } },
    };
    const r = await runCompliance(plant({ 'pmat.config.json': JSON.stringify(config), 'src/legacy.ts': 'export const id = (x: any): number => x as number;\n' }), {
      only: ['CB-016', 'CB-017', 'CB-044'],
      cache: false,
    });
    const [any, nonNull, supp] = r.checks;
    expect(any?.status, any?.message).toBe('pass');
    expect(any?.suppressed).toBe(1);
    expect(nonNull?.status).toBe('pass');
    expect(supp?.status).toBe('warn');
    expect(supp?.findings.map((f) => f.message)).toEqual(['suppression CB-017 src/none.ts matches nothing: remove it']);
  });

  it('config: severity "warning" turns a failure into a warning; enabled: false skips the check', async () => {
    const config = { checks: { 'CB-028': { severity: 'warning' }, 'CB-029': { enabled: false } } };
    const dir = plant({ 'pmat.config.json': JSON.stringify(config), LICENSE: null, 'package.json': pkg({ engines: undefined }) });
    const r = await runCompliance(dir, { only: ['CB-028', 'CB-029'], cache: false, strict: true });
    const [lic, eng] = r.checks;
    expect(lic).toMatchObject({ status: 'warn', severity: 'warning' });
    expect(eng).toMatchObject({ status: 'skip', message: 'disabled in pmat.config.json' });
    expect(exitCode(r, true)).toBe(2);
    expect(exitCode(r, false)).toBe(0);
  });
});

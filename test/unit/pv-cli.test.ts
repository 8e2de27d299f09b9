import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeStatusProject } from './pv-helpers.js';

const REPO = process.cwd();
const PV = resolve(REPO, 'src/cli/pv.ts');

function pv(args: string[], timeout = 120_000): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', PV, ...args], { cwd: REPO, encoding: 'utf8', timeout });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const statusRoot = makeStatusProject();
/** A project whose proofs/ and src/ are the repository's (harnesses import ../src), with its own .pv/. */
const proveRoot = mkdtempSync(join(tmpdir(), 'pv-prove-'));
for (const d of ['proofs', 'src', 'node_modules', 'package.json']) symlinkSync(join(REPO, d), join(proveRoot, d));
afterAll(() => {
  rmSync(statusRoot, { recursive: true, force: true });
  rmSync(proveRoot, { recursive: true, force: true });
});

describe('pv command line', () => {
  it('--help lists the commands; --version prints the package version', () => {
    const h = pv(['--help']);
    expect(h.code).toBe(0);
    for (const c of ['validate', 'lint', 'prove', 'proof-status', 'audit', 'diff']) expect(h.stdout).toContain(c);
    const v = pv(['--version']);
    expect(v.stdout.trim()).toBe((JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string }).version);
  });

  it('an unknown command or flag is a one-line error with exit code 2', () => {
    for (const args of [['frobnicate'], ['lint', '--format', 'xml']]) {
      const r = pv(args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^pv: /);
    }
  });

  it('lint prints SARIF and exits 1 on errors', () => {
    const r = pv(['-C', 'test/fixtures/pv/lint/PV009', 'lint', '--format', 'sarif']);
    expect(r.code).toBe(1);
    const sarif = JSON.parse(r.stdout) as { version: string; runs: { results: { ruleId: string }[] }[] };
    expect(sarif.version).toBe('2.1.0');
    expect(sarif.runs[0]?.results.map((x) => x.ruleId)).toEqual(['PV009']);
  });

  it('proof-status --min-level fails naming the contracts below it', () => {
    const r = pv(['-C', statusRoot, 'proof-status', '--min-level', 'L2']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^alpha-v1\s+L5\s/m);
    expect(r.stderr).toContain('2 contract(s) below L2: delta-v1 (L0), gamma-v1 (L1)');
  });

  it('proof-status --ci fails on each obligation without a passing test, and without recorded results', () => {
    const r = pv(['-C', statusRoot, 'proof-status', '--ci']);
    expect(r.code).toBe(1);
    // gamma-a has a failed run; delta-a passed but --ci only asks for a passing, non-failing test, so it is not listed.
    expect(r.stderr).toContain('1 obligation(s) without a passing test: gamma-v1/gamma-a (1 failed)');
    const empty = mkdtempSync(join(tmpdir(), 'pv-ci-'));
    try {
      const none = pv(['-C', empty, 'proof-status', '--ci']);
      expect(none.code).toBe(1);
      expect(none.stderr).toContain('no test results recorded (.pv/test-results.json); run npm test first');
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('audit prints the chain for a contract', () => {
    const a = pv(['-C', statusRoot, 'audit', 'alpha-v1']);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/contract alpha-v1 .*level L5[\s\S]*bound to: src\/ops\/alpha\.ts#alpha[\s\S]*proof PF-alpha \(proofs\/alpha\.ts\): proved/);
  });

  it('a malformed facts file is bad input (exit 3), named in one line', () => {
    const file = join(statusRoot, 'contracts', 'binding.json');
    const good = readFileSync(file);
    try {
      writeFileSync(file, '{"contracts": 3}');
      const r = pv(['-C', statusRoot, 'proof-status']);
      expect(r.code).toBe(3);
      expect(r.stderr.trim()).toMatch(/^pv: error: contracts\/binding\.json: contracts: [^\n]+$/);
    } finally {
      writeFileSync(file, good);
    }
  });

  it('diff suggests the semver bump', () => {
    const r = pv(['diff', 'test/fixtures/pv/diff/old.yaml', 'test/fixtures/pv/diff/major.yaml', '--format', 'json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { diffs: { bump: string }[] }).diffs[0]?.bump).toBe('major');
  });

  it('after openZ3().close() a process exits by itself (no timer, no process.exit)', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', resolve(REPO, 'test/fixtures/pv/z3-exit.ts')], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).toBe(0);
    const m = /^proved exit-after-close (\d+)$/m.exec(r.stdout);
    expect(m, r.stdout).not.toBeNull();
  });

  it('prove runs one proof, records it, and the process exits (z3 threads stopped)', () => {
    const r = pv(['-C', proveRoot, 'prove', 'PF-q4k-scale-bijection', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { results: { id: string; status: string; harness_sha256: string }[] };
    expect(out.results.map((x) => [x.id, x.status])).toEqual([['PF-q4k-scale-bijection', 'proved']]);
    const recorded = JSON.parse(readFileSync(join(proveRoot, '.pv/proof-results.json'), 'utf8')) as { results: { id: string; status: string }[] };
    expect(recorded.results.map((x) => [x.id, x.status])).toEqual([['PF-q4k-scale-bijection', 'proved']]);
  });

  it('prove --plant shows the proof can fail: refuted with a counterexample, exit 0, nothing recorded', () => {
    const r = pv(['-C', proveRoot, 'prove', 'q4_0-nibble-bijection', '--plant', 'hi-shift-3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^refuted\s+PF-q4_0-nibble-bijection .*counterexample: q=\d+/m);
    const recorded = JSON.parse(readFileSync(join(proveRoot, '.pv/proof-results.json'), 'utf8')) as { results: { id: string }[] };
    expect(recorded.results.map((x) => x.id)).not.toContain('PF-q4_0-nibble-bijection');
  });
});

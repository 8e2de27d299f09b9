import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerCheck } from '../../src/cli/commands/check.js';
import { createProgram, runProgram } from '../../src/cli/program.js';
import { fixture, tempDir } from '../helpers.js';

const HF = fixture('models/tiny-coder-llama');
let tmp: ReturnType<typeof tempDir>;
let noTokenizer: string;

beforeAll(() => {
  tmp = tempDir('apr-check-cli-');
  noTokenizer = join(tmp.dir, 'no-tokenizer');
  mkdirSync(noTokenizer);
  for (const f of readdirSync(HF)) if (f !== 'tokenizer.json') symlinkSync(join(HF, f), join(noTokenizer, f));
});
afterAll(() => tmp.cleanup());

/** Runs `apr check ...` in process (the command as registered by registerCheck), capturing stdout and stderr. */
async function apr(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const program = createProgram('apr', 'test');
  registerCheck(program);
  let out = '';
  let err = '';
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  process.exitCode = undefined;
  try {
    const code = await runProgram('apr', program, ['check', ...args]);
    return { code, out, err };
  } finally {
    so.mockRestore();
    se.mockRestore();
    process.exitCode = undefined;
  }
}

interface JsonReport {
  model: string;
  architecture: string;
  stages: { id: number; name: string; status: string; details: string; ms: number }[];
  passed: number;
  total: number;
  score: number;
  all_passed: boolean;
}

describe('apr check (CLI)', () => {
  it('prints a table of ten stages, a score and a final line; exit 0 on a clean model', async () => {
    const r = await apr(HF);
    expect(r.code).toBe(0);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^stage\s+status\s+time\s+details$/);
    expect(lines.slice(2, 12).map((l) => l.split(/\s{2,}/).slice(0, 2).join(' '))).toEqual([
      '1 container PASS', '2 metadata PASS', '3 tensor index PASS', '4 tokenizer PASS', '5 embedding & LM head PASS',
      '6 attention PASS', '7 MLP & norms PASS', '8 numerical scan PASS', '9 forward self-test PASS', '10 golden & provenance PASS',
    ]);
    expect(lines[12]).toMatch(/\(hf-dir, llama\): score 100\/100, 10\/10 stages passed; all stages passed$/);
    // An HF folder records neither provenance nor a golden fingerprint: stage 10 says it verified nothing.
    expect(lines[11]).toMatch(/presence check only: nothing recorded to verify/);
  });

  it('--json prints the report; a failed stage exits 1 in JSON mode too [ob:check-faults-caught]', async () => {
    const r = await apr(noTokenizer, '--json', '--no-forward');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out) as JsonReport;
    expect(Object.keys(j)).toEqual(expect.arrayContaining(['model', 'architecture', 'stages', 'passed', 'total', 'score', 'all_passed']));
    expect(j.architecture).toBe('llama');
    expect(j.stages.map((s) => s.status)).toEqual(['PASS', 'PASS', 'PASS', 'FAIL', 'PASS', 'PASS', 'PASS', 'PASS', 'SKIP', 'PASS']);
    expect(j.stages[3]?.details).toMatch(/tokenizer: missing \(no tokenizer\.json in the folder\)/);
    expect(j.stages.every((s) => typeof s.ms === 'number' && s.name.length > 0)).toBe(true);
    expect([j.passed, j.total, j.score, j.all_passed]).toEqual([8, 9, 89, false]);
  });

  it('the table names the failed stage on the final line', async () => {
    const r = await apr(noTokenizer, '--stage', '4');
    expect(r.code).toBe(1);
    expect(r.out.trimEnd().split('\n').at(-1)).toMatch(/score 0\/100, 0\/1 stages passed; FAILED: 4 tokenizer$/);
  });

  it('--stage N runs one stage', async () => {
    const j = JSON.parse((await apr(HF, '--stage', '3', '--json')).out) as JsonReport;
    expect(j.stages.map((s) => s.id)).toEqual([3]);
    expect([j.total, j.all_passed]).toEqual([1, true]);
  });

  it('bad usage exits 2, a missing file 3, each with one line on stderr', async () => {
    const usage = await apr(HF, '--stage', '11');
    expect(usage.code).toBe(2);
    expect(usage.err.trim().split('\n')).toHaveLength(1);
    const missing = await apr(join(tmp.dir, 'nope.apr'));
    expect(missing.code).toBe(3);
    expect(missing.err).toMatch(/^apr: error: .*nope\.apr: path: no such file or directory\n$/);
  });
});

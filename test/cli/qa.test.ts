import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { importModel } from '../../src/ops/model-io.js';
import { pruneModel } from '../../src/ops/prune.js';
import { runQa } from '../../src/ops/qa.js';
import { gpu, noGpuReason } from '../property/webgpu-helpers.js';
import { fixture, runCli, tempDir } from '../helpers.js';

/** `apr qa`: passes on the fixture model; each planted regression FAILs the check it violates, by name. */

const tmp = tempDir('apr-qa-');
const model = join(tmp.dir, 'coder.apr');
const pruned = join(tmp.dir, 'pruned.apr');
const baseline = join(tmp.dir, 'baseline.json');

beforeAll(() => {
  importModel({ input: fixture('models', 'tiny-coder-llama'), output: model });
  pruneModel({ input: model, output: pruned, method: 'magnitude', targetRatio: 0.5 });
}, 60_000);
afterAll(() => tmp.cleanup());

const line = (out: string, name: string): string => out.split('\n').find((l) => l.includes(`  ${name}  `)) ?? '';

describe('apr qa', () => {
  test('[ob:qa-clean-pass] the fixture model passes every check and establishes the baseline (exit 0)', () => {
    const r = runCli('apr', ['qa', model, '--baseline', baseline, '--min-tps', '1']);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^\d+ PASS, 0 FAIL, \d+ SKIP$/m);
    expect(r.stdout.match(/^PASS {2}check \d+: /gm)).toHaveLength(10);
    for (const name of ['metadata plausibility', 'golden output', 'throughput', 'perplexity regression', 'format parity']) expect(line(r.stdout, name)).toMatch(/^PASS/);
    expect(line(r.stdout, 'perplexity regression')).toMatch(/baseline established: perplexity [\d.]+/);
    expect(line(r.stdout, 'format parity')).toMatch(/apr vs gguf export: max \|Δlogit\| 0\.00e\+0/);
    expect(line(r.stdout, 'backend parity')).toMatch(gpu ? /^PASS .*cosine/ : /^SKIP .*no usable WebGPU adapter/);
  }, 60_000);

  test('[ob:qa-regression-caught] a pruned model against the unpruned baseline FAILs perplexity regression (exit 1)', () => {
    const r = runCli('apr', ['qa', pruned, '--baseline', baseline, '--no-webgpu', '--json']);
    expect(r.status).toBe(1);
    const j = JSON.parse(r.stdout) as ReturnType<typeof runQa>;
    expect(j.checks.filter((c) => c.status === 'FAIL').map((c) => c.name)).toEqual(['perplexity regression']);
    expect(j.checks.find((c) => c.name === 'perplexity regression')?.details).toMatch(/vs baseline [\d.]+ \(\+\d+\.\d+ %, tolerance \+1 %\)/);
    expect(j.failed).toBe(1);
  }, 60_000);

  test('[ob:qa-regression-caught] a golden text change FAILs golden output; the right text passes', () => {
    const good = join(tmp.dir, 'golden.json');
    const bad = join(tmp.dir, 'golden-bad.json');
    const expected = '\n    """\n    Compute the Fibonacci s';
    writeFileSync(good, JSON.stringify([{ prompt: 'def fibonacci(n):', expected, max_tokens: 12 }]));
    writeFileSync(bad, JSON.stringify([{ prompt: 'def fibonacci(n):', expected: expected.replace('Fibonacci', 'factorial'), max_tokens: 12 }]));
    const ok = runCli('apr', ['qa', model, '--golden', good, '--no-webgpu']);
    expect(line(ok.stdout, 'golden output')).toMatch(/^PASS .*1 golden case\(s\): greedy text reproduced/);
    const r = runCli('apr', ['qa', model, '--golden', bad, '--no-webgpu']);
    expect(r.status).toBe(1);
    expect(line(r.stdout, 'golden output')).toMatch(/^FAIL .*case 0: greedy text .* ≠ expected .*factorial/);
    expect(r.stdout).toMatch(/^\d+ PASS, 1 FAIL, \d+ SKIP \(failed: golden output\)$/m);
  }, 60_000);

  test.skipIf(!gpu)(`[ob:qa-regression-caught] a faulty WebGPU kernel (rope-sign) FAILs backend parity${noGpuReason}`, () => {
    const r = runQa(model, { webgpu: { fault: 'rope-sign' } });
    expect(r.pass).toBe(false);
    expect(r.checks.filter((c) => c.status === 'FAIL').map((c) => c.name)).toEqual(['backend parity']);
    expect(r.checks.find((c) => c.name === 'backend parity')?.details).toMatch(/^webgpu vs cpu over \d+ positions: cosine [\d.]+ \(≥ 0\.9999\), max rel error/);
  }, 60_000);

  test('[ob:qa-counts] counts add up; malformed golden file is bad input (exit 3), a negative floor bad usage (exit 2)', () => {
    const r = runQa(model, { webgpu: false, minTps: 1e9 });
    expect(r.passed + r.failed + r.skipped).toBe(r.checks.length);
    expect(r.checks.filter((c) => c.status === 'FAIL').map((c) => c.name)).toEqual(['throughput']);
    expect(r.pass).toBe(false);
    const junk = join(tmp.dir, 'junk.json');
    writeFileSync(junk, '[{"prompt": 1}]');
    expect(runCli('apr', ['qa', model, '--golden', junk]).status).toBe(3);
    expect(runCli('apr', ['qa', model, '--min-tps', '-1']).status).toBe(2);
  }, 60_000);
});

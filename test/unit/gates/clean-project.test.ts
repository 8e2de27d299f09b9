import { afterAll, describe, expect, it } from 'vitest';
import { exitCode } from '../../../gates/lib/runner.js';
import { CHECKS, runCompliance } from '../../../gates/registry.js';
import { plant, removePlanted, writeCoverage } from './fixture.js';

afterAll(removePlanted);

describe('pmat comply check on the clean planted project', () => {
  it('the clean project is compliant under --strict with every applicable check run', async () => {
    const dir = plant();
    writeCoverage(dir, ['src/approx.ts', 'src/index.ts', 'src/ops/mean.ts', 'src/stats.ts'], 100);
    const r = await runCompliance(dir, { strict: true, cache: false });
    const bad = r.checks.filter((c) => c.status === 'warn' || c.status === 'fail').map((c) => `${c.id} ${c.status}: ${c.message}`);
    expect(bad).toEqual([]);
    expect(r.checks).toHaveLength(CHECKS.length);
    expect(r.checks.filter((c) => c.status === 'skip').map((c) => c.id)).toEqual(['CB-007']);
    expect(r.summary.pass).toBeGreaterThanOrEqual(30);
    expect(r.is_compliant).toBe(true);
    expect(exitCode(r, true)).toBe(0);
    const tests = r.checks.find((c) => c.id === 'CB-003');
    expect(tests?.message).toMatch(/^5\/5 tests passed in 1 file, 0 skipped/);
  });

});

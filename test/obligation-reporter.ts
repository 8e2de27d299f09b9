import { mkdirSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Reporter, TestCase } from 'vitest/node';

/**
 * Records the outcome of every test whose name carries `[ob:<obligation-id>]` into
 * `.pv/test-results.json`, so that `pv proof-status` reads facts rather than claims.
 */
export default class ObligationReporter implements Reporter {
  private readonly results: { obligation: string; test: string; file: string; state: string }[] = [];

  onTestCaseResult(testCase: TestCase): void {
    const ids = [...testCase.fullName.matchAll(/\[ob:([\w.-]+)\]/g)].map((m) => m[1] ?? '');
    const state = testCase.result().state;
    for (const obligation of ids) {
      this.results.push({ obligation, test: testCase.fullName, file: relative(process.cwd(), testCase.module.moduleId), state });
    }
  }

  onTestRunEnd(): void {
    if (this.results.length === 0) return;
    mkdirSync('.pv', { recursive: true });
    writeFileSync('.pv/test-results.json', `${JSON.stringify({ time: new Date().toISOString(), results: this.results }, null, 1)}\n`);
  }
}

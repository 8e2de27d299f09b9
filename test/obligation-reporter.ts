import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';
import type { Reporter, TestCase } from 'vitest/node';

interface ObligationResult {
  obligation: string;
  test: string;
  file: string;
  state: string;
}

const RESULTS = '.pv/test-results.json';

/**
 * Records the outcome of every test whose name carries `[ob:<obligation-id>]` into `.pv/test-results.json`,
 * so that `pv proof-status` reads facts rather than claims. A partial run replaces only the entries of the
 * test files it ran.
 */
export default class ObligationReporter implements Reporter {
  private readonly results: ObligationResult[] = [];
  private readonly files = new Set<string>();

  onTestCaseResult(testCase: TestCase): void {
    const file = relative(process.cwd(), testCase.module.moduleId);
    this.files.add(file);
    const ids = [...testCase.fullName.matchAll(/\[ob:([\w.-]+)\]/g)].map((m) => m[1] ?? '');
    const state = testCase.result().state;
    for (const obligation of ids) this.results.push({ obligation, test: testCase.fullName, file, state });
  }

  onTestRunEnd(): void {
    if (this.files.size === 0) return;
    let previous: ObligationResult[] = [];
    if (existsSync(RESULTS)) {
      try {
        previous = (JSON.parse(readFileSync(RESULTS, 'utf8')) as { results: ObligationResult[] }).results;
      } catch {
        previous = [];
      }
    }
    const kept = previous.filter((r) => !this.files.has(r.file));
    mkdirSync('.pv', { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify({ time: new Date().toISOString(), results: [...kept, ...this.results] }, null, 1)}\n`);
  }
}

import { resolve } from 'node:path';
import { typecheck } from './CB-001-typecheck.js';
import { lint } from './CB-002-lint.js';
import { testsPass } from './CB-003-tests-pass.js';
import { coverage } from './CB-004-coverage.js';
import { coverageGaming } from './CB-005-coverage-gaming.js';
import { contractBinding } from './CB-006-contract-binding.js';
import { pvLevel } from './CB-007-pv-level.js';
import { orphanContracts } from './CB-008-orphan-contracts.js';
import { fileLength } from './CB-009-file-length.js';
import { functionLength } from './CB-010-function-length.js';
import { cyclomaticComplexity } from './CB-011-cyclomatic-complexity.js';
import { cognitiveComplexity } from './CB-012-cognitive-complexity.js';
import { nestingDepth } from './CB-013-nesting-depth.js';
import { duplicationCheck } from './CB-014-duplication.js';
import { deadCode } from './CB-015-dead-code.js';
import { noAny } from './CB-016-no-any.js';
import { noNonNullAssertion } from './CB-017-no-non-null-assertion.js';
import { noTodo } from './CB-018-no-todo.js';
import { floatEquality } from './CB-019-float-equality.js';
import { emptyCatch } from './CB-020-empty-catch.js';
import { noConsole } from './CB-021-no-console.js';
import { dependencyCount } from './CB-022-dependency-count.js';
import { pinnedVersions } from './CB-023-pinned-versions.js';
import { lockfileCommitted } from './CB-024-lockfile-committed.js';
import { lockfileSync } from './CB-025-lockfile-sync.js';
import { readmeSetup } from './CB-026-readme-setup.js';
import { ciRunsReadme } from './CB-027-ci-runs-readme.js';
import { license } from './CB-028-license.js';
import { engines } from './CB-029-engines.js';
import { testCodeRatio } from './CB-030-test-code-ratio.js';
import { slowTests } from './CB-031-slow-tests.js';
import { tdgGrade } from './CB-032-tdg-grade.js';
import { noEval } from './CB-033-no-eval.js';
import { noSyncChildProcess } from './CB-034-no-sync-child-process.js';
import { esmOnly } from './CB-035-esm-only.js';
import { noDefaultExport } from './CB-036-no-default-export.js';
import { layering } from './CB-037-layering.js';
import { importCycles } from './CB-038-import-cycles.js';
import { suppressionComments } from './CB-039-suppression-comments.js';
import { tsconfigStrict } from './CB-040-tsconfig-strict.js';
import { focusedSkippedTests } from './CB-041-focused-skipped-tests.js';
import { testAssertions } from './CB-042-test-assertions.js';
import { untestedModules } from './CB-043-untested-modules.js';
import { pmatSuppressions } from './CB-044-pmat-suppressions.js';
import { mutationScore } from './CB-045-mutation-score.js';
import { loadConfig } from './lib/config.js';
import { ProjectContext } from './lib/context.js';
import { runChecks, summarise, type ComplianceReport } from './lib/runner.js';
import type { Check } from './lib/types.js';

export const CHECKS: readonly Check[] = [
  typecheck, lint, testsPass, coverage, coverageGaming, contractBinding, pvLevel, orphanContracts,
  fileLength, functionLength, cyclomaticComplexity, cognitiveComplexity, nestingDepth, duplicationCheck, deadCode,
  noAny, noNonNullAssertion, noTodo, floatEquality, emptyCatch, noConsole,
  dependencyCount, pinnedVersions, lockfileCommitted, lockfileSync, readmeSetup, ciRunsReadme, license, engines,
  testCodeRatio, slowTests, tdgGrade, noEval, noSyncChildProcess, esmOnly, noDefaultExport, layering, importCycles,
  suppressionComments, tsconfigStrict, focusedSkippedTests, testAssertions, untestedModules, pmatSuppressions, mutationScore,
];

export interface ComplianceOptions {
  strict?: boolean;
  skipSlow?: boolean;
  /** Read test results and coverage from the configured reports; never run vitest. */
  reuseResults?: boolean;
  cache?: boolean;
  /** Run only these check ids. */
  only?: readonly string[];
  /** Config file (default `<path>/pmat.config.json`). */
  configFile?: string;
  now?: Date;
}

export class UnknownCheckError extends Error {}

/** Runs the compliance checks over a project directory; throws ConfigError on a bad config. */
export async function runCompliance(path: string, opts: ComplianceOptions = {}): Promise<ComplianceReport> {
  const started = Date.now();
  const root = resolve(path);
  const config = loadConfig(root, CHECKS, opts.configFile);
  const unknown = (opts.only ?? []).filter((id) => !CHECKS.some((c) => c.id === id));
  if (unknown.length > 0) throw new UnknownCheckError(`--only: unknown check id '${unknown[0] ?? ''}'`);
  const ctx = await ProjectContext.create(root, { config, skipSlow: opts.skipSlow, reuseResults: opts.reuseResults, cache: opts.cache, now: opts.now });
  const selected = opts.only && opts.only.length > 0 ? CHECKS.filter((c) => opts.only?.includes(c.id)) : CHECKS;
  const checks = await runChecks(ctx, selected);
  const summary = summarise(checks);
  const strict = opts.strict ?? false;
  return { root, strict, summary, checks, is_compliant: summary.fail === 0 && (!strict || summary.warn === 0), durationMs: Date.now() - started };
}

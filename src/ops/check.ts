import { existsSync } from 'node:fs';
import { defineContract } from '../contract/index.js';
import { FormatError } from '../formats/errors.js';
import { STAGES, runCheck, summarize } from '../eval/integrity/index.js';
import type { CheckReport } from '../eval/integrity/index.js';

export type { CheckReport, StageResult, StageStatus } from '../eval/integrity/index.js';

export interface CheckOptions {
  /** Run only this stage (1..10). */
  stage?: number;
  /** Run the forward passes of stages 9 and 10 (default true). */
  forward?: boolean;
}

interface CheckInput {
  path: string;
  opts: CheckOptions;
}

function stagesAsSelected({ opts }: CheckInput, r: CheckReport): boolean {
  const ids = r.stages.map((s) => s.id);
  const expected = opts.stage === undefined ? STAGES.map((s) => s.id) : [opts.stage];
  return ids.length === expected.length && ids.every((id, i) => id === expected[i]);
}

function summaryConsistent(_i: CheckInput, r: CheckReport): boolean {
  const s = summarize(r.stages);
  return s.passed === r.passed && s.total === r.total && s.score === r.score && s.all_passed === r.all_passed && r.passed <= r.total && r.score >= 0 && r.score <= 100;
}

export const checkContract = defineContract<CheckInput, CheckReport>({
  id: 'op-check-v1',
  equation: 'check',
  spec: 'check(m) = (s_1(m), …, s_10(m)), s_i ∈ {PASS, WARN, FAIL, SKIP}; all_passed ⇔ ∀i s_i ≠ FAIL; score = round(100·(#PASS + ½·#WARN) / #{i : s_i ≠ SKIP})',
  pre: [
    ['path given', ({ path }) => path.length > 0],
    ['stage in 1..10', ({ opts }) => opts.stage === undefined || (Number.isInteger(opts.stage) && opts.stage >= 1 && opts.stage <= STAGES.length)],
  ],
  post: [
    ['stages in order, as selected', stagesAsSelected],
    ['summary consistent with the stages', summaryConsistent],
    ['a skipped stage only without forward passes', ({ opts }, r) => r.stages.every((s) => s.status !== 'SKIP' || opts.forward === false)],
  ],
});

/**
 * `apr check`: the ten-stage integrity pipeline over any supported model. A fault in the model is a failed
 * stage in the report, not an error; only a path that does not exist throws (FormatError).
 */
export function checkModel(path: string, opts: CheckOptions = {}): CheckReport {
  if (!existsSync(path)) throw new FormatError(path, 'path', 'no such file or directory');
  return checkContract.run({ path, opts }, () => runCheck(path, { ...(opts.stage !== undefined ? { stages: [opts.stage] } : {}), forward: opts.forward ?? true }));
}

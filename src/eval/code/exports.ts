import { join } from 'node:path';
import { dpoPairs, writeJsonlAtomically } from './pairs.js';
import type { ProcessedCompletion } from './postprocess.js';
import type { SampleOutcome } from './score.js';
import type { CodeProblem } from './types.js';

/** One problem after execution: the prompt the model saw, its raw and cleaned completions, their outcomes. */
export interface ExecutedProblem {
  problem: CodeProblem;
  prompt: string;
  completions: readonly { raw: string; meanLogprob: number | null }[];
  processed: readonly ProcessedCompletion[];
  outcomes: readonly SampleOutcome[];
}

/** DPO pairs (passing vs failing cleaned completions of the same prompt) for every problem, as JSON Lines. */
export function exportPreferencePairs(path: string, executed: readonly ExecutedProblem[], perProblem: number): number {
  const rows = executed.flatMap((e) =>
    dpoPairs(e.prompt, e.processed.map((p, i) => ({ text: p.code, passed: e.outcomes[i]?.status === 'passed' })), perProblem),
  );
  writeJsonlAtomically(path, rows);
  return rows.length;
}

/** `<dir>/completions.jsonl`: one `{task_id, completion, mean_logprob, status}` line per sample (re-scorable with --samples). */
export function exportCompletions(dir: string, executed: readonly ExecutedProblem[]): string {
  const path = join(dir, 'completions.jsonl');
  const rows = executed.flatMap((e) =>
    e.completions.map((c, i) => ({ task_id: e.problem.taskId, completion: c.raw, mean_logprob: c.meanLogprob, status: e.outcomes[i]?.status ?? null })),
  );
  writeJsonlAtomically(path, rows);
  return path;
}

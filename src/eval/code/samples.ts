import { FormatError } from '../../formats/errors.js';
import { type JsonlRecord, parseJsonl, readJsonl, RecordFields } from './jsonl.js';
import type { CodeProblem, CompletionSample } from './types.js';

export interface SampleReadOptions {
  /** Every line must carry `mean_logprob` (`--rerank logprob` ranks by it); a line without is a FormatError. */
  requireLogprob?: boolean;
}

function toSamples(records: readonly JsonlRecord[], file: string, problems: readonly CodeProblem[], opts: SampleReadOptions): CompletionSample[] {
  const known = new Set(problems.map((p) => p.taskId));
  const samples = records.map((rec): CompletionSample => {
    const f = new RecordFields(file, rec);
    const taskId = f.id('task_id');
    if (!known.has(taskId)) f.fail('task_id', `'${taskId}' is not a problem of the data set`);
    // evalplus writes either `completion` (continuation) or `solution` (whole code)
    const completion = f.has('completion') ? f.string('completion') : f.has('solution') ? f.string('solution') : f.fail('completion', 'expected a string (or a `solution` string)');
    const meanLogprob = f.optionalNumber('mean_logprob');
    if (meanLogprob === null && opts.requireLogprob === true) f.fail('mean_logprob', 'missing: --rerank logprob ranks the samples by their mean log-probability');
    return { taskId, completion, meanLogprob };
  });
  const covered = new Set(samples.map((s) => s.taskId));
  const missing = problems.filter((p) => !covered.has(p.taskId)).map((p) => p.taskId);
  if (missing.length > 0) {
    const shown = missing.slice(0, 5).join(', ') + (missing.length > 5 ? ', ...' : '');
    throw new FormatError(file, 'task_id', `no samples for ${missing.length} problem(s) of the data set: ${shown}`);
  }
  return samples;
}

/** Parses `{task_id, completion}` JSON Lines (evalplus style) against the problems they answer. */
export function parseCompletionSamples(text: string, problems: readonly CodeProblem[], file = '<samples>', opts: SampleReadOptions = {}): CompletionSample[] {
  return toSamples(parseJsonl(text, file), file, problems, opts);
}

export function readCompletionSamples(path: string, problems: readonly CodeProblem[], opts: SampleReadOptions = {}): CompletionSample[] {
  return toSamples(readJsonl(path), path, problems, opts);
}

import { defineContract } from '../contract/index.js';
import { buildJob, HUMANEVAL_STOP, postProcessCompletion } from '../eval/code/postprocess.js';
import { buildPrompt } from '../eval/code/prompt.js';
import { type AggregateInput, aggregateOutcomes, type CodeEvalResults, type ProblemReport, type SampleOutcome } from '../eval/code/score.js';
import { type ExecutedProblem, exportCompletions, exportPreferencePairs } from '../eval/code/exports.js';
import type { CodeProblem, CompletionSample, CompletionSource, GenerationRequest, PromptStrategy, Reranker } from '../eval/code/types.js';
import { detectIsolation } from '../eval/sandbox/isolation.js';
import { Limiter } from '../eval/sandbox/pool.js';
import { activeLayers, spawnSandbox } from '../eval/sandbox/process.js';
import { defaultWorkers } from '../eval/sandbox/run.js';
import { DEFAULT_LIMITS, type SandboxJob, type SandboxPolicy, type SandboxResult } from '../eval/sandbox/types.js';

export { readCodeProblems, parseCodeProblems } from '../eval/code/problems.js';
export { readCompletionSamples, parseCompletionSamples } from '../eval/code/samples.js';
export type { SampleReadOptions } from '../eval/code/samples.js';
export type { CodeProblem, CompletionSample, CompletionSource, GeneratedCompletion, GenerationRequest, PromptStrategy, Reranker } from '../eval/code/types.js';
export type { CodeEvalResults, ProblemReport, SampleReport } from '../eval/code/score.js';

/** Runs one sandbox job; replaceable so tests of the scoring need not start processes. */
export type SampleExecutor = (job: SandboxJob) => Promise<SandboxResult>;

export interface EvalCodeOptions {
  problems: readonly CodeProblem[];
  /** Completions made elsewhere (`--samples`); exactly one of `samples` and `source`. */
  samples?: readonly CompletionSample[];
  /** The model (`--n-samples` completions per problem). */
  source?: CompletionSource;
  benchmark?: string;
  model?: string | null;
  nSamples?: number;
  ks?: readonly number[];
  rerank?: Reranker;
  /** Which asserts a reranker may run: the first one (default) or all of them. */
  visibleTests?: 'first' | 'all';
  temperature?: number;
  topP?: number;
  seed?: number;
  promptStrategy?: PromptStrategy;
  exemplars?: readonly CodeProblem[];
  timeoutMs?: number;
  memoryMb?: number;
  workers?: number;
  /** Writes DPO pairs `{prompt, chosen, rejected}` as JSON Lines here. */
  exportPairs?: string;
  pairsPerProblem?: number;
  /** Writes `completions.jsonl` (`{task_id, completion, mean_logprob, status}`) into this directory. */
  outputCompletions?: string;
  sandbox?: { policy?: SandboxPolicy; python?: string };
  executor?: SampleExecutor;
  onProgress?: (done: number, total: number) => void;
}

export interface CodeEvalReport {
  benchmark: string;
  model: string | null;
  config: Record<string, unknown>;
  results: CodeEvalResults;
  problems: ProblemReport[];
}

type Aggregated = ReturnType<typeof aggregateOutcomes>;

const inUnit = (x: number): boolean => x >= 0 && x <= 1;
const isPosInt = (k: number): boolean => Number.isSafeInteger(k) && k >= 1;

export const evalCodeContract = defineContract<AggregateInput, Aggregated>({
  id: 'eval-code-v1',
  equation: 'code_eval',
  spec: 'pass@k = mean_p [1 − C(n_p−c_p,k)/C(n_p,k)]; pass@1 = mean_p c_p/n_p; #{c=n}/P ≤ reranked pass@1 ≤ #{c>0}/P',
  pre: [
    ['ks are positive integers', ({ ks }) => ks.length > 0 && ks.every(isPosInt)],
    ['at least one problem, each with at least one sample', ({ problems }) => problems.length > 0 && problems.every((p) => p.samples.length > 0)],
  ],
  post: [
    ['every pass@k in [0, 1]', (_i, { results, problems }) => inUnit(results.pass_at_1) && Object.values(results.pass_at_k).every(inUnit) && problems.every((p) => Object.values(p.pass_at_k).every(inUnit))],
    ['pass@1 is the mean of c/n', (_i, { results, problems }) => Math.abs(results.pass_at_1 - problems.reduce((a, p) => a + p.c / p.n, 0) / problems.length) <= 1e-12],
    ['total and passed count problems', (i, { results, problems }) => results.total === i.problems.length && results.passed === problems.filter((p) => p.c > 0).length],
    ['pass@k non-decreasing in k', (_i, { results }) => Object.entries(results.pass_at_k).sort((a, b) => Number(a[0]) - Number(b[0])).every(([, v], j, all) => j === 0 || v >= (all[j - 1]?.[1] ?? 0) - 1e-12)],
    ['reranked pass@1 between the all-pass and any-pass fractions', (_i, { results, problems }) => {
      const r = results.reranked_pass_at_1;
      if (r === null) return true;
      const all = problems.filter((p) => p.c === p.n).length / problems.length;
      return r >= all - 1e-12 && r <= results.passed / problems.length + 1e-12;
    }],
  ],
});

type Prepared = Pick<ExecutedProblem, 'problem' | 'prompt' | 'completions'>;

function validate(opts: EvalCodeOptions): void {
  if ((opts.samples === undefined) === (opts.source === undefined)) throw new RangeError('eval-code: give exactly one of samples (completions made elsewhere) and source (a model)');
  if (opts.problems.length === 0) throw new RangeError('eval-code: no problems');
  const n = opts.nSamples ?? 1;
  if (!isPosInt(n)) throw new RangeError(`eval-code: n-samples must be a positive integer, got ${n}`);
  for (const k of opts.ks ?? [1]) if (!isPosInt(k)) throw new RangeError(`eval-code: k must be a positive integer, got ${k}`);
  if (opts.source && (opts.ks ?? [1]).some((k) => k > n)) throw new RangeError(`eval-code: every k must be ≤ n-samples (${n})`);
  if (opts.timeoutMs !== undefined && !(opts.timeoutMs > 0)) throw new RangeError(`eval-code: timeout must be positive, got ${opts.timeoutMs}`);
  if (opts.rerank === 'logprob') requireLogprobs(opts.samples ?? []);
}

/** Logprob reranking of completions made elsewhere: every sample must carry its mean log-probability. */
function requireLogprobs(samples: readonly CompletionSample[]): void {
  const missing = samples.filter((s) => s.meanLogprob === null);
  const first = missing[0];
  if (first) throw new RangeError(`eval-code: rerank logprob needs a mean_logprob on every sample: ${missing.length} of ${samples.length} have none (first: ${first.taskId})`);
}

function request(opts: EvalCodeOptions, prompt: string): GenerationRequest {
  return { prompt, temperature: opts.temperature ?? 0.8, topP: opts.topP ?? 0.95, seed: opts.seed ?? 0, stop: HUMANEVAL_STOP };
}

async function prepare(problem: CodeProblem, opts: EvalCodeOptions, byTask: Map<string, CompletionSample[]>): Promise<Prepared> {
  if (!opts.source) {
    const completions = (byTask.get(problem.taskId) ?? []).map((s) => ({ raw: s.completion, meanLogprob: s.meanLogprob }));
    return { problem, prompt: problem.prompt, completions };
  }
  const n = opts.nSamples ?? 1;
  const prompt = buildPrompt(problem, opts.promptStrategy ?? 'standard', opts.exemplars);
  const made = await opts.source(problem, n, request(opts, prompt));
  if (made.length !== n) throw new Error(`eval-code: the completion source returned ${made.length} completions for ${problem.taskId}, expected ${n}`);
  // a model gives no log-probability only for an empty completion (ranked last); none at all: nothing to rank by
  if (opts.rerank === 'logprob' && made.every((c) => c.meanLogprob === null)) throw new Error(`eval-code: rerank logprob: the completion source gave no log-probability for ${problem.taskId}`);
  return { problem, prompt, completions: made.map((c) => ({ raw: c.text, meanLogprob: c.meanLogprob })) };
}

function visibleFor(problem: CodeProblem, opts: EvalCodeOptions): string[] {
  const rr = opts.rerank ?? 'none';
  if (rr !== 'majority' && rr !== 'execution') return [];
  return opts.visibleTests === 'all' ? problem.asserts : problem.asserts.slice(0, 1);
}

async function defaultExecutor(opts: EvalCodeOptions): Promise<{ exec: SampleExecutor; sandbox: Record<string, unknown> }> {
  const iso = await detectIsolation(opts.sandbox?.python);
  const policy = opts.sandbox?.policy ?? {};
  const limits = { ...DEFAULT_LIMITS, timeoutMs: opts.timeoutMs ?? DEFAULT_LIMITS.timeoutMs, memoryMb: opts.memoryMb ?? DEFAULT_LIMITS.memoryMb };
  const l = activeLayers(iso, policy);
  const sandbox = { python: iso.python, namespaces: l.namespaces ? iso.namespaces : 'none', readonly_fs: l.readonlyFs, drop_privileges: l.drop, audit_hook: l.auditHook };
  return { exec: (job) => spawnSandbox(job, limits, iso, policy), sandbox };
}

async function executeAll(opts: EvalCodeOptions, exec: SampleExecutor): Promise<ExecutedProblem[]> {
  const byTask = new Map<string, CompletionSample[]>();
  for (const s of opts.samples ?? []) byTask.set(s.taskId, [...(byTask.get(s.taskId) ?? []), s]);
  const limiter = new Limiter(opts.workers ?? defaultWorkers());
  const total = opts.problems.reduce((a, p) => a + (opts.source ? (opts.nSamples ?? 1) : (byTask.get(p.taskId)?.length ?? 0)), 0);
  let done = 0;
  const pending: Promise<ExecutedProblem>[] = [];
  // every problem's completions are requested at once (a batching source decodes them together); each
  // problem's samples execute as soon as its completions are in, while later problems still generate
  const preparing = opts.problems.map((problem) => prepare(problem, opts, byTask));
  for (const p of preparing) p.catch(() => undefined);
  for (const [k, problem] of opts.problems.entries()) {
    const prepared = await (preparing[k] as Promise<Prepared>);
    const visible = visibleFor(problem, opts);
    const processed = prepared.completions.map((c) => postProcessCompletion(problem, c.raw));
    const runs = processed.map((pc, i) =>
      limiter.run(async (): Promise<SampleOutcome> => {
        const r = await exec(buildJob(problem, pc, visible));
        opts.onProgress?.(++done, total);
        return { status: r.status, detail: r.detail, meanLogprob: prepared.completions[i]?.meanLogprob ?? null, visible: r.visible };
      }),
    );
    const one = Promise.all(runs).then((outcomes): ExecutedProblem => ({ ...prepared, processed, outcomes }));
    one.catch(() => undefined);
    pending.push(one);
  }
  return Promise.all(pending);
}

/** The sampling settings of a run with a model; null for each when completions come from a file. */
function samplingConfig(opts: EvalCodeOptions, model: boolean): Record<string, unknown> {
  if (!model) return { temperature: null, top_p: null, seed: null, prompt_strategy: null };
  return { temperature: opts.temperature ?? 0.8, top_p: opts.topP ?? 0.95, seed: opts.seed ?? 0, prompt_strategy: opts.promptStrategy ?? 'standard' };
}

function config(opts: EvalCodeOptions, executed: readonly ExecutedProblem[], sandbox: Record<string, unknown>): Record<string, unknown> {
  const ns = [...new Set(executed.map((e) => e.outcomes.length))];
  const model = opts.source !== undefined;
  return {
    source: model ? 'model' : 'samples',
    n_samples: model ? (opts.nSamples ?? 1) : ns.length === 1 ? ns[0] : null,
    ks: [...new Set(opts.ks ?? [1])].sort((a, b) => a - b),
    rerank: opts.rerank ?? 'none',
    visible_tests: opts.visibleTests ?? 'first',
    ...samplingConfig(opts, model),
    timeout_ms: opts.timeoutMs ?? DEFAULT_LIMITS.timeoutMs,
    memory_mb: opts.memoryMb ?? DEFAULT_LIMITS.memoryMb,
    workers: opts.workers ?? defaultWorkers(),
    sandbox,
  };
}

/**
 * `apr eval` for code: runs every completion of every problem in the sandbox, then reports per-problem c and
 * pass@k (Chen et al.'s unbiased estimator), their means, plain pass@1 and the reranked pass@1.
 */
export async function evaluateCode(opts: EvalCodeOptions): Promise<CodeEvalReport> {
  validate(opts);
  const { exec, sandbox } = opts.executor ? { exec: opts.executor, sandbox: { executor: 'custom' } } : await defaultExecutor(opts);
  const executed = await executeAll(opts, exec);
  const input: AggregateInput = { ks: opts.ks ?? [1], rerank: opts.rerank ?? 'none', problems: executed.map((e) => ({ taskId: e.problem.taskId, samples: e.outcomes })) };
  const { results, problems } = evalCodeContract.run(input, () => aggregateOutcomes(input));
  if (opts.exportPairs !== undefined) exportPreferencePairs(opts.exportPairs, executed, opts.pairsPerProblem ?? 4);
  if (opts.outputCompletions !== undefined) exportCompletions(opts.outputCompletions, executed);
  return { benchmark: opts.benchmark ?? 'code', model: opts.model ?? null, config: config(opts, executed, sandbox), results, problems };
}

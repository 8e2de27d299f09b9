import { passAtKEstimate } from '../pass-at-k.js';
import type { SandboxStatus, VisibleOutcome } from '../sandbox/types.js';
import { rerank } from './rerank.js';
import type { Reranker } from './types.js';

export interface SampleOutcome {
  status: SandboxStatus;
  detail: string;
  meanLogprob: number | null;
  visible: VisibleOutcome[] | null;
}

export interface ProblemOutcomes {
  taskId: string;
  samples: readonly SampleOutcome[];
}

export interface AggregateInput {
  ks: readonly number[];
  rerank: Reranker;
  problems: readonly ProblemOutcomes[];
}

export interface SampleReport {
  index: number;
  status: SandboxStatus;
  detail: string;
  mean_logprob: number | null;
  /** Visible tests passed, null when the visible stage did not run or complete. */
  visible_passed: number | null;
}

export interface ProblemReport {
  task_id: string;
  n: number;
  c: number;
  /** pass@k of this problem for each requested k ≤ n. */
  pass_at_k: Record<string, number>;
  /** The reranker's pick and whether it passes; null without a reranker. */
  reranked: { index: number; passed: boolean } | null;
  samples: SampleReport[];
}

export interface CodeEvalResults {
  /** Problems evaluated. */
  total: number;
  /** Problems with at least one passing sample. */
  passed: number;
  /** Mean over problems of c/n (the unbiased pass@1). */
  pass_at_1: number;
  /** Mean over problems of pass@k, for each requested k that every problem has n ≥ k samples for. */
  pass_at_k: Record<string, number>;
  /** Fraction of problems whose reranked pick passes; null without a reranker. */
  reranked_pass_at_1: number | null;
}

function problemReport(p: ProblemOutcomes, ks: readonly number[], kind: Reranker): ProblemReport {
  const n = p.samples.length;
  const c = p.samples.filter((s) => s.status === 'passed').length;
  const pass_at_k: Record<string, number> = {};
  for (const k of ks) if (k <= n) pass_at_k[String(k)] = passAtKEstimate(n, c, k);
  let reranked: ProblemReport['reranked'] = null;
  if (kind !== 'none') {
    const index = rerank(kind, p.samples);
    reranked = { index, passed: p.samples[index]?.status === 'passed' };
  }
  const samples = p.samples.map((s, index): SampleReport => ({
    index,
    status: s.status,
    detail: s.detail,
    mean_logprob: s.meanLogprob,
    visible_passed: s.visible === null ? null : s.visible.filter((v) => v.passed).length,
  }));
  return { task_id: p.taskId, n, c, pass_at_k, reranked, samples };
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Per-problem c and pass@k, their means, and the reranked pass@1 (see contracts/eval-code-v1.yaml). */
export function aggregateOutcomes(input: AggregateInput): { results: CodeEvalResults; problems: ProblemReport[] } {
  const ks = [...new Set(input.ks)].sort((a, b) => a - b);
  const problems = input.problems.map((p) => problemReport(p, ks, input.rerank));
  const pass_at_k: Record<string, number> = {};
  for (const k of ks) {
    if (problems.every((p) => p.n >= k)) pass_at_k[String(k)] = mean(problems.map((p) => p.pass_at_k[String(k)] ?? 0));
  }
  const results: CodeEvalResults = {
    total: problems.length,
    passed: problems.filter((p) => p.c > 0).length,
    pass_at_1: mean(problems.map((p) => p.c / p.n)),
    pass_at_k,
    reranked_pass_at_1: input.rerank === 'none' ? null : mean(problems.map((p) => (p.reranked?.passed ? 1 : 0))),
  };
  return { results, problems };
}

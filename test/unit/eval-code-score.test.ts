import { describe, expect, it } from 'vitest';
import { type SampleOutcome, aggregateOutcomes } from '../../src/eval/code/score.js';

const sample = (passed: boolean, visiblePass: boolean | null, meanLogprob: number | null = null): SampleOutcome => ({
  status: passed ? 'passed' : 'failed',
  detail: passed ? '' : 'AssertionError',
  meanLogprob,
  visible: visiblePass === null ? null : [{ passed: visiblePass, output: null }],
});

// Problem A: n = 5, c = 2 → pass@1 = 2/5, pass@2 = 1 − C(3,2)/C(5,2) = 1 − 3/10 = 0.7 (Chen et al. 2021).
// Problem B: n = 5, c = 0 → 0 for every k.
const A = [sample(false, false, -0.1), sample(true, true, -2), sample(false, true, -0.5), sample(true, true, -1), sample(false, null)];
const B = [sample(false, false), sample(false, true, -0.2), sample(false, false), sample(false, null), sample(false, false)];

describe('aggregateOutcomes (apr eval for code: c, pass@k, reranked pass@1)', () => {
  it('per-problem c and unbiased pass@k, means over problems; k above some n is left out', () => {
    const { results, problems } = aggregateOutcomes({ ks: [2, 1, 10, 2], rerank: 'none', problems: [{ taskId: 'A', samples: A }, { taskId: 'B', samples: B }] });
    expect(problems.map((p) => [p.task_id, p.n, p.c])).toEqual([['A', 5, 2], ['B', 5, 0]]);
    expect(problems[0]?.pass_at_k['1']).toBeCloseTo(0.4, 12);
    expect(problems[0]?.pass_at_k['2']).toBeCloseTo(0.7, 12);
    expect(problems[0]?.pass_at_k['10']).toBeUndefined();
    expect(results.total).toBe(2);
    expect(results.passed).toBe(1);
    expect(results.pass_at_1).toBeCloseTo(0.2, 12);
    expect(Object.keys(results.pass_at_k)).toEqual(['1', '2']);
    expect(results.pass_at_k['2']).toBeCloseTo(0.35, 12);
    expect(results.reranked_pass_at_1).toBeNull();
    expect(problems[0]?.reranked).toBeNull();
  });

  it('sample reports count visible tests passed, null where the visible stage did not run', () => {
    const { problems } = aggregateOutcomes({ ks: [1], rerank: 'none', problems: [{ taskId: 'A', samples: A }] });
    expect(problems[0]?.samples.map((s) => s.visible_passed)).toEqual([0, 1, 1, 1, null]);
    expect(problems[0]?.samples[0]).toEqual({ index: 0, status: 'failed', detail: 'AssertionError', mean_logprob: -0.1, visible_passed: 0 });
  });

  it('reranked pass@1: the pick of each problem, judged by its hidden-test status', () => {
    const problems = [{ taskId: 'A', samples: A }, { taskId: 'B', samples: B }];
    // execution: A's first visible pass is sample 1 (passes); B's is sample 1 (fails) → 1/2
    const exec = aggregateOutcomes({ ks: [1], rerank: 'execution', problems });
    expect(exec.problems.map((p) => p.reranked)).toEqual([{ index: 1, passed: true }, { index: 1, passed: false }]);
    expect(exec.results.reranked_pass_at_1).toBe(0.5);
    // logprob: A's best mean log-probability is sample 0 (fails) → 0
    const lp = aggregateOutcomes({ ks: [1], rerank: 'logprob', problems });
    expect(lp.problems[0]?.reranked).toEqual({ index: 0, passed: false });
    expect(lp.results.reranked_pass_at_1).toBe(0);
  });

  it('logprob reranking of a problem none of whose samples carries a log-probability is an error, not the first sample', () => {
    const none = [sample(false, true), sample(true, true)];
    expect(() => aggregateOutcomes({ ks: [1], rerank: 'logprob', problems: [{ taskId: 'A', samples: A }, { taskId: 'C', samples: none }] })).toThrow('rerank logprob: no sample carries a mean log-probability');
  });
});

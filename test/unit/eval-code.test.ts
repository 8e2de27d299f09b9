import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evaluateCode, readCodeProblems, readCompletionSamples, type CodeEvalReport, type CodeProblem, type CompletionSample, type CompletionSource } from '../../src/ops/eval-code.js';
import { exactPassAtK, FIXTURES, scriptedExecutor, scriptedSample, stubProblem, type Scripted } from './eval-code-helpers.js';

// End to end through the real sandbox on the project's own 24-problem set (test/fixtures/code-problems).

let problems: CodeProblem[];
let out: string;
const WORKERS = 8;

beforeAll(() => {
  problems = readCodeProblems(join(FIXTURES, 'problems.jsonl'));
  out = mkdtempSync(join(tmpdir(), 'apr-eval-code-'));
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

const canonical = (p: CodeProblem, meanLogprob: number | null = null): CompletionSample => ({ taskId: p.taskId, completion: p.canonicalSolution ?? '', meanLogprob });

describe('evaluateCode on the fixture set (real sandbox)', () => {
  // The wrong completion of each problem first (logprob −1), then the canonical one (logprob −0.5).
  // By construction (build.py) the wrong bodies of AprCode/11, /12 and /17 pass their first assert.
  let report: CodeEvalReport;
  const pairsPath = (): string => join(out, 'pairs.jsonl');

  beforeAll(async () => {
    const wrong = readCompletionSamples(join(FIXTURES, 'wrong.jsonl'), problems);
    const samples = problems.flatMap((p, i) => [{ ...wrong[i]!, meanLogprob: -1 }, canonical(p, -0.5)]);
    report = await evaluateCode({ problems, samples, ks: [1, 2], rerank: 'execution', workers: WORKERS, benchmark: 'apr-code-24', exportPairs: pairsPath(), outputCompletions: join(out, 'completions') });
  });

  it('has exactly the documented result shape', () => {
    expect(Object.keys(report)).toEqual(['benchmark', 'model', 'config', 'results', 'problems']);
    expect(Object.keys(report.results)).toEqual(['total', 'passed', 'pass_at_1', 'pass_at_k', 'reranked_pass_at_1']);
    expect(report.benchmark).toBe('apr-code-24');
    expect(report.model).toBeNull();
    expect(report.config['source']).toBe('samples');
    expect(report.config['n_samples']).toBe(2);
  });

  it('every canonical solution passes and every deliberately wrong completion fails', () => {
    for (const p of report.problems) {
      expect([p.task_id, p.samples[0]?.status, p.samples[1]?.status]).toEqual([p.task_id, 'failed', 'passed']);
      expect(p.c).toBe(1);
    }
    expect(report.results.total).toBe(24);
    expect(report.results.passed).toBe(24);
    expect(report.results.pass_at_1).toBe(0.5);
    expect(report.results.pass_at_k).toEqual({ '1': 0.5, '2': 1 });
  });

  it('execution reranking: 21/24 (three wrong bodies pass the visible assert), ≥ plain pass@1', () => {
    const fooled = report.problems.filter((p) => p.reranked?.index === 0).map((p) => p.task_id);
    expect(fooled).toEqual(['AprCode/11', 'AprCode/12', 'AprCode/17']);
    expect(report.results.reranked_pass_at_1).toBe(21 / 24);
    expect(report.results.reranked_pass_at_1).toBeGreaterThanOrEqual(report.results.pass_at_1);
  });

  it('exports one DPO pair per problem, canonical chosen, wrong rejected', () => {
    const lines = readFileSync(pairsPath(), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
    expect(lines).toHaveLength(24);
    const wrong = readCompletionSamples(join(FIXTURES, 'wrong.jsonl'), problems);
    lines.forEach((pair, i) => {
      expect(Object.keys(pair)).toEqual(['prompt', 'chosen', 'rejected']);
      expect(pair['prompt']).toBe(problems[i]!.prompt);
      expect(pair['chosen']).toBe(problems[i]!.canonicalSolution);
      expect(pair['rejected']).toBe(wrong[i]!.completion);
    });
    expect(readdirSync(out).filter((f) => f.startsWith('.apr-tmp-'))).toEqual([]);
  });

  it('writes completions.jsonl that reads back as --samples', () => {
    const back = readCompletionSamples(join(out, 'completions', 'completions.jsonl'), problems);
    expect(back).toHaveLength(48);
    expect(back[1]).toEqual(canonical(problems[0]!, -0.5));
  });
});

describe('evaluateCode: other completion shapes and rerankers (real sandbox)', () => {
  it('majority vote picks the agreeing pair over two different wrong answers', async () => {
    const subset = problems.slice(0, 6);
    const wrong = readCompletionSamples(join(FIXTURES, 'wrong.jsonl'), problems);
    const samples = subset.flatMap((p, i) => [wrong[i]!, { taskId: p.taskId, completion: '    return None\n', meanLogprob: null }, canonical(p), canonical(p)]);
    const r = await evaluateCode({ problems: subset, samples, rerank: 'majority', workers: WORKERS });
    expect(r.problems.map((p) => p.c)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(r.problems.map((p) => p.reranked?.index)).toEqual([2, 2, 2, 2, 2, 2]);
    expect(r.results.pass_at_1).toBe(0.5);
    expect(r.results.reranked_pass_at_1).toBe(1);
  });

  it('scores whole-function, fenced and chatty completions, and MBPP-format problems', async () => {
    const fizz = problems[0]!;
    const samples: CompletionSample[] = [
      { taskId: fizz.taskId, completion: `def fizz_word(n):\n${fizz.canonicalSolution ?? ''}`, meanLogprob: null },
      { taskId: fizz.taskId, completion: `Sure!\n\`\`\`python\ndef fizz_word(n):\n${fizz.canonicalSolution ?? ''}\`\`\`\nHope it helps.`, meanLogprob: null },
      { taskId: fizz.taskId, completion: `${fizz.canonicalSolution ?? ''}\n\nprint(fizz_word(3))\nassert False\n`, meanLogprob: null },
    ];
    const mbpp = readCodeProblems(join(FIXTURES, 'mbpp-style.jsonl'));
    const [a, b] = await Promise.all([
      evaluateCode({ problems: [fizz], samples, ks: [1, 3], workers: 3 }),
      evaluateCode({ problems: mbpp, samples: mbpp.map((p) => ({ taskId: p.taskId, completion: p.canonicalSolution ?? '', meanLogprob: null })), workers: 3 }),
    ]);
    expect(a.problems[0]!.samples.map((s) => s.status)).toEqual(['passed', 'passed', 'passed']);
    expect(b.results).toEqual({ total: 3, passed: 3, pass_at_1: 1, pass_at_k: { '1': 1 }, reranked_pass_at_1: null });
  });
});

describe('evaluateCode: scoring (scripted executor, no processes)', () => {
  it('pass@k per problem and mean match the BigInt binomial definition on a table of (n, c, k)', async () => {
    const table: [number, number][] = [[1, 0], [1, 1], [5, 2], [10, 3], [20, 1], [50, 49], [100, 0], [200, 13]];
    const ks = [1, 2, 3, 5, 10, 50, 100];
    const outcomes = new Map<string, Scripted>();
    const samples: CompletionSample[] = [];
    table.forEach(([n, c], t) => {
      for (let i = 0; i < n; i++) {
        outcomes.set(`${t}.${i}`, { status: i < c ? 'passed' : 'failed' });
        samples.push(scriptedSample(`T${t}`, `${t}.${i}`));
      }
    });
    const probs = table.map((_x, t) => stubProblem(`T${t}`));
    const r = await evaluateCode({ problems: probs, samples, ks, executor: scriptedExecutor(outcomes) });
    let checked = 0;
    r.problems.forEach((p, t) => {
      const [n, c] = table[t]!;
      expect([p.n, p.c]).toEqual([n, c]);
      for (const k of ks.filter((k) => k <= n)) {
        expect(Math.abs(p.pass_at_k[String(k)]! - exactPassAtK(n, c, k))).toBeLessThanOrEqual(1e-12);
        checked++;
      }
    });
    expect(checked).toBe(1 + 1 + 4 + 5 + 5 + 6 + 7 + 7);
    // only k = 1 has n ≥ k for every problem (two problems have n = 1)
    expect(Object.keys(r.results.pass_at_k)).toEqual(['1']);
    expect(r.results.pass_at_1).toBeCloseTo((0 + 1 + 2 / 5 + 3 / 10 + 1 / 20 + 49 / 50 + 0 + 13 / 200) / 8, 14);
  });

  it('logprob reranking picks the highest mean logprob; reranked ≥ plain on a constructed case', async () => {
    const outcomes = new Map<string, Scripted>([['a0', { status: 'failed' }], ['a1', { status: 'passed' }], ['a2', { status: 'failed' }], ['b0', { status: 'passed' }], ['b1', { status: 'failed' }], ['b2', { status: 'failed' }]]);
    const samples = [scriptedSample('A', 'a0', -2), scriptedSample('A', 'a1', -0.3), scriptedSample('A', 'a2', -3), scriptedSample('B', 'b0', -0.1), scriptedSample('B', 'b1', -0.9), scriptedSample('B', 'b2', -0.2)];
    const r = await evaluateCode({ problems: [stubProblem('A'), stubProblem('B')], samples, rerank: 'logprob', executor: scriptedExecutor(outcomes) });
    expect(r.problems.map((p) => p.reranked)).toEqual([{ index: 1, passed: true }, { index: 0, passed: true }]);
    expect(r.results.pass_at_1).toBeCloseTo(1 / 3, 15);
    expect(r.results.reranked_pass_at_1).toBe(1);
  });

  it('model mode: asks the source for n completions with the strategy prompt; checks its answers', async () => {
    const [p] = problems;
    const seen: { n: number; prompt: string; temperature: number }[] = [];
    const source: CompletionSource = (problem, n, req) => {
      seen.push({ n, prompt: req.prompt, temperature: req.temperature });
      return Promise.resolve(Array.from({ length: n }, (_x, i) => ({ text: `    return 1  #SAMPLE s${i}\n`, meanLogprob: -i })));
    };
    const outcomes = new Map<string, Scripted>([['s0', { status: 'failed' }], ['s1', { status: 'passed' }], ['s2', { status: 'passed' }]]);
    const r = await evaluateCode({ problems: [p!], source, nSamples: 3, ks: [1, 3], temperature: 0.2, promptStrategy: 'scot', model: 'tiny', executor: scriptedExecutor(outcomes) });
    expect(seen).toEqual([{ n: 3, prompt: `${p!.prompt}    # Plan the solution with program structures (sequence, branch, loop) as comments first, then write the code.\n`, temperature: 0.2 }]);
    expect(r.model).toBe('tiny');
    expect(r.results.pass_at_k).toEqual({ '1': 2 / 3, '3': 1 });
    await expect(evaluateCode({ problems: [p!], source, nSamples: 2, ks: [3], executor: scriptedExecutor(outcomes) })).rejects.toThrow('every k must be ≤ n-samples (2)');
    const short: CompletionSource = () => Promise.resolve([{ text: '    pass\n', meanLogprob: null }]);
    await expect(evaluateCode({ problems: [p!], source: short, nSamples: 2, executor: scriptedExecutor(outcomes) })).rejects.toThrow('returned 1 completions for AprCode/0, expected 2');
  });
});

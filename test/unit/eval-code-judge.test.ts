import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateCode, parseCodeProblems, readCodeProblems, readCompletionSamples, type CodeProblem, type CompletionSample } from '../../src/ops/eval-code.js';
import { FIXTURES } from './eval-code-helpers.js';

// Issue 18, eval part, through the real sandbox: rerank binds the entry point whatever the test function calls
// it (and for assert-only tests); the judge compares each call with the reference solution's output, type
// included (an always-equal object fails).

const WORKERS = 4;
let problems: CodeProblem[];
let wrong: CompletionSample[];

beforeAll(() => {
  problems = readCodeProblems(join(FIXTURES, 'problems.jsonl'));
  wrong = readCompletionSamples(join(FIXTURES, 'wrong.jsonl'), problems);
});

const sample = (taskId: string, completion: string, meanLogprob: number | null = null): CompletionSample => ({ taskId, completion, meanLogprob });
const canonical = (p: CodeProblem): CompletionSample => sample(p.taskId, p.canonicalSolution ?? '');

/** The fixture problems whose wrong body fails the first assert, with `check(candidate)` renamed `check(f)`. */
function renamedSet(): { problems: CodeProblem[]; wrong: CompletionSample[] } {
  const lines = readFileSync(join(FIXTURES, 'problems.jsonl'), 'utf8').trimEnd().split('\n');
  const renamed = lines.map((l) => {
    const rec = JSON.parse(l) as Record<string, string>;
    return JSON.stringify({ ...rec, test: (rec['test'] ?? '').replace('def check(candidate):', 'def check(f):').replace(/\bcandidate\(/g, 'f(') });
  });
  const keep = (_x: unknown, i: number): boolean => ![11, 12, 17].includes(i) && i < 10;
  return { problems: parseCodeProblems(renamed.join('\n')).filter(keep), wrong: readCompletionSamples(join(FIXTURES, 'wrong.jsonl'), problems).filter(keep) };
}

describe('rerank binds the entry point to the test function whatever its parameter is called', () => {
  it('def check(f): execution and majority reranking pick the correct sample (reranked pass@1 = 1)', async () => {
    const set = renamedSet();
    expect(set.problems[0]?.asserts[0]).toBe('assert f(15) == "FizzBuzz"');
    const exec = set.problems.flatMap((p, i) => [set.wrong[i]!, canonical(p)]);
    const major = set.problems.flatMap((p, i) => [set.wrong[i]!, sample(p.taskId, '    return None\n'), canonical(p), canonical(p)]);
    const [a, b] = await Promise.all([
      evaluateCode({ problems: set.problems, samples: exec, rerank: 'execution', workers: WORKERS }),
      evaluateCode({ problems: set.problems, samples: major, rerank: 'majority', workers: WORKERS }),
    ]);
    expect(a.results.pass_at_1).toBe(0.5);
    expect(a.problems.map((p) => p.reranked?.index)).toEqual(set.problems.map(() => 1));
    expect(a.results.reranked_pass_at_1).toBe(1);
    expect(b.problems.map((p) => p.reranked?.index)).toEqual(set.problems.map(() => 2));
    expect(b.results.reranked_pass_at_1).toBe(1);
  });

  it('tests of bare asserts (no check function, HumanEval format) and MBPP test lists: judged and reranked', async () => {
    const rec = { task_id: 'bare/0', prompt: 'def double(x):\n    """Twice x."""\n', entry_point: 'double', canonical_solution: '    return 2 * x\n', test: 'assert double(3) == 6\nassert double(0) == 0\nassert double(-2) == -4\n' };
    const [bare] = parseCodeProblems(JSON.stringify(rec));
    expect(bare!.testProgram).not.toContain('check(');
    const mbpp = readCodeProblems(join(FIXTURES, 'mbpp-style.jsonl'));
    const samples = [
      sample('bare/0', '    return x + 2\n'), sample('bare/0', '    return x * 2\n'),
      ...mbpp.flatMap((p) => [sample(p.taskId, `def ${p.entryPoint}(*args):\n    return None\n`), canonical(p)]),
    ];
    const r = await evaluateCode({ problems: [bare!, ...mbpp], samples, rerank: 'execution', workers: WORKERS });
    expect(r.problems.map((p) => p.samples.map((s) => s.status))).toEqual([['failed', 'passed'], ['failed', 'passed'], ['failed', 'passed'], ['failed', 'passed']]);
    expect(r.problems.map((p) => p.reranked?.index)).toEqual([1, 1, 1, 1]);
    expect(r.results.reranked_pass_at_1).toBe(1);
  });
});

describe('logprob reranking needs log-probabilities', () => {
  it('samples without mean_logprob: an error before anything runs, never a silent pick of the first', async () => {
    const p = problems[0]!;
    const none = [wrong[0]!, canonical(p)];
    await expect(evaluateCode({ problems: [p], samples: none, rerank: 'logprob', workers: 1 })).rejects.toThrow(/rerank logprob needs a mean_logprob on every sample: 2 of 2 have none \(first: AprCode\/0\)/);
    const some = [{ ...wrong[0]!, meanLogprob: -2 }, canonical(p)];
    await expect(evaluateCode({ problems: [p], samples: some, rerank: 'logprob', workers: 1 })).rejects.toThrow(/1 of 2 have none/);
    const all = [{ ...wrong[0]!, meanLogprob: -2 }, { ...canonical(p), meanLogprob: -1 }];
    const r = await evaluateCode({ problems: [p], samples: all, rerank: 'logprob', workers: 1 });
    expect(r.problems[0]?.reranked).toEqual({ index: 1, passed: true });
  });
});

const ALWAYS_EQUAL = 'class _Yes:\n    def __eq__(self, other):\n        return True\n    def __ne__(self, other):\n        return False\n    __hash__ = object.__hash__\n';

describe('the judge compares with the reference solution, type included (evalplus)', () => {
  it('an always-equal object fails every problem that has a reference; the canonical solution still passes', async () => {
    const set = problems.slice(0, 6);
    const mbpp = readCodeProblems(join(FIXTURES, 'mbpp-style.jsonl'));
    const cheat = (p: CodeProblem): CompletionSample => sample(p.taskId, `${ALWAYS_EQUAL}\ndef ${p.entryPoint}(*args, **kwargs):\n    return _Yes()\n`);
    const inList = (p: CodeProblem): CompletionSample => sample(p.taskId, `${ALWAYS_EQUAL}\ndef ${p.entryPoint}(*args, **kwargs):\n    return [_Yes()] * 3\n`);
    const intSub = (p: CodeProblem): CompletionSample => sample(p.taskId, `class _Int(int):\n    def __eq__(self, other):\n        return True\n    __hash__ = int.__hash__\n\ndef ${p.entryPoint}(*args, **kwargs):\n    return _Int(0)\n`);
    const all = [...set, ...mbpp];
    const r = await evaluateCode({ problems: all, samples: all.flatMap((p) => [cheat(p), inList(p), intSub(p), canonical(p)]), workers: WORKERS });
    for (const p of r.problems) {
      expect([p.task_id, ...p.samples.map((s) => s.status)]).toEqual([p.task_id, 'failed', 'failed', 'failed', 'passed']);
      expect(p.samples[0]?.detail).toMatch(/^ReferenceMismatch: .*returned _Yes, the reference returned \w+/);
    }
  });

  it('float results within the tolerance pass; an int equal to a float result passes; a far float fails', async () => {
    const rec = {
      task_id: 'float/0', prompt: 'def mean(xs):\n    """The mean of xs."""\n', entry_point: 'mean', canonical_solution: '    return sum(xs) / len(xs)\n',
      test: 'def check(fn):\n    assert abs(fn([0.1, 0.2, 0.3]) - 0.2) < 1e-2\n    assert fn([2.0, 4.0]) == 3.0\n',
    };
    const [p] = parseCodeProblems(JSON.stringify(rec));
    const samples = [
      sample('float/0', '    import math\n    return math.fsum(xs) / len(xs)\n'),
      sample('float/0', '    s = sum(xs) / len(xs)\n    return int(s) if s == int(s) else s\n'),
      sample('float/0', '    return sum(xs) / len(xs) + (0.001 if len(xs) == 3 else 0)\n'),
      sample('float/0', '    return [sum(xs) / len(xs)][0]\n'),
    ];
    const r = await evaluateCode({ problems: [p!], samples, workers: WORKERS });
    expect(r.problems[0]?.samples.map((s) => s.status)).toEqual(['passed', 'passed', 'failed', 'passed']);
    expect(r.problems[0]?.samples[2]?.detail).toMatch(/^ReferenceMismatch: mean\(\[0\.1, 0\.2, 0\.3\]\) returned 0\.201/);
  });

  it('without a reference solution the tests alone judge (nothing to compare with)', async () => {
    const p = { ...problems[0]!, canonicalSolution: null };
    const r = await evaluateCode({ problems: [p], samples: [sample(p.taskId, `${ALWAYS_EQUAL}\ndef fizz_word(n):\n    return _Yes()\n`)], workers: 1 });
    expect(r.problems[0]?.samples[0]?.status).toBe('passed');
  });
});

import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportError } from '../../src/cli/output.js';
import { extractAsserts } from '../../src/eval/code/asserts.js';
import { buildPrompt } from '../../src/eval/code/prompt.js';
import { extractCode, postProcessCompletion, sanitizeModule, truncateBody } from '../../src/eval/code/postprocess.js';
import { FormatError } from '../../src/formats/errors.js';
import { parseCodeProblems, parseCompletionSamples, readCodeProblems, readCompletionSamples } from '../../src/ops/eval-code.js';
import { FIXTURES } from './eval-code-helpers.js';

describe('problem readers', () => {
  it('reads the HumanEval-format fixture: 24 problems with their asserts', () => {
    const problems = readCodeProblems(join(FIXTURES, 'problems.jsonl'));
    expect(problems).toHaveLength(24);
    const p0 = problems[0]!;
    expect(p0.taskId).toBe('AprCode/0');
    expect(p0.format).toBe('humaneval');
    expect(p0.entryPoint).toBe('fizz_word');
    expect(p0.asserts).toEqual(['assert candidate(15) == "FizzBuzz"', 'assert candidate(9) == "Fizz"', 'assert candidate(10) == "Buzz"', 'assert candidate(7) == "7"', 'assert candidate(30) == "FizzBuzz"']);
    expect(p0.testProgram.endsWith('check(fizz_word)\n')).toBe(true);
    expect(problems.every((p) => p.asserts.length >= 3 && p.canonicalSolution !== null)).toBe(true);
  });

  it('reads MBPP-format problems: entry point from the tests, setup code, the paper prompt', () => {
    const problems = readCodeProblems(join(FIXTURES, 'mbpp-style.jsonl'));
    expect(problems.map((p) => [p.taskId, p.format, p.entryPoint])).toEqual([
      ['901', 'mbpp', 'list_product'],
      ['902', 'mbpp', 'shared_chars'],
      ['903', 'mbpp', 'scale_all'],
    ]);
    expect(problems[2]!.setup).toBe('FACTOR = 3');
    expect(problems[0]!.prompt).toBe('You are an expert Python programmer, and here is your task: Write a function to return the product of all numbers in a list (1 for an empty list). Your code should pass these tests:\n\nassert list_product([2, 3, 4]) == 24\nassert list_product([]) == 1\nassert list_product([-1, 5]) == -5\n');
  });

  it('names the file, line and field of a malformed problem', () => {
    const good = JSON.stringify({ task_id: 'a', prompt: 'def f():\n', entry_point: 'f', test: 'def check(c):\n    assert c() == 1\n' });
    expect(() => parseCodeProblems(`${good}\n{oops\n`, 'p.jsonl')).toThrow(/^p\.jsonl: line 2: not valid JSON/);
    expect(() => parseCodeProblems(JSON.stringify({ task_id: 'a', prompt: 'x', test: 't' }), 'p.jsonl')).toThrow('p.jsonl: line 1: entry_point: expected a string, got nothing (missing)');
    expect(() => parseCodeProblems(`${good}\n\n${good}`, 'p.jsonl')).toThrow('p.jsonl: line 3: task_id: duplicate of line 1');
    expect(() => parseCodeProblems('[1]', 'p.jsonl')).toThrow('p.jsonl: line 1: expected a JSON object');
  });
});

describe('samples reader (--samples, evalplus style)', () => {
  const problems = readCodeProblems(join(FIXTURES, 'problems.jsonl')).slice(0, 2);
  const line = (o: object): string => JSON.stringify(o);

  it('reads completion and solution lines with optional mean_logprob', () => {
    const text = [line({ task_id: 'AprCode/0', completion: '    return 1\n', mean_logprob: -0.25 }), line({ task_id: 'AprCode/1', solution: 'def count_vowels(s):\n    return 0\n' })].join('\n');
    const samples = parseCompletionSamples(text, problems, 's.jsonl');
    expect(samples).toEqual([
      { taskId: 'AprCode/0', completion: '    return 1\n', meanLogprob: -0.25 },
      { taskId: 'AprCode/1', completion: 'def count_vowels(s):\n    return 0\n', meanLogprob: null },
    ]);
  });

  it('a malformed line is a one-line error naming file and line, mapped to exit code 3', () => {
    const text = `${line({ task_id: 'AprCode/0', completion: 'x' })}\n${line({ task_id: 'AprCode/1', completion: 'y' })}\n{"task_id": "AprCode/1", "completion": \n`;
    let err: unknown;
    try {
      parseCompletionSamples(text, problems, 'samples.jsonl');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FormatError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/^samples\.jsonl: line 3: not valid JSON \(/);
    expect(msg).not.toContain('\n');
    const original = process.stderr.write.bind(process.stderr);
    let printed = '';
    process.stderr.write = ((s: string) => ((printed += s), true));
    try {
      expect(reportError('apr', err)).toBe(3);
    } finally {
      process.stderr.write = original;
    }
    expect(printed).toBe(`apr: error: ${msg}\n`);
  });

  it('rejects unknown task ids, missing completions and problems without samples', () => {
    expect(() => parseCompletionSamples(line({ task_id: 'Nope/1', completion: 'x' }), problems, 's.jsonl')).toThrow("s.jsonl: line 1: task_id: 'Nope/1' is not a problem of the data set");
    expect(() => parseCompletionSamples(line({ task_id: 'AprCode/0', completion: 5 }), problems, 's.jsonl')).toThrow('s.jsonl: line 1: completion: expected a string, got number');
    expect(() => parseCompletionSamples(line({ task_id: 'AprCode/0', completion: 'x' }), problems, 's.jsonl')).toThrow('s.jsonl: task_id: no samples for 1 problem(s) of the data set: AprCode/1');
  });

  it('reads the wrong-completion fixture for every problem', () => {
    const all = readCodeProblems(join(FIXTURES, 'problems.jsonl'));
    expect(readCompletionSamples(join(FIXTURES, 'wrong.jsonl'), all)).toHaveLength(24);
    expect(() => readCompletionSamples(join(FIXTURES, 'missing.jsonl'), all)).toThrow(/missing\.jsonl: file: cannot read \(ENOENT\)/);
  });
});

describe('completion post-processing', () => {
  const [fizz] = readCodeProblems(join(FIXTURES, 'problems.jsonl'));

  it('cuts a continuation at the end of the function (first top-level line)', () => {
    expect(truncateBody('    return 1\n\n\ndef other():\n    pass\n')).toBe('    return 1\n');
    expect(truncateBody('    x = 1\n\n    return x\nif __name__ == "__main__":\n    print(1)\n')).toBe('    x = 1\n\n    return x\n');
    expect(truncateBody('    return 2\nprint(f())')).toBe('    return 2\n');
    expect(truncateBody('    return 3')).toBe('    return 3\n');
  });

  it('takes the first fenced block of a chat-style answer', () => {
    expect(extractCode('Here:\n```python\ndef f():\n    return 1\n```\nDone.')).toBe('def f():\n    return 1\n');
    expect(extractCode('no fence')).toBe('no fence');
  });

  it('keeps definitions and imports of whole code, drops demo statements', () => {
    expect(sanitizeModule('import math\n\ndef f(x):\n    return x\n\nprint(f(1))\nassert f(1) == 1\nif __name__ == "__main__":\n    f(2)\n\ndef g():\n    return 2\n')).toBe('import math\n\ndef f(x):\n    return x\n\ndef g():\n    return 2\n');
  });

  it('detects a completion that restates the function', () => {
    expect(postProcessCompletion(fizz!, '    return "x"\n\ndef junk(): pass').mode).toBe('continuation');
    const full = postProcessCompletion(fizz!, '```python\ndef fizz_word(n):\n    return str(n)\nprint(1)\n```');
    expect(full).toEqual({ mode: 'full', code: 'def fizz_word(n):\n    return str(n)\n' });
  });

  it('extracts multi-line asserts, skipping brackets inside strings', () => {
    const test = 'def check(candidate):\n    assert candidate([1,\n        2]) == [\n        3]\n    assert candidate(")(") == "("  # comment (\n    x = 1\n    assert True\n';
    expect(extractAsserts(test)).toEqual(['assert candidate([1, 2]) == [ 3]', 'assert candidate(")(") == "("  # comment (', 'assert True']);
  });
});

describe('prompt strategies', () => {
  const [a, b] = readCodeProblems(join(FIXTURES, 'problems.jsonl'));
  it('standard is the prompt; scot adds a plan comment inside the body; few-shot prefixes solved exemplars', () => {
    expect(buildPrompt(a!, 'standard')).toBe(a!.prompt);
    expect(buildPrompt(a!, 'scot')).toBe(`${a!.prompt}    # Plan the solution with program structures (sequence, branch, loop) as comments first, then write the code.\n`);
    const few = buildPrompt(a!, 'few-shot', [a!, b!]);
    expect(few).toBe(`${b!.prompt}${b!.canonicalSolution!.trimEnd()}\n\n\n${a!.prompt}`);
  });
});

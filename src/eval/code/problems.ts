import { FormatError } from '../../formats/errors.js';
import { extractAsserts } from './asserts.js';
import { type JsonlRecord, parseJsonl, readJsonl, RecordFields } from './jsonl.js';
import type { CodeProblem } from './types.js';

/**
 * HumanEval's harness runs `test` then `check(entry_point)`; a test of bare asserts (MBPP style, no check
 * function) calls the entry point itself and runs as it is.
 */
function testProgramOf(test: string, entryPoint: string): string {
  return /^(?:async\s+)?def\s+check\s*\(/m.test(test) ? `${test}\n\ncheck(${entryPoint})\n` : `${test}\n`;
}

function humanEval(f: RecordFields): CodeProblem {
  const entryPoint = f.string('entry_point');
  if (!/^[A-Za-z_]\w*$/.test(entryPoint)) f.fail('entry_point', 'expected a Python identifier');
  const test = f.string('test');
  return {
    taskId: f.id('task_id'),
    format: 'humaneval',
    prompt: f.string('prompt'),
    entryPoint,
    canonicalSolution: f.optionalString('canonical_solution'),
    setup: '',
    testProgram: testProgramOf(test, entryPoint),
    asserts: extractAsserts(test),
  };
}

const NOT_ENTRY = new Set(['assert', 'set', 'sorted', 'list', 'tuple', 'dict', 'frozenset', 'abs', 'round', 'len', 'str', 'int', 'float', 'bool', 'all', 'any', 'sum', 'min', 'max', 'isinstance', 'type', 'repr']);

/** The function an MBPP test calls: the first called name that is not a builtin or attribute. */
function mbppEntryPoint(test: string, code: string | null): string | null {
  const defined = new Set([...(code ?? '').matchAll(/^def\s+([A-Za-z_]\w*)/gm)].map((m) => m[1]));
  const called = [...test.matchAll(/(?<![.\w])([A-Za-z_]\w*)\s*\(/g)].map((m) => m[1] ?? '').filter((n) => !NOT_ENTRY.has(n));
  return called.find((n) => defined.has(n)) ?? called[0] ?? null;
}

/** The prompt of the MBPP paper (Austin et al. 2021): the task text followed by its three tests. */
export function mbppPrompt(text: string, tests: readonly string[]): string {
  return `You are an expert Python programmer, and here is your task: ${text} Your code should pass these tests:\n\n${tests.join('\n')}\n`;
}

function mbpp(f: RecordFields): CodeProblem {
  const tests = f.stringArray('test_list');
  if (tests.length === 0) f.fail('test_list', 'expected at least one test');
  const code = f.optionalString('code');
  const entryPoint = mbppEntryPoint(tests[0] ?? '', code);
  if (entryPoint === null) f.fail('test_list', 'cannot find the function the first test calls');
  return {
    taskId: f.id('task_id'),
    format: 'mbpp',
    prompt: mbppPrompt(f.string('text'), tests),
    entryPoint,
    canonicalSolution: code,
    setup: f.optionalString('test_setup_code') ?? '',
    testProgram: `${tests.join('\n')}\n`,
    asserts: tests.flatMap((t) => extractAsserts(t)),
  };
}

function toProblems(records: readonly JsonlRecord[], file: string): CodeProblem[] {
  const seen = new Map<string, number>();
  return records.map((rec) => {
    const f = new RecordFields(file, rec);
    const problem = f.has('test_list') ? mbpp(f) : f.has('entry_point') || f.has('prompt') ? humanEval(f) : f.fail('entry_point', 'expected a HumanEval (prompt, entry_point, test) or MBPP (text, test_list) record');
    const earlier = seen.get(problem.taskId);
    if (earlier !== undefined) f.fail('task_id', `duplicate of line ${earlier}`);
    seen.set(problem.taskId, rec.line);
    return problem;
  });
}

/** Parses HumanEval- or MBPP-format JSON Lines (each line decides its own format). */
export function parseCodeProblems(text: string, file = '<problems>'): CodeProblem[] {
  const problems = toProblems(parseJsonl(text, file), file);
  if (problems.length === 0) throw new FormatError(file, 'file', 'no problems');
  return problems;
}

export function readCodeProblems(path: string): CodeProblem[] {
  const problems = toProblems(readJsonl(path), path);
  if (problems.length === 0) throw new FormatError(path, 'file', 'no problems');
  return problems;
}

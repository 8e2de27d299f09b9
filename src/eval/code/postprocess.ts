import type { SandboxJob } from '../sandbox/types.js';
import type { CodeProblem } from './types.js';

/** The Codex paper's stop sequences for continuing a HumanEval prompt (plus a closing code fence). */
export const HUMANEVAL_STOP: readonly string[] = ['\nclass ', '\ndef ', '\n#', '\nif ', '\nprint(', '\nassert ', '\n```'];

/** The first fenced code block's content when the text has one (chat-style answers), else the text. */
export function extractCode(text: string): string {
  const m = /```[ \t]*(?:python3?|py)?[ \t]*\n([\s\S]*?)(?:```|$)/i.exec(text);
  return m ? (m[1] ?? '') : text;
}

const isTopLevel = (line: string): boolean => line.trim() !== '' && !/^\s/.test(line);

/**
 * A continuation of a function body ends at the first non-blank line at column 0: that line starts the
 * next top-level statement (the rule behind the Codex stop sequences `\ndef`, `\nclass`, `\nif`, ...).
 */
export function truncateBody(text: string): string {
  const lines = text.split('\n');
  const end = lines.findIndex(isTopLevel);
  return (end < 0 ? lines : lines.slice(0, end)).join('\n').replace(/\s+$/, '') + '\n';
}

const KEEP_TOP = /^(def |async def |class |import |from |@|#)/;

/**
 * Whole code keeps only top-level definitions and imports with their bodies, dropping demo statements
 * (`print(...)`, `assert ...`, `if __name__ == ...`) as evalplus's sanitizer does.
 */
export function sanitizeModule(text: string): string {
  const kept: string[] = [];
  let keeping = true;
  for (const line of text.split('\n')) {
    if (isTopLevel(line)) keeping = KEEP_TOP.test(line);
    if (keeping) kept.push(line);
  }
  return kept.join('\n').replace(/\s+$/, '') + '\n';
}

export interface ProcessedCompletion {
  /** `continuation`: the text continues the prompt; `full`: the text defines the function itself. */
  mode: 'continuation' | 'full';
  code: string;
}

const definesEntry = (problem: CodeProblem, text: string): boolean => new RegExp(`^(?:async\\s+)?def\\s+${problem.entryPoint}\\s*\\(`, 'm').test(text);

/** Cleans a raw completion the way the HumanEval/evalplus harnesses do before running it. */
export function postProcessCompletion(problem: CodeProblem, raw: string): ProcessedCompletion {
  const text = extractCode(raw);
  if (problem.format === 'mbpp' || definesEntry(problem, text)) return { mode: 'full', code: sanitizeModule(text) };
  return { mode: 'continuation', code: truncateBody(text) };
}

/** The program of one cleaned completion: a whole function is appended after the prompt (see buildJob). */
function programOf(problem: CodeProblem, completion: ProcessedCompletion): string {
  if (problem.format === 'mbpp') return `${problem.setup}\n${completion.code}`;
  return completion.mode === 'continuation' ? problem.prompt + completion.code : `${problem.prompt}\n    pass\n\n${completion.code}`;
}

/**
 * The sandbox job of one completion. A whole function is appended after the prompt (which stays valid
 * Python: its stub keeps the imports and helpers the prompt defines, and the completion redefines the stub).
 * The problem's reference solution goes with it, as written (trusted: not cut or sanitized), for the judge.
 */
export function buildJob(problem: CodeProblem, completion: ProcessedCompletion, visibleTests: readonly string[]): SandboxJob {
  return { program: programOf(problem, completion), visibleTests, testProgram: problem.testProgram, entryPoint: problem.entryPoint, reference: referenceProgram(problem) };
}

function referenceProgram(problem: CodeProblem): string {
  const ref = problem.canonicalSolution;
  if (ref === null || ref.trim() === '') return '';
  return programOf(problem, { mode: problem.format === 'humaneval' && !definesEntry(problem, ref) ? 'continuation' : 'full', code: ref });
}

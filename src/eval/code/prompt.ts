import type { CodeProblem, PromptStrategy } from './types.js';

/**
 * Structured chain-of-thought (Li et al. 2023, SCoT): the model first writes the solution's plan with the
 * three program structures as comments, then the code. Written as comments so the continuation stays Python.
 */
const SCOT_BODY = '    # Plan the solution with program structures (sequence, branch, loop) as comments first, then write the code.\n';
const SCOT_MODULE = '# Plan the solution with program structures (sequence, branch, loop) as comments first, then write the function.\n';

function exemplarText(e: CodeProblem): string {
  if (e.canonicalSolution === null) return '';
  return e.format === 'mbpp' ? `${e.prompt}${e.canonicalSolution.trim()}\n` : `${e.prompt}${e.canonicalSolution.replace(/\s+$/, '')}\n`;
}

/** The prompt given to the model for one problem under a strategy; few-shot uses exemplars' reference solutions. */
export function buildPrompt(problem: CodeProblem, strategy: PromptStrategy, exemplars: readonly CodeProblem[] = []): string {
  switch (strategy) {
    case 'standard':
      return problem.prompt;
    case 'scot':
      return problem.prompt + (problem.format === 'mbpp' ? SCOT_MODULE : SCOT_BODY);
    case 'few-shot': {
      const shots = exemplars.filter((e) => e.taskId !== problem.taskId).map(exemplarText).filter((t) => t !== '');
      return shots.length === 0 ? problem.prompt : `${shots.join('\n\n')}\n\n${problem.prompt}`;
    }
  }
}

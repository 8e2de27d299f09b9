/** A code problem, normalised from HumanEval (`task_id, prompt, entry_point, canonical_solution, test`) or MBPP. */
export interface CodeProblem {
  taskId: string;
  format: 'humaneval' | 'mbpp';
  /** What the model sees: HumanEval's signature and docstring; MBPP's task text with its tests. */
  prompt: string;
  entryPoint: string;
  /** HumanEval: the function body continuing the prompt; MBPP: the whole reference code. */
  canonicalSolution: string | null;
  /** Code run before the candidate (MBPP `test_setup_code`); '' for HumanEval. */
  setup: string;
  /** The hidden test program run after the candidate (HumanEval: `test` + `check(entry_point)`, or bare asserts as given). */
  testProgram: string;
  /** Every single assert statement of the tests, in order (the pool the visible tests come from). */
  asserts: string[];
}

/** One completion made elsewhere (`--samples`, evalplus style). */
export interface CompletionSample {
  taskId: string;
  /** HumanEval: continuation of the prompt, or a whole function; MBPP: whole code. */
  completion: string;
  meanLogprob: number | null;
}

/** What a completion source is asked for. The lead wires the model's sampler to this. */
export interface GenerationRequest {
  /** The prompt after the prompt strategy (standard, scot, few-shot) was applied. */
  prompt: string;
  temperature: number;
  topP: number;
  seed: number;
  /** Stop sequences at which a continuation of a HumanEval prompt should end (the Codex set). */
  stop: readonly string[];
}

export interface GeneratedCompletion {
  text: string;
  /** Mean log-probability of the generated tokens, null when the source cannot give it. */
  meanLogprob: number | null;
}

/** Produces n completions of one problem (the model/generation layer implements it). */
export type CompletionSource = (problem: CodeProblem, n: number, request: GenerationRequest) => Promise<GeneratedCompletion[]>;

export type PromptStrategy = 'standard' | 'scot' | 'few-shot';
export type Reranker = 'none' | 'logprob' | 'majority' | 'execution';

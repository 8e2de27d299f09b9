import { resolve } from 'node:path';
import type { CodeProblem, CompletionSample, SampleExecutor } from '../../src/ops/eval-code.js';
import type { SandboxResult, SandboxStatus, VisibleOutcome } from '../../src/eval/sandbox/index.js';

export const FIXTURES = resolve(process.cwd(), 'test/fixtures/code-problems');

/** A scripted outcome for the fake executor. */
export interface Scripted {
  status: SandboxStatus;
  visible?: VisibleOutcome[] | null;
}

/**
 * An executor that starts no process: each completion carries `#SAMPLE <key>` and the outcome is looked up in
 * `table` (so scoring can be tested on outcome tables of any size, quickly).
 */
export function scriptedExecutor(table: ReadonlyMap<string, Scripted>): SampleExecutor {
  return (job) => {
    const key = /#SAMPLE (\S+)/.exec(job.program)?.[1] ?? '';
    const s = table.get(key);
    if (!s) return Promise.reject(new Error(`no scripted outcome for ${key}`));
    const r: SandboxResult = { status: s.status, detail: '', visible: s.visible ?? null, layers: {}, stdout: '', stderr: '', durationMs: 0 };
    return Promise.resolve(r);
  };
}

/** A minimal HumanEval-format problem (no process ever runs it under the scripted executor). */
export function stubProblem(taskId: string): CodeProblem {
  return { taskId, format: 'humaneval', prompt: 'def f():\n    """stub"""\n', entryPoint: 'f', canonicalSolution: null, setup: '', testProgram: 'check(f)\n', asserts: ['assert candidate() == 1'] };
}

export function scriptedSample(taskId: string, key: string, meanLogprob: number | null = null): CompletionSample {
  return { taskId, completion: `    return 1  #SAMPLE ${key}\n`, meanLogprob };
}

/** Exact 1 − C(n−c,k)/C(n,k) with BigInt binomials (the definition, independent of the stable form). */
export function exactPassAtK(n: number, c: number, k: number): number {
  const binom = (a: number, b: number): bigint => {
    if (b < 0 || b > a) return 0n;
    let r = 1n;
    for (let i = 1; i <= b; i++) r = (r * BigInt(a - b + i)) / BigInt(i);
    return r;
  };
  const num = binom(n - c, k);
  const den = binom(n, k);
  return Number(((den - num) << 60n) / den) / 2 ** 60;
}

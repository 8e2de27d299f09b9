import { availableParallelism } from 'node:os';
import { detectIsolation } from './isolation.js';
import { mapLimit } from './pool.js';
import { spawnSandbox } from './process.js';
import { DEFAULT_LIMITS, type SandboxJob, type SandboxLimits, type SandboxPolicy, type SandboxResult } from './types.js';

export interface SandboxOptions {
  limits?: Partial<SandboxLimits>;
  policy?: SandboxPolicy;
  /** Interpreter to prefer (else APR_PYTHON, then python3 on PATH, then /usr/bin/python3). */
  python?: string;
}

/** Runs one sample in its own sandboxed process (see HARNESS_PY and SandboxPolicy for the layers). */
export async function runInSandbox(job: SandboxJob, options: SandboxOptions = {}): Promise<SandboxResult> {
  const iso = await detectIsolation(options.python);
  return spawnSandbox(job, { ...DEFAULT_LIMITS, ...options.limits }, iso, options.policy ?? {});
}

export function defaultWorkers(): number {
  return Math.max(1, Math.min(8, availableParallelism()));
}

/** Runs many samples, `workers` processes at a time; results keep the input order. */
export function runManyInSandbox(jobs: readonly SandboxJob[], workers = defaultWorkers(), options: SandboxOptions = {}): Promise<SandboxResult[]> {
  return mapLimit(jobs, workers, (job) => runInSandbox(job, options));
}

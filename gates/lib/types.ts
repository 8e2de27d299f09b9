import { z } from 'zod';
import type { ProjectContext } from './context.js';

export type Status = 'pass' | 'warn' | 'fail' | 'skip';
export type Severity = 'error' | 'warning';
export type Level = 'warn' | 'fail';

/** One fact a check found; `file` is project-relative (POSIX) when the fact is about a file. */
export interface Finding {
  level: Level;
  message: string;
  file?: string;
  line?: number;
}

/** What a check returns: a one-line summary of what it measured, and the findings. */
export interface Outcome {
  summary: string;
  findings: Finding[];
  /** Set when the check could not run here; the summary says why. */
  skipped?: boolean;
}

/** A check with its thresholds schema hidden, so the registry can hold checks of different shapes. */
export interface Check {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly severity: Severity;
  /** Runs an external tool (tsc, eslint, vitest, pv): started first and run alongside the others. */
  readonly slow: boolean;
  /** Runs after every other check (it reads what the others did). */
  readonly last: boolean;
  /** Names the first invalid field of configured thresholds, else undefined. */
  validateThresholds(raw: unknown): { field: string; message: string } | undefined;
  /** The effective thresholds (defaults merged with the configured ones). */
  thresholds(raw: unknown): unknown;
  execute(ctx: ProjectContext, raw: unknown): Promise<Outcome>;
}

export interface CheckSpec<S extends z.ZodObject> {
  id: string;
  name: string;
  description: string;
  severity?: Severity;
  slow?: boolean;
  last?: boolean;
  thresholds: S;
  run(ctx: ProjectContext, t: z.output<S>): Outcome | Promise<Outcome>;
}

export function defineCheck<S extends z.ZodObject>(spec: CheckSpec<S>): Check {
  const schema = spec.thresholds.strict();
  return {
    id: spec.id,
    name: spec.name,
    description: spec.description,
    severity: spec.severity ?? 'error',
    slow: spec.slow ?? false,
    last: spec.last ?? false,
    validateThresholds(raw: unknown): { field: string; message: string } | undefined {
      const r = schema.safeParse(raw ?? {});
      if (r.success) return undefined;
      const issue = r.error.issues[0];
      return { field: issue?.path.join('.') ?? '', message: issue?.message ?? 'invalid' };
    },
    thresholds(raw: unknown): unknown {
      return schema.parse(raw ?? {});
    },
    async execute(ctx: ProjectContext, raw: unknown): Promise<Outcome> {
      return spec.run(ctx, schema.parse(raw ?? {}) as z.output<S>);
    },
  };
}

export function skip(reason: string): Outcome {
  return { summary: reason, findings: [], skipped: true };
}

export function outcome(summary: string, findings: Finding[] = []): Outcome {
  return { summary, findings };
}

/** Classifies a measured value against warn/fail limits where larger is worse. */
export function levelAbove(value: number, warn: number, fail: number): Level | undefined {
  if (value > fail) return 'fail';
  if (value > warn) return 'warn';
  return undefined;
}

/** Classifies a measured value against warn/fail limits where smaller is worse. */
export function levelBelow(value: number, warn: number, fail: number): Level | undefined {
  if (value < fail) return 'fail';
  if (value < warn) return 'warn';
  return undefined;
}

export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

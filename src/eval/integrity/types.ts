import type { CheckContext } from './context.js';

/** SKIP: the stage was not run because the caller asked so (`--no-forward`); it is left out of the score. */
export type StageStatus = 'PASS' | 'WARN' | 'FAIL' | 'SKIP';

export interface StageOutcome {
  status: StageStatus;
  details: string;
  /** Figures a script may want (per-tensor statistics, measured deviations). */
  data?: Record<string, unknown>;
}

export interface StageResult extends StageOutcome {
  id: number;
  name: string;
  ms: number;
}

export interface CheckReport {
  model: string;
  format: string;
  architecture: string;
  stages: StageResult[];
  /** Stages that passed (PASS or WARN). */
  passed: number;
  /** Stages run (SKIP excluded). */
  total: number;
  /** round(100 · (PASS + ½ WARN) / total). */
  score: number;
  /** No stage failed. */
  all_passed: boolean;
}

export interface Stage {
  id: number;
  name: string;
  run(ctx: CheckContext): StageOutcome;
}

/** At most this many messages of one kind are printed; the rest are counted. */
const MAX_LISTED = 6;

function list(items: readonly string[]): string {
  const shown = items.slice(0, MAX_LISTED).join('; ');
  return items.length > MAX_LISTED ? `${shown}; (+${items.length - MAX_LISTED} more)` : shown;
}

/** Collects a stage's faults, warnings and notes and turns them into one outcome. */
export class Findings {
  readonly fails: string[] = [];
  readonly warns: string[] = [];
  readonly notes: string[] = [];

  fail(message: string): void {
    this.fails.push(message);
  }

  warn(message: string): void {
    this.warns.push(message);
  }

  note(message: string): void {
    this.notes.push(message);
  }

  outcome(data?: Record<string, unknown>): StageOutcome {
    const status = this.fails.length > 0 ? 'FAIL' : this.warns.length > 0 ? 'WARN' : 'PASS';
    const parts = [this.fails, this.warns, this.notes].filter((p) => p.length > 0).map(list);
    return { status, details: parts.join('; '), ...(data ? { data } : {}) };
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

import { Presets, SingleBar } from 'cli-progress';
import { ContractViolation } from '../contract/index.js';
import { OutputPathError } from '../formats/atomic-write.js';
import { FormatError } from '../formats/errors.js';
import { PromptTooLongError } from '../model/generate.js';
import { BackendUnavailableError } from '../model/session.js';
import { EXIT } from './exit-codes.js';

/** A one-line user error with an exit code (never a stack trace). */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = EXIT.usage) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** `value` when it is one of `allowed`, else a usage error naming the flag and the choices. */
export function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  const hit = allowed.find((a) => a === value);
  if (hit === undefined) throw new CliError(`unknown ${flag} '${value}' (expected ${allowed.join(', ')})`);
  return hit;
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v), 2)}\n`);
}

/** Prints rows as an aligned text table on stdout. */
export function printTable(headers: readonly string[], rows: readonly (readonly (string | number)[])[]): void {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_h, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  process.stdout.write(`${line(headers)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
  for (const r of cells.slice(1)) process.stdout.write(`${line(r)}\n`);
}

export function warn(message: string): void {
  process.stderr.write(`warning: ${message}\n`);
}

export interface Progress {
  tick(n?: number): void;
  stop(): void;
}

/** A progress bar on stderr, only when stderr is a TTY and not --quiet. */
export function progress(label: string, total: number, quiet = false): Progress {
  if (quiet || !process.stderr.isTTY || total <= 0) return { tick: () => undefined, stop: () => undefined };
  const bar = new SingleBar({ format: `${label} [{bar}] {percentage}% {value}/{total} {eta_formatted}`, stream: process.stderr, hideCursor: true }, Presets.shades_classic);
  bar.start(total, 0);
  return { tick: (n = 1) => bar.increment(n), stop: () => bar.stop() };
}

/** The exit code of an error reported as one line with its own message (no stack), if it is one. */
function knownExitCode(err: unknown): number | undefined {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof OutputPathError || err instanceof PromptTooLongError || err instanceof BackendUnavailableError) return EXIT.usage;
  if (err instanceof FormatError) return EXIT.badInput;
  if (err instanceof ContractViolation) return EXIT.contract;
  return undefined;
}

/** Maps any error to a one-line message on stderr and an exit code. */
export function reportError(tool: string, err: unknown): number {
  const known = knownExitCode(err);
  if (known !== undefined && err instanceof Error) {
    process.stderr.write(`${tool}: error: ${err.message}\n`);
    return known;
  }
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e === 'object' && typeof e.code === 'string' && typeof e.path === 'string') {
    process.stderr.write(`${tool}: error: ${e.path}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}\n`);
    return EXIT.badInput;
  }
  process.stderr.write(`${tool}: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
  if (process.env['APR_DEBUG'] && err instanceof Error) process.stderr.write(`${err.stack ?? ''}\n`);
  return EXIT.internal;
}

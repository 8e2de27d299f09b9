import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { EXIT } from './exit-codes.js';
import { reportError } from './output.js';

/** The package root: the nearest folder above this module with package.json (works from src/ and dist/). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('package.json not found above the CLI module');
    dir = up;
  }
  return dir;
}

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** A commander program with one-line errors and exit code 2 for bad usage. */
export function createProgram(name: string, description: string): Command {
  const program = new Command(name);
  program
    .description(description)
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError(false)
    .configureOutput({ writeErr: (s) => process.stderr.write(`${name}: ${s.split('\n').find((l) => l.trim() !== '') ?? s}\n`) })
    .exitOverride();
  return program;
}

export function intOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`${name} must be an integer, got '${value}'`);
    return n;
  };
}

export function floatOption(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number, got '${value}'`);
    return n;
  };
}

/** Parses argv and runs; maps errors to exit codes. Never throws. */
export async function runProgram(tool: string, program: Command, argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return EXIT.ok;
      return EXIT.usage;
    }
    return reportError(tool, err);
  }
}

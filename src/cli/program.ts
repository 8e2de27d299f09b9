import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { checkOutputPath } from '../formats/atomic-write.js';
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

/** The first line of a commander message, with its "(Did you mean ...?)" hint on the same line. */
function oneLine(s: string): string {
  const lines = s.split('\n').filter((l) => l.trim() !== '');
  const first = lines[0] ?? s;
  const hint = lines.slice(1).find((l) => l.startsWith('(Did you mean'));
  return hint === undefined ? first : `${first} ${hint}`;
}

/** Option keys that name a file or folder a command writes (-o/--output, --plot). */
const OUTPUT_OPTIONS = ['output', 'plot'] as const;

/** Before any work: the folder each output goes into must exist (outputs never create the folders above them). */
function checkOutputOptions(_hooked: Command, action: Command): void {
  const opts = action.opts<Record<string, unknown>>();
  for (const key of OUTPUT_OPTIONS) {
    const value = opts[key];
    if (typeof value === 'string') checkOutputPath(value);
  }
}

/** A commander program with one-line errors and exit code 2 for bad usage. */
export function createProgram(name: string, description: string): Command {
  const program = new Command(name);
  program
    .description(description)
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError(false)
    .configureOutput({ writeErr: (s) => process.stderr.write(`${name}: ${oneLine(s)}\n`) })
    .exitOverride()
    .hook('preAction', checkOutputOptions);
  return program;
}

/** The operand of `cmd` that names none of its subcommands (for `help <verb>`, the verb), if any. */
function unknownVerb(cmd: Command): string | undefined {
  const [first, second] = cmd.args;
  const verb = first === 'help' ? second : first;
  if (verb === undefined || verb.startsWith('-')) return undefined;
  return cmd.commands.some((c) => c.name() === verb || c.aliases().includes(verb)) ? undefined : verb;
}

/** Throws commander's unknown-command error (with its closest-verb suggestion) for `verb`. */
function failUnknownVerb(cmd: Command, verb: string): never {
  cmd.args = [verb];
  // commander's own unknownCommand() suggests the closest verb; it is not in its typings, so reach it by name
  const withSuggestion = cmd as unknown as { unknownCommand?: () => never };
  if (typeof withSuggestion.unknownCommand === 'function') withSuggestion.unknownCommand();
  return cmd.error(`error: unknown command '${verb}'`, { code: 'commander.unknownCommand' });
}

/**
 * Commander shows the parent's help for `<unknown verb> --help` (and `help <unknown verb>`) and exits 0; make
 * that the unknown-command usage error instead, for every command that has subcommands.
 */
function rejectUnknownVerbsOnHelp(cmd: Command): void {
  if (cmd.commands.length > 0) {
    cmd.on('beforeHelp', () => {
      const verb = unknownVerb(cmd);
      if (verb !== undefined) failUnknownVerb(cmd, verb);
    });
  }
  cmd.commands.forEach(rejectUnknownVerbsOnHelp);
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
  rejectUnknownVerbsOnHelp(program);
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

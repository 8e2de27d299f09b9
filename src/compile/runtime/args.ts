import { parseArgs } from 'node:util';
import { CliError } from '../../cli/output.js';
import type { RunOptions } from '../../ops/generate.js';

type Mode = 'run' | 'chat' | 'info' | 'check' | 'help' | 'version';

export interface ExeArgs {
  mode: Mode;
  prompt?: string;
  json: boolean;
  stream: boolean;
  /** CPU threads for matrix products (default: APR_THREADS, else min(cores, 8)). */
  threads?: number;
  sampling: Omit<RunOptions, 'prompt'>;
}

const OPTIONS = {
  prompt: { type: 'string', short: 'p' },
  'max-tokens': { type: 'string', short: 'n' },
  temperature: { type: 'string', short: 't' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repeat-penalty': { type: 'string' },
  seed: { type: 'string' },
  system: { type: 'string' },
  threads: { type: 'string' },
  json: { type: 'boolean' },
  stream: { type: 'boolean' },
  chat: { type: 'boolean' },
  info: { type: 'boolean' },
  check: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>['values'];

export function usage(name: string): string {
  return `Usage: ${name} [prompt] [options]

A language model and its runtime in one file (made by apr compile).

  ${name} "def fibonacci(n):"        complete a prompt (greedy unless --temperature > 0)
  ${name} --chat                     chat on stdin with the model's chat template (/exit, /reset)
  ${name} --chat "question"          one answer in the chat template
  ${name} --info                     architecture, parameters, quantization, provenance, weights digest
  ${name} --check                    the ten-stage integrity check on the embedded weights (exit 1 on failure)

Options:
  -p, --prompt <text>        the prompt (instead of the positional argument)
  -n, --max-tokens <n>       most tokens to generate (default 128)
  -t, --temperature <t>      sampling temperature; 0 = greedy (default 0)
      --top-k <k>            keep the k most likely tokens (0 = off)
      --top-p <p>            nucleus sampling
      --min-p <p>            drop tokens below p × the top probability
      --repeat-penalty <r>   repetition penalty (1 = off)
      --seed <n>             random seed (same seed, same output)
      --system <text>        system prompt (implies the chat template)
      --threads <n>          CPU threads for matrix products (default min(cores, 8))
      --stream               print tokens as they are generated
      --json                 machine-readable output (as apr run --json / apr check --json)
  -h, --help                 this help
  -V, --version              versions of the runtime and of apr
`;
}

function num(flag: string, value: string | undefined, integer: boolean): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || (integer && !Number.isSafeInteger(n))) {
    throw new CliError(`--${flag} must be ${integer ? 'an integer' : 'a number'}, got '${value}'`);
  }
  return n;
}

function sampling(v: Values): Omit<RunOptions, 'prompt'> {
  type NumberFlag = 'top-k' | 'top-p' | 'min-p' | 'repeat-penalty' | 'seed';
  const opt = (key: keyof RunOptions, flag: NumberFlag, integer: boolean): Partial<RunOptions> => {
    const n = num(flag, v[flag], integer);
    return n === undefined ? {} : { [key]: n };
  };
  return {
    maxTokens: num('max-tokens', v['max-tokens'], true) ?? 128,
    temperature: num('temperature', v.temperature, false) ?? 0,
    ...opt('topK', 'top-k', true),
    ...opt('topP', 'top-p', false),
    ...opt('minP', 'min-p', false),
    ...opt('repetitionPenalty', 'repeat-penalty', false),
    ...opt('seed', 'seed', true),
    ...(v.system !== undefined ? { system: v.system, chat: true } : {}),
  };
}

function modeOf(v: Values): Mode {
  const modes = (['help', 'version', 'info', 'check', 'chat'] as const).filter((m) => v[m]);
  if (modes.length > 1 && !modes.includes('help')) throw new CliError(`--${modes.join(' and --')} cannot be combined`);
  return modes[0] ?? 'run';
}

/** Parses the executable's arguments (after the executable's own path). */
export function parseExeArgs(argv: readonly string[]): ExeArgs {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError(err instanceof Error ? err.message.split('\n')[0] ?? err.message : String(err));
  }
  const v = parsed.values;
  if (parsed.positionals.length > 1) throw new CliError(`give one prompt (quote it), got ${parsed.positionals.length} arguments`);
  const prompt = v.prompt ?? parsed.positionals[0];
  const mode = modeOf(v);
  const threads = num('threads', v.threads, true);
  if (threads !== undefined && threads < 1) throw new CliError(`--threads must be ≥ 1, got ${threads}`);
  if (mode === 'run' && prompt === undefined) throw new CliError('give a prompt (positional or --prompt), or --chat, --info, --check, --help');
  return { mode, ...(prompt !== undefined ? { prompt } : {}), json: v.json ?? false, stream: v.stream ?? false, ...(threads !== undefined ? { threads } : {}), sampling: sampling(v) };
}

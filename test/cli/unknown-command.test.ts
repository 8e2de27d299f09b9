/**
 * An unknown subcommand is bad usage (exit 2, one line on stderr) whatever follows it, `--help` included;
 * commander would otherwise print the parent's help and exit 0 (`apr serve --help`). Real verbs keep their
 * help with exit 0. Same for pv and pmat (and pmat's nested `comply` group).
 */
import { describe, expect, it, vi } from 'vitest';
import { createAprProgram } from '../../src/cli/apr-program.js';
import { runProgram } from '../../src/cli/program.js';
import { type CliRun, runCli } from '../helpers.js';

/** The upstream apr-leaderboard spec's 19 subcommands (../shared/docs/upstream-spec-notes.md). */
const UPSTREAM_VERBS = ['import', 'run', 'serve', 'finetune', 'merge', 'prune', 'quantize', 'distill', 'eval', 'export', 'publish', 'check', 'compile', 'bench', 'chat', 'inspect', 'data', 'qa', 'compare-hf'];

function expectUnknown(r: CliRun, verb: string, what: string): void {
  expect(r.status, `${what}: ${r.stderr}`).toBe(2);
  expect(r.stdout, what).toBe('');
  const lines = r.stderr.trim().split('\n');
  expect(lines, what).toHaveLength(1);
  expect(lines[0], what).toContain(`unknown command '${verb}'`);
}

describe('unknown subcommands exit 2 with one line', () => {
  it('apr: with or without --help / -h, with other arguments, and through `apr help`', () => {
    const cases: [string, string[]][] = [
      ['nosuchverb', ['nosuchverb', '--help']],
      ['servr', ['servr', '--help']],
      ['servr', ['servr', '-h']],
      ['servr', ['servr', 'model.apr', '--port', '8080', '--help']],
      ['servr', ['servr', 'model.apr', '--port', '8080']],
      ['servr', ['servr']],
      ['nosuchverb', ['help', 'nosuchverb']],
    ];
    for (const [verb, args] of cases) expectUnknown(runCli('apr', args), verb, `apr ${args.join(' ')}`);
  });

  it("every one of upstream's 19 subcommands exists and its --help exits 0 with its own usage", async () => {
    const names = createAprProgram().commands.map((c) => c.name());
    expect(UPSTREAM_VERBS).toHaveLength(19);
    for (const verb of UPSTREAM_VERBS) expect(names, verb).toContain(verb);
    let out = '';
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    try {
      for (const verb of UPSTREAM_VERBS) {
        out = '';
        expect(await runProgram('apr', createAprProgram(), [verb, '--help']), verb).toBe(0);
        expect(out, verb).toMatch(new RegExp(`^Usage: apr ${verb} `));
      }
    } finally {
      write.mockRestore();
    }
  });

  it('apr suggests the closest verb on the same line', () => {
    for (const args of [['inspekt', '--help'], ['inspekt', 'model.apr']]) {
      const r = runCli('apr', args);
      expectUnknown(r, 'inspekt', args.join(' '));
      expect(r.stderr).toContain('(Did you mean inspect?)');
    }
  });

  it('apr --help and the help of real verbs still exit 0 on stdout', () => {
    for (const args of [['--help'], ['-h'], ['help'], ['inspect', '--help'], ['help', 'inspect'], ['run', '-h']]) {
      const r = runCli('apr', args);
      expect(r.status, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toMatch(/^Usage: apr/);
      expect(r.stderr, args.join(' ')).toBe('');
    }
  });

  it('pv and pmat: unknown verbs (also after a global option, and inside pmat comply) exit 2; real help exits 0', () => {
    expectUnknown(runCli('pv', ['nosuchverb', '--help']), 'nosuchverb', 'pv nosuchverb --help');
    expectUnknown(runCli('pv', ['-C', '.', 'serve', '--help']), 'serve', 'pv -C . serve --help');
    expectUnknown(runCli('pmat', ['nosuchverb', '--help']), 'nosuchverb', 'pmat nosuchverb --help');
    expectUnknown(runCli('pmat', ['comply', 'nosuchverb', '--help']), 'nosuchverb', 'pmat comply nosuchverb --help');
    expectUnknown(runCli('pmat', ['comply', 'nosuchverb']), 'nosuchverb', 'pmat comply nosuchverb');
    for (const [tool, args] of [['pv', ['--help']], ['pv', ['prove', '--help']], ['pmat', ['comply', 'check', '--help']], ['pmat', ['comply', '--help']]] as const) {
      const r = runCli(tool, [...args]);
      expect(r.status, `${tool} ${args.join(' ')}`).toBe(0);
      expect(r.stdout, `${tool} ${args.join(' ')}`).toMatch(new RegExp(`^Usage: ${tool}`));
    }
  });
});

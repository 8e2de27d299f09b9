import type { Command } from 'commander';
import { passAtK } from '../../ops/pass-at-k.js';
import { printJson, printTable } from '../output.js';
import { intOption } from '../program.js';

function parseKs(value: string): number[] {
  return value.split(',').map((s) => intOption('--k')(s.trim()));
}

export function registerPassAtK(program: Command): void {
  program
    .command('pass-at-k')
    .description('unbiased pass@k estimate (Chen et al. 2021) for n samples with c correct')
    .requiredOption('-n, --samples <n>', 'samples generated per problem', intOption('--samples'))
    .requiredOption('-c, --correct <c>', 'samples that passed', intOption('--correct'))
    .option('-k, --k <list>', 'comma-separated budgets k', parseKs, [1])
    .option('--json', 'print JSON')
    .action((opts: { samples: number; correct: number; k: number[]; json?: boolean }) => {
      const results = opts.k.map((k) => ({ k, pass_at_k: passAtK(opts.samples, opts.correct, k) }));
      if (opts.json) printJson({ n: opts.samples, c: opts.correct, results });
      else printTable(['k', 'pass@k'], results.map((r) => [r.k, r.pass_at_k.toFixed(6)]));
    });
}

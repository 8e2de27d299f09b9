import type { Command } from 'commander';
import { type CheckReport, checkModel } from '../../ops/check.js';
import { EXIT } from '../exit-codes.js';
import { CliError, printJson, printTable } from '../output.js';
import { intOption } from '../program.js';

function finalLine(r: CheckReport): string {
  const failed = r.stages.filter((s) => s.status === 'FAIL').map((s) => `${s.id} ${s.name}`);
  const verdict = r.all_passed ? 'all stages passed' : `FAILED: ${failed.join(', ')}`;
  return `${r.model} (${r.format}, ${r.architecture}): score ${r.score}/100, ${r.passed}/${r.total} stages passed; ${verdict}`;
}

function printReport(r: CheckReport): void {
  printTable(
    ['stage', 'status', 'time', 'details'],
    r.stages.map((s) => [`${s.id} ${s.name}`, s.status, `${s.ms.toFixed(0)} ms`, s.details]),
  );
  process.stdout.write(`${finalLine(r)}\n`);
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('ten-stage integrity check (container, metadata, tensor index, tokenizer, embedding, attention, MLP/norms, numerical scan, forward self-test, golden/provenance)')
    .argument('<model>', 'APR, GGUF, SafeTensors or HF folder')
    .option('--json', 'print the report as JSON')
    .option('--stage <n>', 'run only stage n (1-10)', intOption('--stage'))
    .option('--no-forward', 'skip the forward passes (stage 9 and the golden replay of stage 10)')
    .action((model: string, o: { json?: boolean; stage?: number; forward: boolean }) => {
      if (o.stage !== undefined && (o.stage < 1 || o.stage > 10)) throw new CliError(`--stage must be 1..10, got ${o.stage}`);
      const r = checkModel(model, { ...(o.stage !== undefined ? { stage: o.stage } : {}), forward: o.forward });
      if (o.json) printJson(r);
      else printReport(r);
      if (!r.all_passed) process.exitCode = EXIT.failed;
    });
}

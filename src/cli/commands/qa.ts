import type { Command } from 'commander';
import { type QaReport, runQa } from '../../ops/qa.js';
import { EXIT } from '../exit-codes.js';
import { CliError, printJson } from '../output.js';
import { floatOption } from '../program.js';

interface QaFlags {
  json?: boolean;
  baseline?: string;
  golden?: string;
  minTps?: number;
  pplData?: string;
  webgpu: boolean;
}

function printReport(r: QaReport): void {
  const width = Math.max(...r.checks.map((c) => c.name.length));
  for (const c of r.checks) process.stdout.write(`${c.status.padEnd(4)}  ${c.name.padEnd(width)}  ${c.details}\n`);
  const failed = r.checks.filter((c) => c.status === 'FAIL').map((c) => c.name);
  process.stdout.write(`${r.passed} PASS, ${r.failed} FAIL, ${r.skipped} SKIP${failed.length > 0 ? ` (failed: ${failed.join(', ')})` : ''}\n`);
}

export function registerQa(program: Command): void {
  program
    .command('qa')
    .description('release gate: the apr check stages, metadata plausibility, golden outputs, throughput floor, perplexity vs a baseline, format parity (APR/GGUF), backend parity (WebGPU/CPU); exit 1 on any FAIL')
    .argument('<model>', 'APR, GGUF, SafeTensors or HF folder')
    .option('--json', 'print the report as JSON')
    .option('--baseline <file>', 'perplexity baseline JSON: written when the file does not exist, else compared (a rise over 1 % fails)')
    .option('--golden <file>', 'golden cases, a JSON array or JSON Lines of {prompt, expected, max_tokens?} (default: the golden probes stored in the model)')
    .option('--min-tps <n>', 'throughput floor in decode tokens/s (default 1)', floatOption('--min-tps'))
    .option('--ppl-data <file>', 'text for the perplexity check (default: a built-in Python sample)')
    .option('--no-webgpu', 'skip the WebGPU/CPU backend parity check')
    .action((model: string, f: QaFlags) => {
      if (f.minTps !== undefined && f.minTps < 0) throw new CliError(`--min-tps must be ≥ 0, got ${f.minTps}`);
      const r = runQa(model, {
        ...(f.baseline !== undefined ? { baseline: f.baseline } : {}),
        ...(f.golden !== undefined ? { golden: f.golden } : {}),
        ...(f.minTps !== undefined ? { minTps: f.minTps } : {}),
        ...(f.pplData !== undefined ? { pplData: f.pplData } : {}),
        ...(f.webgpu ? {} : { webgpu: false as const }),
      });
      if (f.json) printJson(r);
      else printReport(r);
      if (!r.pass) process.exitCode = EXIT.failed;
    });
}

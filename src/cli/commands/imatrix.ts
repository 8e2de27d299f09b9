import type { Command } from 'commander';
import { type ImatrixResult, computeImatrixFile, DEFAULT_IMATRIX_CTX } from '../../ops/imatrix.js';
import { oneOf, printJson, progress } from '../output.js';
import { intOption } from '../program.js';

interface ImatrixFlags {
  data: string;
  output: string;
  ctx: number;
  chunks?: number;
  format?: string;
  json?: boolean;
  quiet?: boolean;
}

function printResult(r: ImatrixResult): void {
  process.stdout.write(`wrote ${r.output} (${r.format}): ${r.entries} weights, ${r.chunks} chunks of ${r.ctx} tokens from ${r.dataset} (${r.textTokens} tokens${r.bos ? ', BOS first' : ''}), ${r.seconds.toFixed(2)} s\n`);
}

/** `apr imatrix MODEL --data calib.txt -o out.gguf`: llama-imatrix's importance matrix, in its file formats. */
export function registerImatrix(program: Command): void {
  program
    .command('imatrix')
    .description('compute an importance matrix (Σx² per input column of every layer weight) over a calibration text, as llama-imatrix does; read by apr quantize --imatrix and llama-quantize --imatrix')
    .argument('<model>', 'APR, GGUF, SafeTensors or HF folder')
    .requiredOption('--data <file>', 'calibration text (llama-imatrix -f)')
    .requiredOption('-o, --output <file>', 'output imatrix file')
    .option('--ctx <n>', 'tokens per chunk (llama-imatrix -c)', intOption('--ctx'), DEFAULT_IMATRIX_CTX)
    .option('--chunks <n>', 'use at most this many chunks (default all)', intOption('--chunks'))
    .option('--format <fmt>', 'gguf (llama-imatrix\'s default) | dat (legacy); default dat for a .dat output, else gguf')
    .option('--json', 'print JSON')
    .option('-q, --quiet', 'no progress bar')
    .action((model: string, f: ImatrixFlags) => {
      let bar: ReturnType<typeof progress> | undefined;
      let r: ImatrixResult;
      try {
        r = computeImatrixFile({
          input: model,
          data: f.data,
          output: f.output,
          ctx: f.ctx,
          ...(f.chunks !== undefined ? { chunks: f.chunks } : {}),
          ...(f.format !== undefined ? { format: oneOf('--format', f.format, ['gguf', 'dat'] as const) } : {}),
          onChunk: (done, total) => {
            bar ??= progress('imatrix', total, f.quiet ?? false);
            bar.tick();
          },
        });
      } finally {
        bar?.stop();
      }
      if (f.json) printJson(r);
      else printResult(r);
    });
}

import { basename, dirname, extname, join } from 'node:path';
import type { Command } from 'commander';
import { type QuantizePlanResult, type QuantizeResult, planQuantization, quantizeModel } from '../../ops/quantize.js';
import { SCHEMES, isSchemeName } from '../../tensor/quant/recipes.js';
import { CliError, printJson, printTable, progress } from '../output.js';
import { intOption } from '../program.js';

interface QuantizeCliOptions {
  scheme?: string;
  batch?: string;
  output?: string;
  format?: string;
  plan?: boolean;
  pure?: boolean;
  imatrix?: string;
  imatrixData?: string;
  imatrixCtx?: number;
  imatrixChunks?: number;
  json?: boolean;
  quiet?: boolean;
}

function schemes(o: QuantizeCliOptions): string[] {
  const list = o.batch ? o.batch.split(',').map((s) => s.trim()).filter(Boolean) : o.scheme ? [o.scheme] : [];
  if (list.length === 0) throw new CliError('give --scheme <s> or --batch <s1,s2,...>');
  for (const s of list) if (!isSchemeName(s)) throw new CliError(`unknown scheme '${s}' (expected ${Object.keys(SCHEMES).join(', ')})`);
  return list;
}

/** The output path for one scheme of a batch: `{scheme}` in -o is replaced, else `-<scheme>` goes before the extension. */
export function batchOutput(output: string, scheme: string): string {
  if (output.includes('{scheme}')) return output.replaceAll('{scheme}', scheme);
  const ext = extname(output);
  return join(dirname(output), `${basename(output, ext)}-${scheme}${ext}`);
}

function mb(bytes: number): string {
  return `${(bytes / 1e6).toFixed(2)} MB`;
}

function printPlan(r: QuantizePlanResult): void {
  printTable(['tensor', 'shape', 'from', 'to', 'bytes'], r.entries.map((e) => [e.name, `[${e.shape.join(', ')}]`, e.from, e.to, e.bytes]));
  const counts = new Map<string, number>();
  for (const e of r.entries) counts.set(e.to, (counts.get(e.to) ?? 0) + 1);
  process.stdout.write(`\n${r.scheme}${r.pure ? ' (pure)' : ''}${r.ftype !== undefined ? ` (general.file_type ${r.ftype})` : ''}: ${[...counts].map(([d, n]) => `${d}×${n}`).join(' ')}\n`);
  process.stdout.write(`${r.parameters.toLocaleString('en-US')} parameters, tensor data ${mb(r.sourceBytes)} → ${mb(r.bytes)}, ${r.bitsPerWeight.toFixed(3)} bits per weight (${r.quantizedBitsPerWeight.toFixed(3)} over the quantized tensors)\n`);
}

function printResult(r: QuantizeResult): void {
  process.stdout.write(`wrote ${r.output} (${r.format}, ${r.scheme}${r.pure ? ', pure' : ''}): ${r.entries.length} tensors, ${mb(r.sourceBytes)} → ${mb(r.fileBytes)}, ${r.bitsPerWeight.toFixed(3)} bits per weight, ${r.seconds.toFixed(2)} s (${r.mbPerSecond.toFixed(1)} MB/s)\n`);
  const im = r.imatrix;
  if (im) process.stdout.write(`importance matrix ${im.computed ? 'computed from ' : ''}${im.source}: ${im.entries} entries, ${im.chunks} chunks; ${im.weighted} tensors weighted\n`);
}

/** The importance-matrix options of one run, from the flags. */
function imatrixOptions(o: QuantizeCliOptions): { imatrix?: string; imatrixData?: string; imatrixCtx?: number; imatrixChunks?: number } {
  if (o.imatrix !== undefined && o.imatrixData !== undefined) throw new CliError('give --imatrix <file> or --imatrix-data <text>, not both');
  return {
    ...(o.imatrix !== undefined ? { imatrix: o.imatrix } : {}),
    ...(o.imatrixData !== undefined ? { imatrixData: o.imatrixData } : {}),
    ...(o.imatrixCtx !== undefined ? { imatrixCtx: o.imatrixCtx } : {}),
    ...(o.imatrixChunks !== undefined ? { imatrixChunks: o.imatrixChunks } : {}),
  };
}

function runOne(input: string, scheme: string, output: string, o: QuantizeCliOptions): QuantizeResult {
  let bar: ReturnType<typeof progress> | undefined;
  try {
    return quantizeModel({
      input,
      scheme,
      output,
      pure: o.pure ?? false,
      ...imatrixOptions(o),
      ...(o.format ? { format: o.format } : {}),
      onTensor: (_name, done, total) => {
        bar ??= progress(`quantize ${scheme}`, total, o.quiet ?? false);
        bar.tick();
        if (done === total) bar.stop();
      },
    });
  } finally {
    bar?.stop();
  }
}

export function registerQuantize(program: Command): void {
  program
    .command('quantize')
    .description('quantize a model\'s weights: llama.cpp block types and mixtures (byte-identical to llama-quantize), nf4, int8/int4 (aprender), f16, bf16')
    .argument('<input>', 'APR, GGUF, SafeTensors or HF folder')
    .option('--scheme <s>', Object.keys(SCHEMES).join(' | '))
    .option('--batch <list>', 'several schemes, comma-separated; -o gets -<scheme> before its extension (or replaces {scheme})')
    .option('-o, --output <file>', 'output file (.apr or .gguf)')
    .option('--format <fmt>', 'apr | gguf | safetensors (f16/bf16 only); default from the output extension, else apr')
    .option('--plan', 'print each tensor\'s target dtype, the size and bits per weight; write nothing')
    .option('--pure', 'as llama-quantize --pure: every quantizable tensor in the scheme\'s base type (no Q6_K output, no mixtures)')
    .option('--imatrix <file>', 'importance matrix (llama.cpp GGUF or legacy .dat, from apr imatrix or llama-imatrix), as llama-quantize --imatrix')
    .option('--imatrix-data <text>', 'compute the importance matrix on the fly from this calibration text (as apr imatrix)')
    .option('--imatrix-ctx <n>', 'tokens per chunk for --imatrix-data (default 512)', intOption('--imatrix-ctx'))
    .option('--imatrix-chunks <n>', 'at most this many chunks for --imatrix-data (default all)', intOption('--imatrix-chunks'))
    .option('--json', 'print JSON')
    .option('--quiet', 'no progress bar')
    .action((input: string, o: QuantizeCliOptions) => {
      const list = schemes(o);
      if (o.plan) {
        const plans = list.map((scheme) => planQuantization({ input, scheme, pure: o.pure ?? false, ...imatrixOptions(o) }));
        if (o.json) return printJson(plans.length === 1 ? plans[0] : plans);
        plans.forEach((p, i) => {
          if (i > 0) process.stdout.write('\n');
          printPlan(p);
        });
        return;
      }
      if (!o.output) throw new CliError('give -o <output> (or --plan)');
      const output = o.output;
      const results = list.map((scheme) => runOne(input, scheme, list.length > 1 ? batchOutput(output, scheme) : output, o));
      if (o.json) return printJson(results.length === 1 ? results[0] : results);
      results.forEach(printResult);
    });
}

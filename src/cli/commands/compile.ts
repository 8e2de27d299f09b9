import type { Command } from 'commander';
import { CompileBuildError, hostTarget } from '../../compile/build.js';
import { MissingToolError } from '../../compile/tools.js';
import { type CompileResult, type CompileStep, compileModel } from '../../ops/compile.js';
import { SCHEMES } from '../../tensor/quant/recipes.js';
import { EXIT } from '../exit-codes.js';
import { CliError, printJson } from '../output.js';

interface CompileFlags {
  output?: string;
  quantize?: string;
  target?: string;
  name?: string;
  json?: boolean;
  quiet?: boolean;
}

const STEP_LABEL: Record<CompileStep, string> = {
  weights: 'preparing the APR weights',
  bundle: 'bundling the runtime (esbuild)',
  blob: 'writing the SEA blob',
  inject: 'injecting into a copy of the Node binary (postject)',
  verify: 'locating the embedded weights',
};

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

function printResult(r: CompileResult): void {
  const b = r.bytes;
  process.stdout.write(
    `wrote ${r.output} (${r.target}${r.quantize ? `, ${r.quantize}` : ''}): ${mb(b.total)} = Node runtime ${mb(b.node_runtime)} + JS bundle ${mb(b.js_bundle)} + weights ${mb(b.weights)} + other ${mb(b.other)}, in ${r.seconds.total.toFixed(1)} s\n`,
  );
}

function compileAction(input: string, f: CompileFlags): void {
  if (!f.output) throw new CliError('give -o <executable>');
  const quiet = f.quiet || f.json;
  try {
    const r = compileModel({
      input,
      output: f.output,
      ...(f.quantize !== undefined ? { quantize: f.quantize } : {}),
      ...(f.target !== undefined ? { target: f.target } : {}),
      ...(f.name !== undefined ? { name: f.name } : {}),
      onStep: (s) => {
        if (!quiet) process.stderr.write(`${STEP_LABEL[s]}…\n`);
      },
    });
    if (f.json) printJson(r);
    else printResult(r);
  } catch (err) {
    if (err instanceof MissingToolError) throw new CliError(err.message, EXIT.usage);
    if (err instanceof CompileBuildError) throw new CliError(err.message, EXIT.internal);
    throw err;
  }
}

export function registerCompile(program: Command): void {
  program
    .command('compile')
    .description('a model and its runtime as one executable file (runs without Node.js or apr installed)')
    .argument('<model>', 'APR, GGUF, SafeTensors or HF folder')
    .option('-o, --output <file>', 'the executable to write')
    .option('--quantize <scheme>', `quantize the weights first: ${Object.keys(SCHEMES).join(' | ')}`)
    .option('--target <platform-arch>', `platform of the executable (only the running Node's: ${hostTarget()})`)
    .option('--name <name>', 'the name the executable reports (default: the output file name)')
    .option('--json', 'print the result (sizes, digest, timings) as JSON')
    .option('--quiet', 'no step messages on stderr')
    .action((input: string, f: CompileFlags) => compileAction(input, f));
}

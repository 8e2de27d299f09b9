import type { Command } from 'commander';
import { diffModels } from '../../ops/diff.js';
import { inspectModel } from '../../ops/inspect.js';
import { exportModel, importModel } from '../../ops/model-io.js';
import type { ConvertResult } from '../../ops/model-io.js';
import { ArchConfigSchema } from '../../tensor/bundle.js';
import { EXIT } from '../exit-codes.js';
import { CliError, printJson, printTable } from '../output.js';
import { adapterTensorsAction, convertAdapterAction, inspectAdapterAction, isAdapter } from './adapter.js';

const ARCHS = ArchConfigSchema.shape.architecture.options;

function arch(value: string | undefined): (typeof ARCHS)[number] | undefined {
  if (value === undefined) return undefined;
  if (!(ARCHS as readonly string[]).includes(value)) throw new CliError(`--arch must be one of ${ARCHS.join(', ')}, got '${value}'`);
  return value as (typeof ARCHS)[number];
}

function printConvert(r: ConvertResult, json: boolean | undefined): void {
  if (json) printJson(r);
  else process.stdout.write(`wrote ${r.output} (${r.format}): ${r.architecture}, ${r.tensors} tensors, ${r.parameters.toLocaleString('en-US')} parameters, ${(r.bytes / 1e6).toFixed(2)} MB\n`);
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

export function registerModelIo(program: Command): void {
  registerConvert(program);
  registerInspect(program);
  registerDiff(program);
}

function printInspect(r: ReturnType<typeof inspectModel>): void {
  const c = r.config;
  printTable(['field', 'value'], [
    ['path', r.path],
    ['format', r.format],
    ['architecture', r.architecture],
    ['parameters', r.parameters.toLocaleString('en-US')],
    ['tensors', r.tensor_count],
    ['dtypes', Object.entries(r.dtypes).map(([d, n]) => `${d}×${n}`).join(' ')],
    ['size', `${(r.file_bytes / 1e6).toFixed(2)} MB`],
    ['layers / hidden / heads / kv heads / head_dim', `${c.num_layers} / ${c.hidden_size} / ${c.num_heads} / ${c.num_kv_heads} / ${c.head_dim}`],
    ['intermediate / vocab / context', `${c.intermediate_size} / ${c.vocab_size} / ${c.max_position_embeddings}`],
    ['rope_theta / rms_norm_eps / tied', `${c.rope_theta} / ${c.rms_norm_eps} / ${c.tie_word_embeddings}`],
    ['tokenizer', r.tokenizer ? `${r.tokenizer.model}, ${r.tokenizer.vocab_size} tokens, specials ${r.tokenizer.added_tokens.join(' ')}, chat template ${r.tokenizer.chat_template ? 'yes' : 'no'}` : 'none'],
    ['metadata keys', r.metadata_keys.join(', ') || '-'],
    ['provenance', r.provenance.map((p) => (p.time === undefined ? p.op : `${p.op}@${p.time}`)).join(' → ') || '-'],
  ]);
  if (r.tensors) {
    process.stdout.write('\n');
    printTable(['name', 'dtype', 'shape', 'bytes'], r.tensors.map((t) => [t.name, t.dtype, formatShape(t.shape), t.bytes]));
  }
}

function registerConvert(program: Command): void {
  program
    .command('import')
    .description('convert a HF folder, .safetensors or .gguf model to APR (lossless; streams tensor by tensor)')
    .argument('<input>', 'HF folder, model.safetensors or .gguf')
    .requiredOption('-o, --output <file>', 'output file (.apr by default)')
    .option('--format <fmt>', 'apr | gguf | safetensors (default: from the output extension, else apr)')
    .option('--arch <arch>', `override the detected architecture (${ARCHS.join(', ')})`)
    .option('--no-golden', 'skip the golden logits fingerprint for apr check (it loads the whole model once; skip it for models larger than RAM)')
    .option('--base <model>', 'LoRA adapters: the base model (llama.cpp GGUF ↔ PEFT needs its architecture and head counts)')
    .option('--json', 'print JSON')
    .action((input: string, o: { output: string; format?: string; arch?: string; golden: boolean; base?: string; json?: boolean }) => {
      if (isAdapter(input)) return convertAdapterAction(input, o);
      printConvert(importModel({ input, output: o.output, golden: o.golden, ...(o.format ? { format: o.format } : {}), ...(o.arch ? { arch: arch(o.arch) } : {}) }), o.json);
    });

  program
    .command('export')
    .description('write a model as GGUF (llama.cpp) or a SafeTensors HF folder (transformers)')
    .argument('<input>', 'any supported model')
    .requiredOption('-o, --output <path>', 'output file (gguf) or folder (safetensors)')
    .option('--format <fmt>', 'gguf | safetensors | apr; for a LoRA adapter: gguf (llama.cpp) | peft (folder)')
    .option('--base <model>', 'LoRA adapters: the base model (llama.cpp GGUF ↔ PEFT needs its architecture and head counts)')
    .option('--json', 'print JSON')
    .action((input: string, o: { output: string; format?: string; base?: string; json?: boolean }) => {
      if (isAdapter(input)) return convertAdapterAction(input, o);
      printConvert(exportModel({ input, output: o.output, ...(o.format ? { format: o.format } : {}) }), o.json);
    });
}

function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('architecture, parameters, dtypes, tokenizer and metadata of any model file; rank, alpha and targets of a LoRA adapter')
    .argument('<model>', 'APR, GGUF, SafeTensors or HF folder')
    .option('--tensors', 'also list every tensor')
    .option('--json', 'print JSON')
    .action((model: string, o: { tensors?: boolean; json?: boolean }) => {
      if (isAdapter(model)) return inspectAdapterAction(model, o);
      const r = inspectModel(model, o.tensors ?? false);
      if (o.json) printJson(r);
      else printInspect(r);
    });

  program
    .command('tensors')
    .description('list the tensors of a model (name, dtype, shape, bytes)')
    .argument('<model>', 'APR, GGUF, SafeTensors or HF folder')
    .option('--json', 'print JSON')
    .action((model: string, o: { json?: boolean }) => {
      if (isAdapter(model)) return adapterTensorsAction(model, o);
      const tensors = inspectModel(model, true).tensors ?? [];
      if (o.json) printJson(tensors);
      else printTable(['name', 'dtype', 'shape', 'bytes'], tensors.map((t) => [t.name, t.dtype, formatShape(t.shape), t.bytes]));
    });
}

function registerDiff(program: Command): void {
  program
    .command('diff')
    .description('compare two models tensor by tensor after dequantization (max |a−b|, cosine)')
    .argument('<a>', 'first model')
    .argument('<b>', 'second model')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExit status (as diff and cmp): 0 if the models are identical, 1 if they differ (values, shapes or tensor names),\n2 bad usage, 3 an unreadable model.')
    .action((a: string, b: string, o: { json?: boolean }) => {
      const r = diffModels(a, b);
      if (!r.identical) process.exitCode = EXIT.failed;
      if (o.json) return printJson(r);
      printTable(['tensor', 'max_abs_diff', 'cosine'], r.tensors.map((t) => [t.name, t.max_abs_diff.toExponential(3), t.cosine.toFixed(8)]));
      for (const n of r.only_in_a) process.stdout.write(`only in ${a}: ${n}\n`);
      for (const n of r.only_in_b) process.stdout.write(`only in ${b}: ${n}\n`);
      for (const m of r.shape_mismatch) process.stdout.write(`shape mismatch ${m.name}: ${formatShape(m.a)} vs ${formatShape(m.b)}\n`);
      process.stdout.write(`max_abs_diff ${r.max_abs_diff} — ${r.identical ? 'identical' : 'different'}\n`);
    });
}

import { type Command, InvalidArgumentError } from 'commander';
import { type MergeOptions, type MergeResult, mergeModels } from '../../ops/merge.js';
import { PRUNE_METHODS, type PruneMethod, type PruneOptions, type PruneResult, pruneModel } from '../../ops/prune.js';
import { MergeConfigError } from '../../train/merge/config.js';
import { MERGE_METHOD_NAMES } from '../../train/merge/registry.js';
import { EXIT } from '../exit-codes.js';
import { CliError, type Progress, printJson, printTable, progress } from '../output.js';
import { floatOption, intOption } from '../program.js';

function numberList(name: string) {
  return (value: string): number[] => {
    const nums = value.split(',').map((v) => Number(v.trim()));
    if (nums.length === 0 || nums.some((n) => !Number.isFinite(n))) throw new InvalidArgumentError(`${name} must be comma-separated numbers, got '${value}'`);
    return nums;
  };
}

function choice<T extends string>(name: string, values: readonly T[]) {
  return (value: string): T => {
    if (!(values as readonly string[]).includes(value)) throw new InvalidArgumentError(`${name} must be one of ${values.join(', ')}, got '${value}'`);
    return value as T;
  };
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/** A progress bar created on the first update (when the total is known). */
function lazyBar(label: string, quiet: boolean): { update: (done: number, total: number) => void; stop: () => void } {
  let bar: Progress | undefined;
  let last = 0;
  return {
    update: (done, total) => {
      bar ??= progress(label, total, quiet);
      bar.tick(done - last);
      last = done;
    },
    stop: () => bar?.stop(),
  };
}

interface MergeFlags {
  output: string;
  strategy?: string;
  baseModel?: string;
  weights?: number[];
  density?: number;
  dropRate?: number;
  lambda?: number;
  t?: number[];
  epsilon?: number;
  gamma?: number;
  normalize?: boolean;
  rescale?: boolean;
  seed?: number;
  config?: string;
  dtype?: string;
  format?: string;
  json?: boolean;
  quiet?: boolean;
}

function mergeOptions(models: string[], f: MergeFlags): MergeOptions {
  if (models.length === 0 && !f.config) throw new CliError('give the models to merge, or --config merge.yaml');
  if (!f.strategy && !f.config) throw new CliError(`give --strategy (${MERGE_METHOD_NAMES.join(', ')}) or --config`);
  const { json: _j, quiet: _q, ...rest } = f;
  return { models, ...rest };
}

function printMerge(r: MergeResult, json: boolean | undefined): void {
  if (json) return printJson(r);
  process.stdout.write(
    `wrote ${r.output} (${r.format}): ${r.strategy} of ${r.models.length} model(s) onto ${r.base}, ${r.layers} layers, vocabulary ${r.vocab_size}, ${r.tensors} tensors, ` +
      `${r.parameters.toLocaleString('en-US')} parameters, ${mb(r.bytes)}; peak RSS ${mb(r.peak_rss_bytes)} (largest tensor ${mb(r.largest_tensor_f32_bytes)} as f32), ${r.seconds.toFixed(1)} s\n`,
  );
}

interface PruneFlags {
  output?: string;
  method: PruneMethod;
  targetRatio?: number;
  pattern?: string;
  calibration?: string;
  samples?: number;
  seqLen?: number;
  seed?: number;
  granularity?: 'row' | 'tensor';
  unit?: 'heads' | 'channels';
  layers?: string;
  includeEmbeddings?: boolean;
  analyze?: boolean;
  format?: string;
  json?: boolean;
  quiet?: boolean;
}

function printRemoved(r: PruneResult): void {
  const removed = r.removed;
  if (removed?.layers) process.stdout.write(`${r.analyze ? 'would remove' : 'removed'} layers ${removed.layers.join(', ')}\n`);
  if (r.block_influence) process.stdout.write(`block influence per layer: ${r.block_influence.map((b) => b.toFixed(4)).join(' ')}\n`);
  const units = removed?.heads ?? removed?.channels;
  if (units) {
    const what = removed?.heads ? 'KV-head groups' : 'MLP channels';
    printTable(['layer', `${what} ${r.analyze ? 'to remove' : 'removed'}`], units.map((u, l) => [l, u.length > 16 ? `${u.length}: ${u.slice(0, 16).join(' ')} …` : u.join(' ')]));
  }
}

function printPrune(r: PruneResult, json: boolean | undefined): void {
  if (json) return printJson(r);
  if (r.tensors.length > 0) {
    printTable(['tensor', 'shape', 'sparsity', 'removed |W| share'], r.tensors.map((t) => [t.name, `[${t.shape.join(', ')}]`, `${(100 * t.sparsity).toFixed(3)} %`, `${(100 * t.l1_removed_fraction).toFixed(2)} %`]));
  }
  printRemoved(r);
  const changes = Object.entries(r.config_changes).map(([k, [a, b]]) => `${k} ${a} → ${b}`).join(', ');
  const sparsity = r.overall_sparsity !== undefined ? `, sparsity ${(100 * r.overall_sparsity).toFixed(3)} % of ${r.tensors.length} tensors` : '';
  const head = r.analyze ? `analysis of ${r.input}` : `wrote ${r.output ?? ''} (${r.format ?? ''}, ${mb(r.bytes ?? 0)})`;
  process.stdout.write(`${head}: ${r.method}${r.pattern ? ` ${r.pattern}` : ''} target ${r.target_ratio}${sparsity}; parameters ${r.parameters_before.toLocaleString('en-US')} → ${r.parameters_after.toLocaleString('en-US')}${changes ? `; ${changes}` : ''}; ${r.seconds.toFixed(1)} s\n`);
}

function pruneOptions(model: string, f: PruneFlags, bar: (stage: string, d: number, n: number) => void): PruneOptions {
  if (!f.analyze && !f.output) throw new CliError('give -o/--output (or --analyze)');
  if (f.targetRatio !== undefined && !(f.targetRatio >= 0 && f.targetRatio < 1)) throw new CliError(`--target-ratio must be in [0, 1), got ${f.targetRatio}`);
  const { json: _j, quiet: _q, ...rest } = f;
  return { input: model, ...rest, onProgress: bar };
}

function registerMerge(program: Command): void {
  program
    .command('merge')
    .description('merge models mergekit-style (every mergekit method in --strategy; --config reads mergekit YAML: slices/frankenmerges, gradients, tokenizer merging, chat templates), streaming tensor by tensor')
    .argument('[models...]', 'models to merge (APR, GGUF, SafeTensors, HF folders; quantized inputs are dequantized)')
    .requiredOption('-o, --output <path>', 'output file (.apr, .gguf) or folder (SafeTensors)')
    .option('--strategy <method>', `merge method: ${MERGE_METHOD_NAMES.join(', ')}`, choice('--strategy', MERGE_METHOD_NAMES))
    .option('--base-model <path>', 'base model (default: the first); its config and metadata are kept, and its tokenizer unless the config merges vocabularies')
    .option('--weights <w1,w2,...>', 'per-model weights, in the order of the models', numberList('--weights'))
    .option('--density <d>', 'fraction of task-vector entries kept (ties, dare_*, breadcrumbs, della)', floatOption('--density'))
    .option('--drop-rate <p>', 'DARE drop rate (density = 1 − p)', floatOption('--drop-rate'))
    .option('--lambda <l>', 'scale of the merged task vector', floatOption('--lambda'))
    .option('--t <t>', 'slerp position, or a per-layer gradient "0,0.5,1"', numberList('--t'))
    .option('--epsilon <e>', 'della: spread of the keep probabilities', floatOption('--epsilon'))
    .option('--gamma <g>', 'breadcrumbs: fraction of largest entries dropped', floatOption('--gamma'))
    .option('--normalize', 'divide by the sum of weights')
    .option('--no-normalize', 'do not divide by the sum of weights')
    .option('--rescale', 'rescale kept entries after random drops (DARE/DELLA default)')
    .option('--no-rescale', 'do not rescale kept entries')
    .option('--seed <n>', 'random seed for DARE/DELLA (same seed, same output)', intOption('--seed'))
    .option('--config <file>', 'mergekit YAML, unchanged: models or slices (layer_range), merge_method, base_model, parameters (gradients, filters), dtype, out_dtype, tokenizer_source/tokenizer, chat_template')
    .option('--dtype <dtype>', 'output dtype: f32, f16 or bf16 (default: the base tensor’s float type, else f32)', choice('--dtype', ['f32', 'f16', 'bf16'] as const))
    .option('--format <fmt>', 'apr | gguf | safetensors (default: from the output path)')
    .option('--json', 'print JSON')
    .option('-q, --quiet', 'no progress bar')
    .action((models: string[], f: MergeFlags) => {
      const bar = lazyBar('merge', f.quiet ?? false);
      try {
        printMerge(mergeModels({ ...mergeOptions(models, f), onTensor: (d, n) => bar.update(d, n) }), f.json);
      } catch (err) {
        // a bad configuration or option is bad usage (exit 2); a bad model file stays bad input (exit 3)
        throw err instanceof MergeConfigError ? new CliError(err.message, EXIT.usage) : err;
      } finally {
        bar.stop();
      }
    });
}

function registerPrune(program: Command): void {
  program
    .command('prune')
    .description('prune a model: magnitude, wanda, sparsegpt (unstructured or N:M), structured (heads/channels) or depth (layers)')
    .argument('<model>', 'APR, GGUF, SafeTensors or HF folder')
    .requiredOption('--method <method>', PRUNE_METHODS.join(' | '), choice('--method', PRUNE_METHODS))
    .option('--target-ratio <r>', 'fraction removed: weights (unstructured), heads/channels (structured), layers (depth)', floatOption('--target-ratio'))
    .option('-o, --output <path>', 'output file or folder')
    .option('--calibration <file>', 'calibration text (.txt) or JSON Lines with a "text" field (wanda, sparsegpt; optional for structured)')
    .option('--samples <n>', 'calibration samples', intOption('--samples'), 128)
    .option('--seq-len <n>', 'tokens per calibration sample', intOption('--seq-len'), 128)
    .option('--seed <n>', 'seed for drawing calibration samples', intOption('--seed'))
    .option('--pattern <n:m>', 'semi-structured N:M sparsity, e.g. 2:4')
    .option('--granularity <g>', 'magnitude: compare per output row or over the tensor', choice('--granularity', ['row', 'tensor'] as const))
    .option('--unit <u>', 'structured: remove KV-head groups or MLP channels (default channels)', choice('--unit', ['heads', 'channels'] as const))
    .option('--layers <list>', 'depth: layers to drop, e.g. 3-4 or 2,5')
    .option('--include-embeddings', 'also prune the token embeddings and the LM head (magnitude scores)')
    .option('--analyze', 'report what would be removed; write nothing')
    .option('--format <fmt>', 'apr | gguf | safetensors (default: from the output path)')
    .option('--json', 'print JSON')
    .option('-q, --quiet', 'no progress bar')
    .action((model: string, f: PruneFlags) => {
      const bars = new Map<string, ReturnType<typeof lazyBar>>();
      const onProgress = (stage: string, d: number, n: number): void => {
        let bar = bars.get(stage);
        if (!bar) bars.set(stage, (bar = lazyBar(stage, f.quiet ?? false)));
        bar.update(d, n);
      };
      try {
        printPrune(pruneModel(pruneOptions(model, f, onProgress)), f.json);
      } finally {
        for (const b of bars.values()) b.stop();
      }
    });
}

export function registerMergePrune(program: Command): void {
  registerMerge(program);
  registerPrune(program);
}

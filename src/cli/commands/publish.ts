import type { Command } from 'commander';
import { repoIdProblem } from '../../formats/hf-dir/repo-id.js';
import { type PublishFormat, type PublishResult, publish } from '../../ops/publish.js';
import { CliError, printJson } from '../output.js';

interface PublishCliOptions {
  modelName?: string;
  pipelineTag: string;
  libraryName: string;
  tags: string;
  license: string;
  baseModel?: string;
  format: string;
  results: string[];
  lock?: string;
  dataSummary?: string;
  dryRun?: boolean;
  output?: string;
  overwrite?: boolean;
  json?: boolean;
}

const FORMATS: readonly PublishFormat[] = ['safetensors', 'gguf'];

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function printPublished(r: PublishResult): void {
  const bytes = r.files.reduce((n, f) => n + f.bytes, 0);
  process.stdout.write(`dry run: wrote ${r.output} for ${r.repoId} (${r.format}, ${r.files.length + 1} files, ${(bytes / 1e6).toFixed(2)} MB; card ${r.card}; ${r.stages} pipeline stages, ${r.results.length} results files)\n`);
  process.stdout.write('nothing was uploaded; upload the folder with network access (e.g. `huggingface-cli upload <repo> <folder>` with HF_TOKEN set)\n');
}

function runPublish(model: string, repoId: string, o: PublishCliOptions): void {
  const problem = repoIdProblem(repoId);
  if (problem !== undefined) throw new CliError(`invalid repository id '${repoId}': ${problem}`);
  const format = FORMATS.find((f) => f === o.format);
  if (format === undefined) throw new CliError(`unknown --format '${o.format}' (expected ${FORMATS.join(', ')})`);
  if (!o.dryRun) {
    throw new CliError('uploading to the Hugging Face Hub needs network access, which apr does not use: run with --dry-run to build the repository folder, then upload it with a token in HF_TOKEN');
  }
  const tags = o.tags.split(',').map((t) => t.trim()).filter(Boolean);
  const r = publish({
    model, repoId, output: o.output ?? `${repoId.split('/')[1] ?? 'model'}-hf`, pipelineTag: o.pipelineTag, libraryName: o.libraryName, tags, license: o.license, format,
    results: o.results, overwrite: o.overwrite ?? false, ...(o.modelName !== undefined ? { modelName: o.modelName } : {}), ...(o.baseModel !== undefined ? { baseModel: o.baseModel } : {}),
    ...(o.lock !== undefined ? { lock: o.lock } : {}), ...(o.dataSummary !== undefined ? { dataSummary: o.dataSummary } : {}),
  });
  if (o.json) printJson(r);
  else printPublished(r);
}

export function registerPublish(program: Command): void {
  program
    .command('publish')
    .description('build a Hugging Face Hub repository folder (model in the Hub layout, model card, results, pipeline lock); --dry-run only: nothing is uploaded')
    .argument('<model>', 'the model or an exported HF folder (any format apr reads)')
    .argument('<repo-id>', "Hub repository id 'org/name'")
    .option('--model-name <name>', 'title of the model card (default: the repository name)')
    .option('--pipeline-tag <tag>', 'card pipeline_tag', 'text-generation')
    .option('--library-name <name>', 'card library_name', 'apr')
    .option('--tags <list>', 'card tags, comma-separated', 'apr')
    .option('--license <id>', 'card license (as upstream\'s fallback card)', 'mit')
    .option('--base-model <org/name>', 'card base_model (the Hub id the model derives from)')
    .option('--format <fmt>', 'safetensors (HF layout) | gguf (one .gguf file; for quantized models)', 'safetensors')
    .option('--results <file>', "results JSON (upstream's eval-pass-at-k shape), copied into results/ and tabled; repeatable", collect, [])
    .option('--lock <file>', 'pipeline lock (apr pipeline); default: pipeline.lock.json beside the model')
    .option('--data-summary <file>', 'Markdown summary of the training data and its decontamination, put in the card')
    .option('--dry-run', 'build the folder only (required: this build never uploads)')
    .option('-o, --output <dir>', 'the repository folder to write (default: <name>-hf)')
    .option('--overwrite', 'replace an existing folder')
    .option('--json', 'print the summary as JSON')
    .action((model: string, repoId: string, o: PublishCliOptions) => runPublish(model, repoId, o));
}

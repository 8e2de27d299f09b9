import type { Command } from 'commander';
import { type FinetuneMethod, type FinetuneResult, type MergeAdapterResult, finetune, mergeAdapter } from '../../ops/finetune.js';
import type { DataTask } from '../../train/data/index.js';
import type { TrainingOptions } from '../../train/types.js';
import { floatOption, intOption } from '../program.js';
import { CliError, oneOf, printJson } from '../output.js';
import { EpochTable, stepProgress } from '../training-output.js';
import { addTrainComputeFlags, trainBackendOf } from './train-compute.js';

const METHODS: readonly FinetuneMethod[] = ['lora', 'qlora', 'full'];
const TASKS: readonly DataTask[] = ['instruct', 'completion'];

interface FinetuneCliOptions {
  data?: string;
  adapter?: string;
  method: string;
  rank: number;
  alpha?: number;
  targets: string;
  lr?: number;
  epochs: number;
  batchSize: number;
  gradAccum: number;
  maxSeqLen: number;
  valSplit: number;
  seed: number;
  task: string;
  assistantOnlyLoss?: boolean;
  completionOnlyLoss?: boolean;
  warmupRatio: number;
  minLrRatio: number;
  weightDecay: number;
  maxGradNorm: number;
  checkpointDir?: string;
  plot?: string;
  merge?: boolean;
  output?: string;
  format?: string;
  json?: boolean;
  quiet?: boolean;
  backend?: string;
  gradientCheckpointing?: boolean;
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new CliError(message);
}

function trainingOptions(o: FinetuneCliOptions): Partial<TrainingOptions> {
  check(o.epochs >= 1 && o.batchSize >= 1 && o.gradAccum >= 1, '--epochs, --batch-size and --grad-accum must be ≥ 1');
  check(o.lr === undefined || o.lr > 0, '--lr must be > 0');
  check(o.warmupRatio >= 0 && o.warmupRatio <= 1 && o.minLrRatio >= 0 && o.minLrRatio <= 1, '--warmup-ratio and --min-lr-ratio must be in [0, 1]');
  check(o.weightDecay >= 0 && o.maxGradNorm >= 0, '--weight-decay and --max-grad-norm must be ≥ 0');
  return {
    epochs: o.epochs, batchSize: o.batchSize, gradAccum: o.gradAccum, warmupRatio: o.warmupRatio, minLrRatio: o.minLrRatio,
    weightDecay: o.weightDecay, maxGradNorm: o.maxGradNorm, seed: o.seed, ...(o.lr !== undefined ? { lr: o.lr } : {}),
  };
}

function printTrained(r: FinetuneResult): void {
  const last = r.history.at(-1);
  const what = r.format === 'peft' ? 'PEFT adapter' : r.format;
  const val = last?.valLoss === null || last === undefined ? '' : `, val loss ${last.valLoss.toFixed(4)} (ppl ${last.valPpl?.toFixed(2) ?? '-'})`;
  process.stdout.write(`\nwrote ${r.output} (${what}, ${(r.bytes / 1e6).toFixed(2)} MB): ${r.method}, ${r.trainableParameters.toLocaleString('en-US')} trainable parameters, ${r.trainExamples} train / ${r.valExamples} val examples (${r.trainTokens} target tokens${r.droppedRecords ? `, ${r.droppedRecords} records dropped` : ''})${val}, ${r.seconds.toFixed(1)} s${r.plot ? `; loss curve ${r.plot}` : ''}\n`);
}

function printMerged(r: MergeAdapterResult): void {
  process.stdout.write(`wrote ${r.output} (${r.format}, ${(r.bytes / 1e6).toFixed(2)} MB): ${r.modules} LoRA modules merged, ${r.seconds.toFixed(2)} s\n`);
}

function runMerge(model: string, o: FinetuneCliOptions, output: string): void {
  check(o.merge === true, '--adapter needs --merge (apr finetune <base> --adapter <dir> --merge -o <model>)');
  check(o.data === undefined, '--adapter merges an existing adapter; --data is for training');
  const r = mergeAdapter({ model, adapter: o.adapter ?? '', output, ...(o.format ? { format: o.format } : {}) });
  if (o.json) printJson(r);
  else printMerged(r);
}

/** The training flags' one-line usage errors. */
function checkTrainFlags(o: FinetuneCliOptions, method: FinetuneMethod): void {
  check(o.rank >= 1, '--rank must be ≥ 1');
  check(o.valSplit >= 0 && o.valSplit < 1, '--val-split must be in [0, 1)');
  check(o.maxSeqLen >= 2, '--max-seq-len must be ≥ 2');
  check(!(method === 'full' && o.merge), '--merge is for lora/qlora (full finetuning writes the model itself)');
  check(!(o.gradientCheckpointing && trainBackendOf(o) === 'cpu'), '--gradient-checkpointing is for the GPU step (--backend webgpu or auto); the CPU trainer keeps its tape');
}

function runTrain(model: string, o: FinetuneCliOptions, output: string): void {
  if (o.data === undefined) throw new CliError('give --data <train.jsonl> (or --adapter <dir> --merge to merge an adapter)');
  const method = oneOf('--method', o.method, METHODS);
  const task = oneOf('--task', o.task, TASKS);
  checkTrainFlags(o, method);
  const targets = o.targets.split(',').map((s) => s.trim()).filter(Boolean);
  check(targets.length > 0, '--targets must name at least one module');
  const training = trainingOptions(o);
  const table = new EpochTable([], o.json ?? false);
  const bar = stepProgress(`finetune ${method}`, o.quiet ?? false);
  try {
    const r = finetune({
      model, data: o.data, output, method, rank: o.rank, targets, task, maxSeqLen: o.maxSeqLen, valSplit: o.valSplit, training,
      assistantOnlyLoss: o.assistantOnlyLoss ?? true, completionOnlyLoss: o.completionOnlyLoss ?? true,
      merge: o.merge ?? false, ...(o.alpha !== undefined ? { alpha: o.alpha } : {}), ...(o.format ? { format: o.format } : {}),
      ...(o.checkpointDir ? { checkpointDir: o.checkpointDir } : {}), ...(o.plot ? { plot: o.plot } : {}),
      onEpoch: (rec) => table.row(rec), onProgress: bar.onProgress, backend: trainBackendOf(o), gradientCheckpointing: o.gradientCheckpointing ?? false,
    });
    if (o.json) printJson(r);
    else printTrained(r);
  } finally {
    bar.stop();
  }
}

export function registerFinetune(program: Command): void {
  addTrainComputeFlags(program
    .command('finetune')
    .description('LoRA / QLoRA / full finetuning on JSONL (chat messages, instruct or completion) → PEFT adapter or model; or merge a PEFT adapter (--adapter --merge)')
    .argument('<model>', 'base model (APR, GGUF, SafeTensors or HF folder)')
    .option('--data <file>', 'JSONL: {"instruction","response"[,"system"]} (instruct) or {"text"} (completion); {"messages":[{"role":"system"|"user"|"assistant","content"},...]} lines (trl\'s conversational format) under either task, rendered with the model\'s chat template')
    .option('--adapter <dir>', 'an existing LoRA adapter to merge (with --merge): a PEFT folder or a llama.cpp LoRA GGUF')
    .option('--method <m>', 'lora | qlora (NF4 base, f32 adapters) | full', 'lora')
    .option('--rank <r>', 'LoRA rank', intOption('--rank'), 16)
    .option('--alpha <a>', 'LoRA alpha (default 2·rank); updates are scaled by alpha/rank', floatOption('--alpha'))
    .option('--targets <list>', 'adapted modules, comma-separated (q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj)', 'q_proj,v_proj')
    .option('--lr <x>', 'peak learning rate (default 2e-4; 5e-5 for full)', floatOption('--lr'))
    .option('--epochs <n>', 'epochs', intOption('--epochs'), 3)
    .option('--batch-size <n>', 'examples per micro-batch', intOption('--batch-size'), 1)
    .option('--grad-accum <n>', 'micro-batches per optimizer step (gradients averaged)', intOption('--grad-accum'), 1)
    .option('--max-seq-len <n>', 'tokens per example (longer ones are truncated / chunked)', intOption('--max-seq-len'), 512)
    .option('--val-split <f>', 'fraction of the records held out for validation', floatOption('--val-split'), 0.2)
    .option('--seed <n>', 'seed (split, order, adapter initialisation)', intOption('--seed'), 42)
    .option('--task <t>', 'instruct | completion', 'instruct')
    .option('--assistant-only-loss', 'messages data: loss only on the assistant turns (their content and the template\'s end-of-turn, e.g. "<|im_end|>\\n"); the default here (trl\'s SFTConfig defaults to off)')
    .option('--no-assistant-only-loss', 'messages data: loss on every token of the conversation (trl\'s default)')
    .option('--completion-only-loss', 'instruct data: loss only on the response and its end-of-turn, not the prompt (default, as trl for prompt-completion data)')
    .option('--no-completion-only-loss', 'instruct data: loss on the prompt tokens too')
    .option('--warmup-ratio <f>', 'fraction of the steps warming the learning rate up linearly', floatOption('--warmup-ratio'), 0)
    .option('--min-lr-ratio <f>', 'the cosine decays to this fraction of the peak', floatOption('--min-lr-ratio'), 0)
    .option('--weight-decay <f>', 'AdamW decoupled weight decay (matrices only)', floatOption('--weight-decay'), 0)
    .option('--max-grad-norm <f>', 'global gradient-norm clip (0 = off)', floatOption('--max-grad-norm'), 1)
    .option('--checkpoint-dir <dir>', 'save parameters + optimizer state after every epoch; resume from it')
    .option('--plot <file.svg>', 'write the train/val loss curve as SVG')
    .option('--gradient-checkpointing', 'GPU step (--backend webgpu): keep one layer\'s activations instead of all and recompute each layer in the backward pass (less device memory, about one more forward pass; the same adapter bytes)')
    .option('--merge', 'write the base model with the adapter merged instead of the adapter')
    .option('-o, --output <path>', 'adapter folder (lora/qlora), or model file (.apr, .gguf, folder for SafeTensors) with --merge or --method full')
    .option('--format <fmt>', 'apr | gguf | safetensors for a model output (default from the path)')
    .option('--json', 'print the result and the history as JSON')
    .option('--quiet', 'no progress bar'), 'auto')
    .action((model: string, o: FinetuneCliOptions) => {
      if (!o.output) throw new CliError('give -o <output>');
      if (o.adapter !== undefined) runMerge(model, o, o.output);
      else runTrain(model, o, o.output);
    });
}

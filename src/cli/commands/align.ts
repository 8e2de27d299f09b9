import type { Command } from 'commander';
import { type AlignResult, alignModel } from '../../ops/align.js';
import type { AlignMethod } from '../../train/align/run.js';
import { floatOption, intOption } from '../program.js';
import { CliError, printJson } from '../output.js';
import { EpochTable, stepProgress, usage } from '../training-output.js';
import { addTrainComputeFlags, trainBackendOf } from './train-compute.js';

interface AlignCliOptions {
  method?: string;
  data?: string;
  beta: number;
  lambda: number;
  refModel?: string;
  lora?: boolean;
  rank: number;
  alpha?: number;
  targets?: string;
  epochs: number;
  lr?: number;
  seed: number;
  maxSeqLen: number;
  batchSize: number;
  gradAccum: number;
  valSplit: number;
  output?: string;
  format?: string;
  json?: boolean;
  backend?: string;
  quiet?: boolean;
}

function isMethod(s: string | undefined): s is AlignMethod {
  return s === 'dpo' || s === 'orpo';
}

function printResult(r: AlignResult): void {
  const last = r.history.at(-1);
  const f = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(4));
  process.stdout.write(`\nwrote ${r.output} (${r.format}, ${(r.bytes / 1e6).toFixed(2)} MB): ${r.method}, ${r.trainPairs} train / ${r.valPairs} held-out pairs, ${r.trainableParameters.toLocaleString('en-US')} trainable parameters, reference ${r.reference}\n`);
  process.stdout.write(`held-out reward margin ${f(r.initial['reward_margin'])} → ${f(last?.valMetrics['reward_margin'])}, accuracy ${f(r.initial['accuracy'])} → ${f(last?.valMetrics['accuracy'])}, ${r.seconds.toFixed(1)} s\n`);
}

/** Checks the flags (exit 2 on a bad one) and returns the method. */
function validate(o: AlignCliOptions): AlignMethod {
  if (!isMethod(o.method)) throw new CliError(`give --method dpo|orpo${o.method ? ` (got '${o.method}')` : ''}`);
  usage(o.data !== undefined, 'give --data <prefs.jsonl>');
  usage(o.output !== undefined, 'give -o <output>');
  usage(o.beta > 0 && o.lambda >= 0, '--beta must be > 0 and --lambda ≥ 0');
  usage(o.epochs >= 1 && o.rank >= 1 && o.maxSeqLen >= 2 && o.batchSize >= 1 && o.gradAccum >= 1, '--epochs, --rank, --batch-size and --grad-accum must be ≥ 1, --max-seq-len ≥ 2');
  usage(o.valSplit >= 0 && o.valSplit < 1, '--val-split must be in [0, 1)');
  return o.method;
}

export function registerAlign(program: Command): void {
  addTrainComputeFlags(program
    .command('align')
    .description('preference alignment on {"prompt","chosen","rejected"} JSONL pairs (trl\'s standard or conversational format) with DPO or ORPO; reports reward margins and preference accuracy per epoch')
    .argument('<model>', 'model to align (APR, GGUF, SafeTensors or HF folder)')
    .option('--method <m>', 'dpo | orpo')
    .option('--data <file>', 'JSONL preference pairs: {"prompt","chosen","rejected"} strings (EOS appended to each response), or conversations {"prompt":[messages],"chosen":[messages],"rejected":[messages]} / {"chosen":[messages],"rejected":[messages]} (the shared leading messages are the prompt), rendered with the model\'s chat template; messages are {"role":"system"|"user"|"assistant","content"}')
    .option('--beta <b>', 'DPO β (also the β of the reported implicit reward β·Δlog π/πref)', floatOption('--beta'), 0.1)
    .option('--lambda <l>', 'ORPO λ: weight of the odds-ratio term', floatOption('--lambda'), 0.1)
    .option('--ref-model <model>', 'frozen reference model (default: the model itself, before training)')
    .option('--lora', 'train a LoRA adapter (written as a PEFT folder) instead of all weights')
    .option('--rank <r>', 'LoRA rank', intOption('--rank'), 8)
    .option('--alpha <a>', 'LoRA alpha (default 2·rank)', floatOption('--alpha'))
    .option('--targets <list>', 'LoRA target modules, comma-separated (default q_proj,v_proj)')
    .option('--epochs <n>', 'epochs', intOption('--epochs'), 1)
    .option('--lr <x>', 'peak learning rate (default 5e-4 with --lora, else 5e-5)', floatOption('--lr'))
    .option('--seed <n>', 'seed (held-out split, order, adapter initialisation)', intOption('--seed'), 0)
    .option('--max-seq-len <n>', 'tokens per prompt + response', intOption('--max-seq-len'), 256)
    .option('--batch-size <n>', 'pairs per micro-batch', intOption('--batch-size'), 1)
    .option('--grad-accum <n>', 'micro-batches per optimizer step', intOption('--grad-accum'), 4)
    .option('--val-split <f>', 'fraction of pairs held out', floatOption('--val-split'), 0.2)
    .option('-o, --output <path>', 'output: adapter folder with --lora, else a model (.apr, .gguf, or a SafeTensors folder)')
    .option('--format <fmt>', 'apr | gguf | safetensors for a full model (default from the output path)')
    .option('--json', 'print the result and history as JSON')
    .option('--quiet', 'no progress bar'), 'auto')
    .action((model: string, o: AlignCliOptions) => {
      const method = validate(o);
      const table = new EpochTable([['margin', 'reward_margin'], ['accuracy', 'accuracy'], ['val margin', 'val:reward_margin'], ['val accuracy', 'val:accuracy']], o.json ?? false, method === 'orpo' ? { train: 'nll', val: 'nll' } : null);
      const bar = stepProgress(`align ${method}`, o.quiet ?? false);
      try {
        const r = alignModel({
          model, data: o.data ?? '', output: o.output ?? '', method, beta: o.beta, lambda: o.lambda, lora: o.lora ?? false, rank: o.rank,
          epochs: o.epochs, seed: o.seed, maxSeqLen: o.maxSeqLen, batchSize: o.batchSize, gradAccum: o.gradAccum, valSplit: o.valSplit,
          ...(o.refModel ? { refModel: o.refModel } : {}), ...(o.alpha !== undefined ? { loraAlpha: o.alpha } : {}),
          ...(o.targets ? { targets: o.targets.split(',').map((s) => s.trim()).filter(Boolean) } : {}),
          ...(o.lr !== undefined ? { lr: o.lr } : {}), ...(o.format ? { format: o.format } : {}),
          onEpoch: (rec) => table.row(rec), onProgress: bar.onProgress, backend: trainBackendOf(o),
        });
        if (o.json) printJson(r);
        else printResult(r);
      } finally {
        bar.stop();
      }
    });
}

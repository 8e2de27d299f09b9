import type { Command } from 'commander';
import { type TuneMethod, type TuneResult, tune } from '../../ops/tune.js';
import type { DataTask } from '../../train/data/index.js';
import type { TrialRecord, TuneScheduler, TuneStrategy } from '../../train/tune/search.js';
import { DEFAULT_SPACE, type TuneSpace, spaceProblem } from '../../train/tune/space.js';
import { floatOption, intOption } from '../program.js';
import { CliError, oneOf, printJson, printTable } from '../output.js';
import { addTrainComputeFlags, trainBackendOf } from './train-compute.js';

interface TuneCliOptions {
  data?: string;
  backend?: string;
  method: string;
  budget: number;
  strategy: string;
  scheduler: string;
  scout?: boolean;
  seed: number;
  lrRange: string;
  ranks: string;
  alphas: string;
  epochChoices: string;
  startup: number;
  eta: number;
  targets: string;
  task: string;
  maxSeqLen: number;
  valSplit: number;
  output?: string;
  json?: boolean;
  quiet?: boolean;
}

function numbers(flag: string, list: string): number[] {
  const xs = list.split(',').map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !Number.isFinite(x))) throw new CliError(`${flag} must be a comma-separated list of numbers, got '${list}'`);
  return xs;
}

function spaceOf(o: TuneCliOptions): TuneSpace {
  const lr = numbers('--lr-range', o.lrRange);
  if (lr.length !== 2) throw new CliError(`--lr-range takes two numbers lo,hi, got '${o.lrRange}'`);
  const space: TuneSpace = { lr: [lr[0] ?? 0, lr[1] ?? 0], rank: numbers('--ranks', o.ranks), alpha: numbers('--alphas', o.alphas), epochs: numbers('--epoch-choices', o.epochChoices) };
  const problem = spaceProblem(space);
  if (problem !== undefined) throw new CliError(problem);
  return space;
}

function trialRow(t: TrialRecord): (string | number)[] {
  const c = t.config;
  return [t.trial, t.source, c.lr.toPrecision(3), c.rank, c.alpha, `${t.valLosses.length}/${c.epochs}`, Number.isFinite(t.valLoss) ? t.valLoss.toFixed(4) : String(t.valLoss), t.status];
}

function printTuned(r: TuneResult): void {
  printTable(['trial', 'source', 'lr', 'rank', 'alpha', 'epochs', 'held-out loss', 'status'], r.trials.map(trialRow));
  const gain = r.baseline.valLoss - r.best.valLoss;
  process.stdout.write(`\nbest: trial ${r.best.trial} (${r.best.source}), held-out loss ${r.best.valLoss.toFixed(4)} vs ${r.baseline.valLoss.toFixed(4)} for the default configuration (${gain > 0 ? `−${gain.toFixed(4)}` : 'the default is best'}); ${r.trainExamples} train / ${r.valExamples} held-out examples, ${r.seconds.toFixed(1)} s${r.output ? `; wrote ${r.output}` : ''}\n\n${r.yaml}`);
}

function runTune(model: string, o: TuneCliOptions): void {
  if (o.data === undefined) throw new CliError('give --data <train.jsonl>');
  if (o.budget < 1) throw new CliError('--budget must be ≥ 1');
  if (o.eta < 2 || o.startup < 1) throw new CliError('--eta must be ≥ 2 and --startup ≥ 1');
  if (!(o.valSplit > 0 && o.valSplit < 1)) throw new CliError('--val-split must be in (0, 1): the objective is the held-out loss');
  const targets = o.targets.split(',').map((s) => s.trim()).filter(Boolean);
  const r = tune({
    model, data: o.data, budget: o.budget, method: oneOf<TuneMethod>('--method', o.method, ['lora', 'qlora']),
    strategy: oneOf<TuneStrategy>('--strategy', o.strategy, ['random', 'tpe']), scheduler: oneOf<TuneScheduler>('--scheduler', o.scheduler, ['asha', 'none']),
    scout: o.scout ?? false, seed: o.seed, space: spaceOf(o), startup: o.startup, eta: o.eta, targets, task: oneOf<DataTask>('--task', o.task, ['instruct', 'completion']),
    maxSeqLen: o.maxSeqLen, valSplit: o.valSplit, ...(o.output !== undefined ? { output: o.output } : {}),
    backend: trainBackendOf(o) === 'webgpu' ? 'webgpu' : 'cpu',
    onTrial: (t) => {
      if (!o.quiet && !o.json) process.stderr.write(`trial ${t.trial}/${o.budget}: ${trialRow(t).slice(1).join(' ')}\n`);
    },
  });
  if (o.json) printJson(r);
  else printTuned(r);
}

export function registerTune(program: Command): void {
  const list = (xs: readonly number[]): string => xs.join(',');
  addTrainComputeFlags(program
    .command('tune')
    .description('hyper-parameter search for LoRA/QLoRA finetuning (lr, rank, alpha, epochs): TPE or random, ASHA early stopping, objective = held-out loss')
    .argument('<model>', 'base model (any format apr reads)')
    .option('--data <file>', 'JSONL training data (as apr finetune); a seeded part is held out for the objective')
    .option('--method <m>', 'lora | qlora', 'lora')
    .option('--budget <n>', 'trials (the first is the default configuration)', intOption('--budget'), 8)
    .option('--strategy <s>', 'tpe | random', 'tpe')
    .option('--scheduler <s>', 'asha (stop weak trials at rungs of 1, η, η², … epochs) | none', 'asha')
    .option('--scout', 'quick pass: one epoch per trial')
    .option('--seed <n>', 'seed (split, proposals, training)', intOption('--seed'), 42)
    .option('--lr-range <lo,hi>', 'learning-rate range (log-uniform)', list(DEFAULT_SPACE.lr))
    .option('--ranks <list>', 'rank choices', list(DEFAULT_SPACE.rank))
    .option('--alphas <list>', 'alpha choices', list(DEFAULT_SPACE.alpha))
    .option('--epoch-choices <list>', 'epoch choices', list(DEFAULT_SPACE.epochs))
    .option('--startup <n>', 'trials (the default included) before TPE takes over', intOption('--startup'), 3)
    .option('--eta <n>', 'ASHA reduction factor', intOption('--eta'), 2)
    .option('--targets <list>', 'adapted modules, comma-separated', 'q_proj,v_proj')
    .option('--task <t>', 'instruct | completion', 'instruct')
    .option('--max-seq-len <n>', 'tokens per example', intOption('--max-seq-len'), 512)
    .option('--val-split <f>', 'fraction of the records held out for the objective', floatOption('--val-split'), 0.2)
    .option('-o, --output <file.yaml>', "write the best configuration as a recipe's finetune: section")
    .option('--json', 'print every trial and the best as JSON')
    .option('--quiet', 'no per-trial lines on stderr'), 'explicit')
    .action((model: string, o: TuneCliOptions) => runTune(model, o));
}

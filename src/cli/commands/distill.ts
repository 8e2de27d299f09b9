import type { Command } from 'commander';
import { type DistillResult, distillModel } from '../../ops/distill.js';
import { DISTILL_DEFAULTS, type DistillStrategy } from '../../train/distill/run.js';
import { floatOption, intOption } from '../program.js';
import { CliError, printJson } from '../output.js';
import { EpochTable, num, stepProgress, usage } from '../training-output.js';
import { addTrainComputeFlags } from './train-compute.js';

const STRATEGIES: readonly DistillStrategy[] = ['standard', 'progressive', 'ensemble'];


interface DistillCliOptions {
  student?: string;
  data?: string;
  strategy: string;
  teachers?: string;
  temperature: number;
  alpha: number;
  epochs: number;
  lr?: number;
  seed: number;
  maxSeqLen: number;
  batchSize: number;
  gradAccum: number;
  valSplit: number;
  assistantOnlyLoss?: boolean;
  output?: string;
  format?: string;
  json?: boolean;
  quiet?: boolean;
}

function isStrategy(s: string): s is DistillStrategy {
  return (STRATEGIES as readonly string[]).includes(s);
}

function printResult(r: DistillResult): void {
  const last = r.history.at(-1);
  process.stdout.write(`\nwrote ${r.output} (${r.format}, ${(r.bytes / 1e6).toFixed(2)} MB): student ${r.studentParameters.toLocaleString('en-US')} parameters, ${r.strategy} from ${r.teachers.join(', ')}, T=${r.temperature}, α=${r.alpha}, ${r.trainWindows} train / ${r.valWindows} val windows, train ppl ${num(last?.trainPpl, 3)}, val ppl ${num(last?.valPpl, 3)}, ${r.seconds.toFixed(1)} s\n`);
}

/** Checks the flags (exit 2 on a bad one); returns the strategy and the extra teachers. */
function validate(o: DistillCliOptions): { strategy: DistillStrategy; teachers: string[] } {
  usage(o.student !== undefined, 'give --student <model> or --student init:<model>');
  usage(o.data !== undefined, 'give --data <text.jsonl>');
  usage(o.output !== undefined, 'give -o <output>');
  if (!isStrategy(o.strategy)) throw new CliError(`unknown --strategy '${o.strategy}' (expected ${STRATEGIES.join(', ')})`);
  usage(o.temperature > 0, '--temperature must be > 0');
  usage(o.alpha >= 0 && o.alpha <= 1, '--alpha must be in [0, 1]');
  usage(o.epochs >= 1 && o.maxSeqLen >= 2 && o.batchSize >= 1 && o.gradAccum >= 1, '--epochs, --batch-size and --grad-accum must be ≥ 1, --max-seq-len ≥ 2');
  usage(o.valSplit >= 0 && o.valSplit < 1, '--val-split must be in [0, 1)');
  const teachers = o.teachers ? o.teachers.split(',').map((s) => s.trim()).filter(Boolean) : [];
  usage(o.strategy !== 'ensemble' || teachers.length > 0, '--strategy ensemble needs --teachers <t2,...>');
  usage(o.strategy === 'ensemble' || teachers.length === 0, '--teachers is only for --strategy ensemble');
  return { strategy: o.strategy, teachers };
}

export function registerDistill(program: Command): void {
  addTrainComputeFlags(program
    .command('distill')
    .description('knowledge distillation: train a student on α·T²·KL(softmax(t/T) ‖ softmax(s/T)) + (1−α)·CE over a text JSONL')
    .argument('<teacher>', 'teacher model (APR, GGUF, SafeTensors or HF folder)')
    .option('--student <model>', 'student model to train, or init:<model> for a freshly initialised copy of that model\'s architecture (random weights, its tokenizer)')
    .option('--data <file>', 'JSONL, one {"text": ...} per line, or {"messages":[{"role":"system"|"user"|"assistant","content"},...]} conversations rendered with the student\'s chat template (one window each, truncated to --max-seq-len)')
    .option('--assistant-only-loss', 'messages data: distil only the positions that predict assistant tokens (content and end-of-turn) of every assistant turn (default; trl\'s GKD likewise scores only labelled positions, its collator labelling the last turn)')
    .option('--no-assistant-only-loss', 'messages data: every position of the conversation')
    .option('--strategy <s>', 'standard | progressive (data ordered easy→hard by the teacher\'s loss) | ensemble (mean of several teachers)', 'standard')
    .option('--teachers <list>', 'ensemble: more teachers, comma-separated (the positional teacher is the first)')
    .option('--temperature <T>', 'softening temperature', floatOption('--temperature'), DISTILL_DEFAULTS.temperature)
    .option('--alpha <a>', 'weight of the distillation term (1 − α goes to plain cross-entropy)', floatOption('--alpha'), DISTILL_DEFAULTS.alpha)
    .option('--epochs <n>', 'epochs', intOption('--epochs'), 1)
    .option('--lr <x>', 'peak learning rate (default 1e-3)', floatOption('--lr'))
    .option('--seed <n>', 'seed (data split, order, initialisation)', intOption('--seed'), 0)
    .option('--max-seq-len <n>', 'tokens per training window', intOption('--max-seq-len'), 128)
    .option('--batch-size <n>', 'windows per micro-batch', intOption('--batch-size'), 1)
    .option('--grad-accum <n>', 'micro-batches per optimizer step', intOption('--grad-accum'), 4)
    .option('--val-split <f>', 'fraction of the JSONL records held out (their windows form the validation set)', floatOption('--val-split'), 0.1)
    .option('-o, --output <path>', 'output model (.apr, .gguf, or a folder for SafeTensors)')
    .option('--format <fmt>', 'apr | gguf | safetensors (default from the output path)')
    .option('--json', 'print the result and history as JSON')
    .option('--quiet', 'no progress bar'))
    .action((teacher: string, o: DistillCliOptions) => {
      const { strategy, teachers } = validate(o);
      const table = new EpochTable([['kl', 'kl'], ['ce', 'ce'], ['val kl', 'val:kl']], o.json ?? false);
      const bar = stepProgress('distill', o.quiet ?? false);
      try {
        const r = distillModel({
          teacher, student: o.student ?? '', data: o.data ?? '', output: o.output ?? '', strategy, temperature: o.temperature, alpha: o.alpha,
          epochs: o.epochs, seed: o.seed, maxSeqLen: o.maxSeqLen, batchSize: o.batchSize, gradAccum: o.gradAccum, valSplit: o.valSplit,
          assistantOnlyLoss: o.assistantOnlyLoss ?? true, ...(teachers.length ? { teachers } : {}), ...(o.lr !== undefined ? { lr: o.lr } : {}), ...(o.format ? { format: o.format } : {}),
          onEpoch: (rec) => table.row(rec), onProgress: bar.onProgress,
        });
        if (o.json) printJson(r);
        else printResult(r);
      } finally {
        bar.stop();
      }
    });
}

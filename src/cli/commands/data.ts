/** `apr data prep|decontaminate|dedup|quality|split|audit`: streaming JSONL dataset tools (src/data). */
import type { Command } from 'commander';
import { auditData } from '../../data/audit.js';
import { decontaminate } from '../../data/decontaminate.js';
import { dedupData } from '../../data/dedup.js';
import { prepData } from '../../data/prep.js';
import { qualityData } from '../../data/quality.js';
import { splitData } from '../../data/split.js';
import { EXIT } from '../exit-codes.js';
import { printJson } from '../output.js';
import { floatOption, intOption } from '../program.js';
import { DATA_HELP, type ReadFlags, printAudit, printDecontaminate, printDedup, printQuality, readOpts, need } from './data-output.js';

function emit<T>(json: boolean | undefined, report: T, text: (r: T) => void): void {
  if (json) printJson(report);
  else text(report);
}

function registerPrep(data: Command): void {
  data
    .command('prep')
    .description('instruction/response pairs from Python source: every function or class with a docstring')
    .argument('<src-dir>', 'folder of Python source (*.py, walked recursively in sorted order)')
    .option('-o, --output <file>', 'output JSONL')
    .option('--corpus <name>', 'a "corpus" field on every row')
    .option('--min-lines <n>', 'shortest unit kept, in source lines', intOption('--min-lines'), 3)
    .option('--max-lines <n>', 'longest unit kept, in source lines', intOption('--max-lines'), 200)
    .option('--json', 'print the report as JSON')
    .addHelpText('after', DATA_HELP.prep)
    .action(async (src: string, o: { output?: string; corpus?: string; minLines: number; maxLines: number; json?: boolean }) => {
      need(o.output !== undefined, 'give -o <out.jsonl>');
      need(o.minLines >= 1 && o.maxLines >= o.minLines, '--min-lines must be ≥ 1 and ≤ --max-lines');
      const r = await prepData({ source: src, output: o.output ?? '', minLines: o.minLines, maxLines: o.maxLines, ...(o.corpus ? { corpus: o.corpus } : {}) });
      emit(o.json, r, () => process.stdout.write(`wrote ${r.output}: ${r.pairs} pairs from ${r.units} units in ${r.files} files (${r.skipped_no_docstring} without a docstring, ${r.skipped_length} outside ${r.min_lines}–${r.max_lines} lines)\n`));
    });
}

interface DecontamFlags extends ReadFlags {
  reference?: string[];
  ngram: number;
  threshold: number;
  maxRate: number;
  output?: string;
}

function registerDecontaminate(data: Command): void {
  data
    .command('decontaminate')
    .description('n-gram overlap of a training JSONL with benchmark JSONL files; -o writes the rows no benchmark flags')
    .argument('<data>', 'training JSONL')
    .option('--reference <files...>', 'benchmark JSONL files (HumanEval, MBPP, ...)')
    .option('--ngram <n>', 'n-gram length in normalised tokens', intOption('--ngram'), 10)
    .option('--threshold <t>', 'flag a row when shared ≥ 1 and shared/|row n-grams| ≥ t (0: any shared n-gram)', floatOption('--threshold'), 0)
    .option('--max-rate <r>', 'a benchmark passes when flagged rows / rows < r', floatOption('--max-rate'), 0.01)
    .option('-o, --output <file>', 'write the clean rows here')
    .option('--skip-bad', 'report malformed lines and go on (default: stop at the first, exit 3)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', DATA_HELP.decontaminate)
    .action(async (file: string, o: DecontamFlags) => {
      need((o.reference ?? []).length > 0, 'give --reference <bench.jsonl...>');
      need(o.ngram >= 1, '--ngram must be ≥ 1');
      need(o.threshold >= 0 && o.threshold <= 1, '--threshold must be in [0, 1]');
      const r = await decontaminate({ data: file, references: o.reference ?? [], ngram: o.ngram, threshold: o.threshold, maxRate: o.maxRate, ...readOpts(o), ...(o.output ? { output: o.output } : {}) });
      emit(o.json, r, printDecontaminate);
      if (!r.passed && o.output === undefined) process.exitCode = EXIT.failed;
    });
}

interface DedupFlags extends ReadFlags {
  output?: string;
  seed: number;
  bands: number;
  bandRows: number;
  exactOnly?: boolean;
}

function registerDedup(data: Command): void {
  data
    .command('dedup')
    .description('drop exact duplicates and MinHash/LSH near-duplicates, keeping first occurrences')
    .argument('<data>', 'JSONL')
    .option('-o, --output <file>', 'write the kept rows here')
    .option('--seed <n>', 'MinHash seed', intOption('--seed'), 42)
    .option('--bands <b>', 'LSH bands', intOption('--bands'), 4)
    .option('--band-rows <r>', 'MinHash values per band', intOption('--band-rows'), 8)
    .option('--exact-only', 'exact duplicates only')
    .option('--skip-bad', 'report malformed lines and go on (default: stop at the first, exit 3)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', DATA_HELP.dedup)
    .action(async (file: string, o: DedupFlags) => {
      need(o.bands >= 1 && o.bandRows >= 1 && o.bands * o.bandRows <= 1024, '--bands and --band-rows must be ≥ 1, their product ≤ 1024');
      const r = await dedupData({ data: file, seed: o.seed, bands: o.bands, rows: o.bandRows, exactOnly: o.exactOnly ?? false, ...readOpts(o), ...(o.output ? { output: o.output } : {}) });
      emit(o.json, r, printDedup);
    });
}

function registerQuality(data: Command): void {
  data
    .command('quality')
    .description('100-point quality score per row (rubric below); exit 1 when the mean is under --min-score')
    .argument('<data>', 'JSONL')
    .option('--min-score <s>', 'passing mean score, 0–100', floatOption('--min-score'), 80)
    .option('-o, --output <file>', 'write the rows scoring ≥ --min-score here')
    .option('--skip-bad', 'report malformed lines and go on (default: stop at the first, exit 3)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', DATA_HELP.quality)
    .action(async (file: string, o: ReadFlags & { minScore: number; output?: string }) => {
      need(o.minScore >= 0 && o.minScore <= 100, '--min-score must be in [0, 100]');
      const r = await qualityData({ data: file, minScore: o.minScore, ...readOpts(o), ...(o.output ? { output: o.output } : {}) });
      emit(o.json, r, printQuality);
      if (!r.passed) process.exitCode = EXIT.failed;
    });
}

interface SplitFlags extends ReadFlags {
  output?: string;
  train: number;
  val: number;
  test: number;
  seed: number;
}

function registerSplit(data: Command): void {
  data
    .command('split')
    .description('deterministic train/val/test split (seeded permutation; exact part sizes)')
    .argument('<data>', 'JSONL')
    .option('-o, --output <prefix>', 'PREFIX-{train,val,test}.jsonl, or FOLDER/{train,val,test}.jsonl for an existing folder')
    .option('--train <f>', 'train fraction', floatOption('--train'), 0.8)
    .option('--val <f>', 'validation fraction', floatOption('--val'), 0.1)
    .option('--test <f>', 'test fraction', floatOption('--test'), 0.1)
    .option('--seed <n>', 'seed of the permutation', intOption('--seed'), 42)
    .option('--skip-bad', 'report malformed lines and go on (default: stop at the first, exit 3)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', DATA_HELP.split)
    .action(async (file: string, o: SplitFlags) => {
      need(o.output !== undefined, 'give -o <prefix>');
      need([o.train, o.val, o.test].every((f) => f >= 0) && Math.abs(o.train + o.val + o.test - 1) < 1e-9, '--train, --val and --test must be ≥ 0 and sum to 1');
      const r = await splitData({ data: file, output: o.output ?? '', train: o.train, val: o.val, test: o.test, seed: o.seed, ...readOpts(o) });
      emit(o.json, r, () => process.stdout.write(`${r.parts.map((p) => `${p.name} ${p.rows} → ${p.path}`).join('\n')}\n`));
    });
}

function registerAudit(data: Command): void {
  data
    .command('audit')
    .description('counts, kinds, lengths, duplicates and empty fields of a JSONL dataset')
    .argument('<data>', 'JSONL')
    .option('--skip-bad', 'report malformed lines and go on (default: stop at the first, exit 3)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', DATA_HELP.audit)
    .action(async (file: string, o: ReadFlags) => {
      emit(o.json, await auditData(file, readOpts(o)), printAudit);
    });
}

export function registerData(program: Command): void {
  const data = program
    .command('data')
    .description('dataset tools over JSONL, streamed line by line: prep, decontaminate, dedup, quality, split, audit')
    .addHelpText('after', DATA_HELP.common);
  registerPrep(data);
  registerDecontaminate(data);
  registerDedup(data);
  registerQuality(data);
  registerSplit(data);
  registerAudit(data);
}

/**
 * Distillation vs plain training (issues 10 and 18): tiny-coder-llama distilled into a student with
 * tiny-draft-llama's architecture, against the same student trained with plain cross-entropy on the same
 * token windows (same seed, initialisation, order, steps and learning rate; α = 0 runs no teacher).
 *   nice -n 10 npx tsx bench/distill.ts [--student init|pretrained] [--runs ce,kd,kd:1:0.5] [--strategy standard]
 *     [--seed 0] [--windows 150] [--seq-len 128] [--epochs 2] [--lr 2e-3] [--chunks 16]
 * `--student init`: a fresh initialisation (seeded); `pretrained`: the tiny-draft-llama weights themselves.
 * `--runs`: `ce` = plain cross-entropy; `kd` = distillation at the library's defaults (DISTILL_DEFAULTS);
 * `kd:T:α` = distillation at temperature T and weight α. Training text: local CPython standard-library modules
 * (files whose text appears in heldout.py.txt are skipped). Figures are true perplexities of the trained
 * student, never exp of the mixed loss: train ppl = exp(mean next-token CE) over the training windows after
 * training; held-out ppl = src/eval/perplexity.ts on the first `chunks` non-overlapping windows of `seq-len`
 * tokens of heldout.py.txt (tokens 1..seq-len−1 of each scored).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { perplexity } from '../src/eval/perplexity.js';
import { openModel } from '../src/formats/open.js';
import { loadModel, type Model } from '../src/model/index.js';
import type { ModelBundle } from '../src/tensor/bundle.js';
import { loadTokenizer } from '../src/tokenizer/index.js';
import { DISTILL_DEFAULTS, type DistillStrategy, distillRun, type LogitsSource, meanCrossEntropy } from '../src/train/distill/run.js';
import { runTraining, stepsPerEpoch } from '../src/train/loop.js';
import { createTrainableModel, initRandomBundle } from '../src/train/model/index.js';
import type { TrainingOptions } from '../src/train/types.js';

const FIXTURES = resolve(process.cwd(), '../shared/fixtures');
const CODER = join(FIXTURES, 'models/tiny-coder-llama');
const DRAFT = join(FIXTURES, 'models/tiny-draft-llama');
const HELDOUT = readFileSync(join(FIXTURES, 'reference/heldout.py.txt'), 'utf8');
const STDLIB = ['argparse', 'dataclasses', 'functools', 'inspect', 'typing', 'pathlib', 'textwrap', 'shutil', 'logging/__init__', 'subprocess'];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const WINDOWS = Number(arg('windows', '150'));
const SEQ = Number(arg('seq-len', '128'));
const EPOCHS = Number(arg('epochs', '2'));
const LR = Number(arg('lr', '2e-3'));
const CHUNKS = Number(arg('chunks', '16'));
const STRATEGY = arg('strategy', 'standard') as DistillStrategy;
const SEED = Number(arg('seed', '0'));
const STUDENT = arg('student', 'init');
const RUNS = arg('runs', 'ce,kd').split(',');

interface Method { method: string; temperature: number; alpha: number }
interface Row extends Method { steps: number; trainPpl: number; heldoutPpl: number; seconds: number }

/** `ce`, `kd` (library defaults) or `kd:T:α`. */
function parseRun(spec: string): Method {
  if (spec === 'ce') return { method: 'plain CE', temperature: DISTILL_DEFAULTS.temperature, alpha: 0 };
  const [, t, a] = spec.split(':');
  const temperature = t === undefined ? DISTILL_DEFAULTS.temperature : Number(t);
  const alpha = a === undefined ? DISTILL_DEFAULTS.alpha : Number(a);
  return { method: t === undefined ? `KD ${STRATEGY} (defaults)` : `KD ${STRATEGY}`, temperature, alpha };
}

function label(m: Method): string {
  return m.alpha === 0 ? m.method : `${m.method} T=${m.temperature} α=${m.alpha}`;
}

function trainingText(): string {
  const dir = ['/usr/lib/python3.11', '/usr/lib/python3.12', '/usr/lib/python3'].find((d) => existsSync(join(d, 'argparse.py')));
  if (!dir) throw new Error('no CPython standard library found');
  const texts = STDLIB.map((m) => join(dir, `${m}.py`)).filter(existsSync).map((f) => readFileSync(f, 'utf8'));
  return texts.filter((t) => !HELDOUT.includes(t.slice(2000, 2300))).join('\n');
}

function windows(ids: number[]): number[][] {
  const out: number[][] = [];
  for (let b = 0; b + SEQ <= ids.length && out.length < WINDOWS; b += SEQ) out.push(ids.slice(b, b + SEQ));
  return out;
}

function heldoutPpl(bundle: ModelBundle, ids: number[]): number {
  const model = loadModel(bundle);
  try {
    return perplexity(model, ids, { context: SEQ, chunks: CHUNKS }).perplexity;
  } finally {
    model.dispose();
  }
}

/** The teacher's logits, computed once per window for all the runs of this process. */
function memoTeacher(model: Model): LogitsSource {
  const memo = new Map<ArrayLike<number>, Float32Array>();
  return {
    logitsAll(tokens) {
      const hit = memo.get(tokens);
      if (hit) return hit;
      const logits = model.logitsAll(tokens);
      memo.set(tokens, logits);
      return logits;
    },
  };
}

interface Setup { studentBundle: () => ModelBundle; teacher: LogitsSource; train: number[][]; heldIds: number[]; options: TrainingOptions }

function trainOne(s: Setup, m: Method): Row {
  const t0 = performance.now();
  const student = createTrainableModel(s.studentBundle(), { method: 'full', seed: SEED });
  runTraining({
    ...distillRun({ student, teachers: [s.teacher], train: s.train, val: [], settings: { strategy: STRATEGY, temperature: m.temperature, alpha: m.alpha }, options: s.options }),
    onEpoch: (r) => process.stderr.write(`${label(m)}: epoch ${r.epoch} train ce ${(r.metrics['ce'] ?? NaN).toFixed(4)} (${r.seconds.toFixed(0)} s)\n`),
  });
  const trainPpl = Math.exp(meanCrossEntropy(s.train.map((w) => ({ logits: student.logits(w), tokens: w })), student.config.vocab_size));
  const steps = EPOCHS * stepsPerEpoch(s.train.length, s.options);
  return { ...m, steps, trainPpl, heldoutPpl: heldoutPpl(student.toBundle(), s.heldIds), seconds: (performance.now() - t0) / 1000 };
}

function printTable(rows: readonly Row[], refs: Record<string, number>): void {
  const f = (x: number): string => x.toFixed(2);
  process.stdout.write(`\nstudent ${STUDENT} (tiny-draft-llama architecture), ${WINDOWS} windows × ${SEQ} tokens, ${EPOCHS} epochs, lr ${LR}, seed ${SEED}; held-out: ${CHUNKS} windows of ${SEQ} tokens\n`);
  process.stdout.write(`reference held-out ppl: ${Object.entries(refs).map(([k, v]) => `${k} ${f(v)}`).join(', ')}\n\n`);
  process.stdout.write('| method | T | α | steps | train ppl | held-out ppl | time s |\n|---|---|---|---|---|---|---|\n');
  for (const r of rows) process.stdout.write(`| ${r.method} | ${r.alpha === 0 ? '-' : r.temperature} | ${r.alpha} | ${r.steps} | ${f(r.trainPpl)} | ${f(r.heldoutPpl)} | ${r.seconds.toFixed(0)} |\n`);
}

function main(): void {
  const arch = openModel(DRAFT);
  if (!arch.tokenizer) throw new Error('tiny-draft-llama has no tokenizer');
  const tok = loadTokenizer(arch.tokenizer);
  const train = windows(tok.encode(trainingText(), { addSpecialTokens: false }));
  const heldIds = tok.encode(HELDOUT, { addSpecialTokens: false });
  const teacherModel = loadModel(openModel(CODER));
  const options: TrainingOptions = { epochs: EPOCHS, batchSize: 1, gradAccum: 4, lr: LR, warmupRatio: 0.05, minLrRatio: 0.1, weightDecay: 0, maxGradNorm: 1, seed: SEED };
  const studentBundle = (): ModelBundle => (STUDENT === 'pretrained' ? openModel(DRAFT) : initRandomBundle(arch.config, arch.tokenizer, SEED));
  const refs = { 'student before training': heldoutPpl(studentBundle(), heldIds), 'teacher tiny-coder-llama': perplexity(teacherModel, heldIds, { context: SEQ, chunks: CHUNKS }).perplexity };
  const setup: Setup = { studentBundle, teacher: memoTeacher(teacherModel), train, heldIds, options };
  const rows = RUNS.map((spec) => trainOne(setup, parseRun(spec)));
  printTable(rows, refs);
  process.stdout.write(`\n${JSON.stringify({ student: STUDENT, strategy: STRATEGY, seed: SEED, windows: train.length, seqLen: SEQ, epochs: EPOCHS, lr: LR, chunks: CHUNKS, defaults: DISTILL_DEFAULTS, refs, rows })}\n`);
}

main();

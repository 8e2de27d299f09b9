/**
 * Distillation vs plain training (issue 10): tiny-coder-llama distilled into a freshly initialised copy of
 * tiny-draft-llama's architecture, against the same fresh student trained with plain cross-entropy on the
 * same token windows (same seed, initialisation, order, steps and learning rate; α = 0 runs no teacher).
 *   nice -n 10 npx tsx bench/distill.ts [--seed 0] [--strategies standard,progressive] [--windows 150] [--seq-len 128] [--epochs 2] [--lr 2e-3] [--T 3] [--alpha 0.7] [--chunks 16]
 * Training text: local CPython standard-library modules (files whose text appears in heldout.py.txt are
 * skipped). Metric: perplexity on the first `chunks` non-overlapping windows of `seq-len` tokens of
 * heldout.py.txt, tokens 1..seq-len−1 of each scored (src/eval/perplexity.ts on the written-out student).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { perplexity } from '../src/eval/perplexity.js';
import { openModel } from '../src/formats/open.js';
import { loadModel } from '../src/model/index.js';
import type { ModelBundle } from '../src/tensor/bundle.js';
import { loadTokenizer } from '../src/tokenizer/index.js';
import { distillRun, type DistillStrategy } from '../src/train/distill/run.js';
import { runTraining } from '../src/train/loop.js';
import { createTrainableModel, initRandomBundle } from '../src/train/model/index.js';
import type { EpochRecord, TrainingOptions } from '../src/train/types.js';

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
const T = Number(arg('T', '3'));
const ALPHA = Number(arg('alpha', '0.7'));
const CHUNKS = Number(arg('chunks', '16'));
const STRATEGIES = arg('strategies', 'standard').split(',') as DistillStrategy[];
const SEED = Number(arg('seed', '0'));

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

interface Row { name: string; ppl: number; history: EpochRecord[]; seconds: number }

function main(): void {
  const teacherBundle = openModel(CODER);
  const arch = openModel(DRAFT);
  if (!arch.tokenizer) throw new Error('tiny-draft-llama has no tokenizer');
  const tok = loadTokenizer(arch.tokenizer);
  const train = windows(tok.encode(trainingText(), { addSpecialTokens: false }));
  const heldIds = tok.encode(HELDOUT, { addSpecialTokens: false });
  const teacher = loadModel(teacherBundle);
  const options: TrainingOptions = { epochs: EPOCHS, batchSize: 1, gradAccum: 4, lr: LR, warmupRatio: 0.05, minLrRatio: 0.1, weightDecay: 0, maxGradNorm: 1, seed: SEED };
  const rows: Row[] = [];
  const fresh = initRandomBundle(arch.config, arch.tokenizer, SEED);
  rows.push({ name: 'fresh student (untrained)', ppl: heldoutPpl(fresh, heldIds), history: [], seconds: 0 });
  rows.push({ name: 'teacher tiny-coder-llama', ppl: perplexity(teacher, heldIds, { context: SEQ, chunks: CHUNKS }).perplexity, history: [], seconds: 0 });
  const variants: [string, number, DistillStrategy][] = [['plain CE (α = 0, no teacher)', 0, 'standard'], ...STRATEGIES.map((s): [string, number, DistillStrategy] => [`KD ${s} (T = ${T}, α = ${ALPHA})`, ALPHA, s])];
  for (const [name, alpha, strategy] of variants) {
    const t0 = performance.now();
    const student = createTrainableModel(initRandomBundle(arch.config, arch.tokenizer, SEED), { method: 'full', seed: SEED });
    const history = runTraining({
      ...distillRun({ student, teachers: [teacher], train, val: [], settings: { strategy, temperature: T, alpha }, options }),
      onEpoch: (r) => process.stderr.write(`${name}: epoch ${r.epoch} train loss ${r.trainLoss.toFixed(4)} (${r.seconds.toFixed(0)} s)\n`),
    });
    rows.push({ name, ppl: heldoutPpl(student.toBundle(), heldIds), history, seconds: (performance.now() - t0) / 1000 });
  }
  process.stdout.write(`\n${train.length} windows × ${SEQ} tokens, ${EPOCHS} epochs, ${EPOCHS * Math.ceil(train.length / 4)} AdamW steps, lr ${LR}, seed ${SEED}; heldout: ${CHUNKS} windows of ${SEQ} tokens\n\n`);
  process.stdout.write('| model | heldout ppl | last train loss | time s |\n|---|---|---|---|\n');
  for (const r of rows) process.stdout.write(`| ${r.name} | ${r.ppl.toFixed(2)} | ${r.history.at(-1)?.trainLoss.toFixed(4) ?? '-'} | ${r.seconds.toFixed(0)} |\n`);
  process.stdout.write(`\n${JSON.stringify({ seed: SEED, windows: train.length, seqLen: SEQ, epochs: EPOCHS, lr: LR, temperature: T, alpha: ALPHA, chunks: CHUNKS, rows })}\n`);
}

main();

/**
 * LoRA vs QLoRA on a narrow domain (issue 10): tiny-coder-llama adapted to the `json` package of the local
 * Python standard library with `apr finetune` (the op), same rank, targets, data, seed, schedule and steps.
 *   nice -n 10 npx tsx bench/finetune-lora-qlora.ts [--records 64] [--chars 450] [--seq-len 128] [--epochs 3]
 *     [--lr 1e-3] [--rank 8] [--grad-accum 2] [--methods lora,qlora] [--package json]
 * Data: the package's .py files cut into records of about `chars` characters on line boundaries (file order),
 * the first `records` of them; 20 % held out by record (seeded). Reported: validation loss (mean next-token CE
 * over the held-out chunks) of the base model (epoch 0) and after each epoch, and the bytes the frozen base
 * weights take in memory (`baseWeightBytes`: f32 for LoRA, NF4 blocks for QLoRA).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { openModel } from '../src/formats/open.js';
import { loadModel } from '../src/model/index.js';
import { type FinetuneMethod, type FinetuneResult, finetune } from '../src/ops/finetune.js';
import { loadTokenizer } from '../src/tokenizer/index.js';
import { loadDataset } from '../src/train/data/index.js';
import { crossEntropy, nextTokenTargets } from '../src/train/losses/cross-entropy.js';

const BASE = resolve(process.cwd(), '../shared/fixtures/models/tiny-coder-llama');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const RECORDS = Number(arg('records', '64'));
const CHARS = Number(arg('chars', '450'));
const SEQ = Number(arg('seq-len', '128'));
const EPOCHS = Number(arg('epochs', '3'));
const LR = Number(arg('lr', '1e-3'));
const RANK = Number(arg('rank', '8'));
const ACCUM = Number(arg('grad-accum', '2'));
const METHODS = arg('methods', 'lora,qlora').split(',') as FinetuneMethod[];
const PACKAGE = arg('package', 'json');
const SEED = 42;
const VAL_SPLIT = 0.2;

function packageRecords(): string[] {
  const init = execFileSync('python3', ['-c', `import ${PACKAGE};print(${PACKAGE}.__file__)`], { encoding: 'utf8' }).trim();
  const dir = dirname(init);
  const files = readdirSync(dir).filter((f) => f.endsWith('.py')).sort();
  const records: string[] = [];
  for (const f of files) {
    let cur = '';
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      cur += `${line}\n`;
      if (cur.length >= CHARS) {
        records.push(cur);
        cur = '';
      }
    }
    if (cur.trim()) records.push(cur);
  }
  return records.slice(0, RECORDS);
}

/** Validation loss of the untouched base on the same held-out chunks (epoch 0). */
function baseValLoss(data: string): number {
  const bundle = openModel(BASE);
  try {
    const tok = loadTokenizer(bundle.tokenizer ?? { json: '' }, { modelConfig: bundle.config });
    const { val } = loadDataset(data, tok, { task: 'completion', maxSeqLen: SEQ, valSplit: VAL_SPLIT, seed: SEED });
    const model = loadModel(bundle);
    let sum = 0, weight = 0;
    for (const e of val) {
      const targets = nextTokenTargets(e.tokens, e.mask);
      const n = targets.filter((t) => t >= 0).length;
      sum += crossEntropy({ logits: model.logitsAll([...e.tokens]), targets, vocab: bundle.config.vocab_size }).loss * n;
      weight += n;
    }
    return sum / weight;
  } finally {
    bundle.tensors.close();
  }
}

const tmp = mkdtempSync(join(tmpdir(), 'apr-bench-ft-'));
try {
  const data = join(tmp, `${PACKAGE}.jsonl`);
  const recs = packageRecords();
  writeFileSync(data, `${recs.map((text) => JSON.stringify({ text })).join('\n')}\n`);
  const base = baseValLoss(data);
  process.stderr.write(`${recs.length} records of the ${PACKAGE} package; base val loss ${base.toFixed(4)}\n`);
  const results: FinetuneResult[] = [];
  for (const method of METHODS) {
    results.push(finetune({
      model: BASE, data, output: join(tmp, method), method, rank: RANK, alpha: 2 * RANK, task: 'completion', maxSeqLen: SEQ, valSplit: VAL_SPLIT,
      training: { epochs: EPOCHS, lr: LR, batchSize: 1, gradAccum: ACCUM, warmupRatio: 0.1, seed: SEED },
      onEpoch: (r) => process.stderr.write(`${method} epoch ${r.epoch}: train ${r.trainLoss.toFixed(4)} val ${r.valLoss?.toFixed(4)} (${r.seconds.toFixed(0)} s)\n`),
    }));
  }
  const head = ['method', 'base bytes', 'epoch 0 val', ...Array.from({ length: EPOCHS }, (_v, i) => `epoch ${i + 1} val`), 'train s'];
  process.stdout.write(`| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|\n`);
  for (const r of results) {
    const cells = [r.method, r.baseWeightBytes.toLocaleString('en-US'), base.toFixed(4), ...r.history.map((h) => (h.valLoss ?? Number.NaN).toFixed(4)), r.seconds.toFixed(0)];
    process.stdout.write(`| ${cells.join(' | ')} |\n`);
  }
  const lora = results.find((r) => r.method === 'lora'), qlora = results.find((r) => r.method === 'qlora');
  const summary = lora && qlora ? {
    qloraValOverLora: (qlora.history.at(-1)?.valLoss ?? Number.NaN) / (lora.history.at(-1)?.valLoss ?? Number.NaN),
    qloraBaseBytesOverLora: qlora.baseWeightBytes / lora.baseWeightBytes,
  } : {};
  process.stdout.write(`${JSON.stringify({ package: PACKAGE, records: recs.length, seqLen: SEQ, rank: RANK, lr: LR, epochs: EPOCHS, baseValLoss: base, ...summary, runs: results.map(({ history, method, baseWeightBytes, trainExamples, valExamples, trainTokens, seconds }) => ({ method, baseWeightBytes, trainExamples, valExamples, trainTokens, seconds, history })) }, null, 2)}\n`);
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

/**
 * Training tokens/s on the CPU at 1 and 2 threads (issue 27): LoRA rank 16 on q_proj,v_proj of tiny-coder-llama
 * and of the ~1 B synthetic Llama (bench/synthetic-model.ts, Q4_K_M, 22 layers; written to .cache/ when
 * missing), through the real loop (runTraining: forward, masked cross-entropy, backward, clipping, AdamW).
 *   nice -n 10 npx tsx bench/train-speed.ts [--models tiny,1b] [--methods lora[,qlora]] [--reps 2] [--json]
 *     [--tiny-seq 128] [--tiny-steps 8] [--big-seq 64] [--big-steps 2] [--threads 1,2]
 * Each model is loaded once per method; every run starts from the same parameters (restored) and takes the
 * same examples (windows of reference/heldout.py.txt), so the runs at 1 and 2 threads must end with the same
 * adapter bytes (checked: the row says "same"). The thread counts alternate within each repetition and the
 * best time of each is kept (the machine is shared). "parallel" is the share of the 1-thread time spent in
 * products that the pool splits, and "bound" the 2-thread ratio Amdahl's law allows with that share.
 * The GPU rows (apr WebGPU LoRA / QLoRA against PEFT + torch on the same GPU, and the 7 B-shaped QLoRA step's
 * peak memory) run on the device machine, which has no Node toolchain: bench/gpu/train-speed.sh.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { openModel } from '../src/formats/open.js';
import { loadTokenizer } from '../src/tokenizer/index.js';
import { productStats } from '../src/train/autograd/threads.js';
import type { TokenExample } from '../src/train/data/index.js';
import { runTraining } from '../src/train/loop.js';
import { tokenExampleReport } from '../src/train/losses/token-example.js';
import { type Trainable, createTrainableModel } from '../src/train/model/index.js';
import type { TrainingOptions } from '../src/train/types.js';
import { writeSyntheticModel } from './synthetic-model.js';

const FIXTURES = path.resolve(process.cwd(), '../shared/fixtures');
const TINY = path.join(FIXTURES, 'models/tiny-coder-llama');
const BIG = path.resolve('.cache/synthetic-1b-Q4_K_M.gguf');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const MODELS = arg('models', 'tiny,1b').split(',');
const METHODS = arg('methods', 'lora').split(',') as ('lora' | 'qlora')[];
const REPS = Number(arg('reps', '2'));
const THREADS = arg('threads', '1,2').split(',').map(Number);
const JSON_OUT = process.argv.includes('--json');

interface Row {
  model: string;
  method: string;
  seqLen: number;
  steps: number;
  tokPerS: Record<string, number>;
  ratio: number;
  parallelShare: number;
  amdahlBound: number;
  sameAdapter: boolean;
  loadSeconds: number;
}

function windows(bundlePath: string, seq: number, count: number): TokenExample[] {
  const bundle = openModel(bundlePath);
  try {
    const tok = loadTokenizer(bundle.tokenizer ?? { json: '' }, { modelConfig: bundle.config });
    const ids = tok.encode(readFileSync(path.join(FIXTURES, 'reference/heldout.py.txt'), 'utf8').slice(0, 40 * seq * count), { addSpecialTokens: false });
    return Array.from({ length: count }, (_v, i) => {
      const tokens = Int32Array.from(ids.slice(i * seq, (i + 1) * seq));
      const mask = new Uint8Array(seq).fill(1);
      mask[0] = 0;
      return { tokens, mask, where: `heldout:${i}` };
    });
  } finally {
    bundle.tensors.close();
  }
}

const OPTIONS: TrainingOptions = { epochs: 1, batchSize: 1, gradAccum: 1, lr: 2e-4, warmupRatio: 0, minLrRatio: 0, weightDecay: 0, maxGradNorm: 1, seed: 42 };

/** One run over `train` at `threads` threads from the restored parameters: seconds, adapter digest, parallel ms. */
function timedRun(model: Trainable, start: Float32Array[], train: TokenExample[], threads: number): { seconds: number; digest: string; parallelMs: number } {
  process.env['APR_THREADS'] = String(threads);
  model.parameters().forEach((p, i) => p.data.set(start[i] ?? new Float32Array(0)));
  model.zeroGrad();
  const before = productStats().parallelMs;
  const t0 = performance.now();
  runTraining({ params: model.parameters(), train, val: [], options: OPTIONS, step: (e) => tokenExampleReport(model, e, true), evaluate: (e) => tokenExampleReport(model, e, false), zeroGrad: () => model.zeroGrad() });
  const seconds = (performance.now() - t0) / 1000;
  const h = createHash('sha256');
  for (const p of model.parameters()) h.update(new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength));
  return { seconds, digest: h.digest('hex'), parallelMs: productStats().parallelMs - before };
}

function measure(name: string, file: string, method: 'lora' | 'qlora', seq: number, steps: number): Row {
  const train = windows(file, seq, steps);
  const t0 = performance.now();
  const bundle = openModel(file);
  const model = createTrainableModel(bundle, { method, rank: 16, alpha: 32, targets: ['q_proj', 'v_proj'], seed: 42 });
  bundle.tensors.close();
  const loadSeconds = (performance.now() - t0) / 1000;
  const start = model.parameters().map((p) => Float32Array.from(p.data));
  // warm-up: JIT, the pool's workers, kept transposes and scratch buffers (one step at the highest thread count)
  timedRun(model, start, train.slice(0, 1), Math.max(...THREADS));
  const best: Record<string, number> = {};
  const digests = new Set<string>();
  let share = 0;
  for (let r = 0; r < REPS; r++) {
    const order = r % 2 === 0 ? THREADS : [...THREADS].reverse();
    for (const t of order) {
      const run = timedRun(model, start, train, t);
      digests.add(run.digest);
      best[t] = Math.min(best[t] ?? Infinity, run.seconds);
      if (t === 1) share = Math.max(share, run.parallelMs / 1000 / run.seconds);
      process.stderr.write(`  ${name} ${method} rep ${r + 1}: ${t} thread(s) ${run.seconds.toFixed(2)} s (load avg ${loadavg()[0]?.toFixed(2)})\n`);
    }
  }
  const tokens = steps * seq;
  const tokPerS = Object.fromEntries(Object.entries(best).map(([t, s]) => [t, tokens / s]));
  const lo = Math.min(...THREADS);
  const hi = Math.max(...THREADS);
  const ratio = (tokPerS[hi] ?? 0) / (tokPerS[lo] ?? 1);
  return { model: name, method, seqLen: seq, steps, tokPerS, ratio, parallelShare: share, amdahlBound: 1 / (1 - share + share / hi), sameAdapter: digests.size === 1, loadSeconds };
}

function table(rows: Row[]): string {
  const head = ['model', 'method', 'seq × steps', ...THREADS.map((t) => `${t}t tok/s`), 'ratio', 'parallel', 'bound', 'adapter'];
  const body = rows.map((r) => [r.model, r.method, `${r.seqLen} × ${r.steps}`, ...THREADS.map((t) => (r.tokPerS[t] ?? 0).toFixed(1)), `${r.ratio.toFixed(2)}×`, `${(100 * r.parallelShare).toFixed(0)} %`, `${r.amdahlBound.toFixed(2)}×`, r.sameAdapter ? 'same' : 'DIFFERS']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  return [head, ...body].map((cells) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')).join('\n');
}

const rows: Row[] = [];
if (MODELS.includes('1b') && !existsSync(BIG)) writeSyntheticModel('Q4_K_M', 22, BIG);
for (const method of METHODS) {
  if (MODELS.includes('tiny')) rows.push(measure('tiny-coder', TINY, method, Number(arg('tiny-seq', '128')), Number(arg('tiny-steps', '8'))));
  if (MODELS.includes('1b')) rows.push(measure('synthetic-1b', BIG, method, Number(arg('big-seq', '64')), Number(arg('big-steps', '2'))));
}
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load avg ${loadavg().map((l) => l.toFixed(2)).join(' ')}`;
if (JSON_OUT) process.stdout.write(`${JSON.stringify({ machine, rows }, null, 2)}\n`);
else process.stdout.write(`training tokens/s, LoRA rank 16 on q_proj,v_proj, best of ${REPS}; ${machine}\n${table(rows)}\n`);

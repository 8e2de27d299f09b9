/**
 * DPO and ORPO on generated preference pairs (issue 10): prompt = `prompt` tokens of Python source, chosen =
 * the next `response` real tokens, rejected = the same tokens in a seeded random order. Train pairs come from
 * local CPython standard-library modules, held-out pairs from heldout.py.txt (`--rejected other`: the rejected
 * response is a real continuation taken from elsewhere in the same text instead; `--rejected greedy`: the base
 * model's own greedy continuation of the prompt; `--rejected repeat`: the prompt's last line repeated — the
 * reference prefers these over the real text on many pairs, so the preference term has something to learn).
 * The policy is tiny-coder-llama with a LoRA adapter (or `--full` fine-tuning of tiny-draft-llama); the reference is the model itself, frozen.
 *   nice -n 10 npx tsx bench/align.ts [--pairs 64] [--val 32] [--prompt 32] [--response 24] [--epochs 2] [--methods dpo,orpo] [--rejected shuffle|noise|other|greedy|repeat] [--lambda 0.1] [--beta 0.1] [--full]
 * Reported per epoch: DPO loss or ORPO loss, implicit reward margin β·Δ and preference accuracy (margin > 0)
 * on train (running, during the epoch) and held-out pairs; before training the margin is 0 by construction
 * (accuracy counts margin > 0, so it starts at 0: compare with the reference's own ranking printed below), and
 * for ORPO the held-out log odds ratio, its accuracy (log odds > 0) and the SFT NLL.
 */
import { existsSync, readFileSync } from 'node:fs';
import { greedyContinuation, repeatedLastLine } from './align-pairs.js';
import { join, resolve } from 'node:path';
import { openModel } from '../src/formats/open.js';
import { Rng } from '../src/model/rng.js';
import { loadTokenizer } from '../src/tokenizer/index.js';
import type { TokenizedPair } from '../src/train/align/data.js';
import { type AlignMethod, alignRun, evaluatePair, withReference } from '../src/train/align/run.js';
import { runTraining } from '../src/train/loop.js';
import { createTrainableModel } from '../src/train/model/index.js';
import type { EpochRecord, StepReport, TrainingOptions } from '../src/train/types.js';

const FIXTURES = resolve(process.cwd(), '../shared/fixtures');
const HELDOUT = readFileSync(join(FIXTURES, 'reference/heldout.py.txt'), 'utf8');
const STDLIB = ['argparse', 'dataclasses', 'functools', 'inspect', 'typing', 'pathlib'];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const PAIRS = Number(arg('pairs', '64'));
const VAL = Number(arg('val', '32'));
const PROMPT = Number(arg('prompt', '32'));
const RESPONSE = Number(arg('response', '24'));
const EPOCHS = Number(arg('epochs', '2'));
const METHODS = arg('methods', 'dpo,orpo').split(',') as AlignMethod[];
const FULL = process.argv.includes('--full');
const MODEL = join(FIXTURES, FULL ? 'models/tiny-draft-llama' : 'models/tiny-coder-llama');
const LR = Number(arg('lr', FULL ? '1e-4' : '1e-3'));
const BETA = Number(arg('beta', '0.1'));
const LAMBDA = Number(arg('lambda', '0.1'));
/** shuffle: the real continuation's tokens in a random order; noise: 25 % of them replaced by random text tokens; other: a real continuation taken from elsewhere in the text; greedy: the model's own greedy continuation; repeat: the prompt's last line repeated. */
const REJECTED = arg('rejected', 'shuffle');

function stdlibText(): string {
  const dir = ['/usr/lib/python3.11', '/usr/lib/python3.12', '/usr/lib/python3'].find((d) => existsSync(join(d, 'argparse.py')));
  if (!dir) throw new Error('no CPython standard library found');
  return STDLIB.map((m) => join(dir, `${m}.py`)).filter(existsSync).map((f) => readFileSync(f, 'utf8')).filter((t) => !HELDOUT.includes(t.slice(2000, 2300))).join('\n');
}

function shuffle(real: readonly number[], rng: Rng): number[] {
  const out = [...real];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [out[i], out[j]] = [out[j] ?? 0, out[i] ?? 0];
  }
  return out;
}

/** The real continuation with a quarter of its positions replaced by tokens drawn from anywhere in the text. */
function noise(real: readonly number[], ids: readonly number[], rng: Rng): number[] {
  return real.map((t) => (rng.next() < 0.25 ? (ids[Math.floor(rng.next() * ids.length)] ?? t) : t));
}

/** RESPONSE real tokens from a random position at least 4 spans away from `b`. */
function otherContinuation(ids: readonly number[], b: number, rng: Rng): number[] {
  const span = PROMPT + RESPONSE;
  for (;;) {
    const at = Math.floor(rng.next() * (ids.length - RESPONSE));
    if (Math.abs(at - b) >= 4 * span) return ids.slice(at, at + RESPONSE);
  }
}

/** What builds the model-dependent rejected responses (`greedy`, `repeat`). */
interface Rejecter { logits: (t: readonly number[]) => Float32Array; vocab: number; decode: (ids: number[]) => string }

function rejectedFor(ids: readonly number[], b: number, real: readonly number[], rng: Rng, m: Rejecter): number[] {
  const prompt = ids.slice(b, b + PROMPT);
  if (REJECTED === 'greedy') return greedyContinuation(m.logits, m.vocab, prompt, RESPONSE);
  if (REJECTED === 'repeat') return repeatedLastLine(prompt, m.decode, RESPONSE);
  if (REJECTED === 'other') return otherContinuation(ids, b, rng);
  return REJECTED === 'noise' ? noise(real, ids, rng) : shuffle(real, rng);
}

/** Consecutive slices of `ids`: prompt, then the real continuation (chosen) and a rejected response (REJECTED). */
function makePairs(ids: number[], count: number, seed: number, m: Rejecter): TokenizedPair[] {
  const rng = new Rng(seed);
  const out: TokenizedPair[] = [];
  const span = PROMPT + RESPONSE;
  for (let b = 0; b + span <= ids.length && out.length < count; b += span * 3) {
    const prompt = ids.slice(b, b + PROMPT), real = ids.slice(b + PROMPT, b + span);
    const shuffled = rejectedFor(ids, b, real, rng, m);
    if (shuffled.every((t, i) => t === real[i])) continue;
    out.push({ chosen: [...prompt, ...real], rejected: [...prompt, ...shuffled], chosenFrom: PROMPT, rejectedFrom: PROMPT });
  }
  return out;
}

function mean(rs: readonly StepReport[], key: string): number {
  return rs.reduce((a, r) => a + (r.metrics?.[key] ?? 0), 0) / Math.max(1, rs.length);
}

interface MethodResult { method: AlignMethod; refAccuracy: number; initial: { margin: number; accuracy: number; logOdds: number; oddsAccuracy: number; nll: number; loss: number }; history: EpochRecord[]; seconds: number }

function runMethod(method: AlignMethod, trainPairs: TokenizedPair[], valPairs: TokenizedPair[]): MethodResult {
  const t0 = performance.now();
  const bundle = openModel(MODEL);
  const policy = createTrainableModel(bundle, FULL ? { method: 'full', seed: 0 } : { method: 'lora', rank: 8, alpha: 16, seed: 0 });
  const V = policy.config.vocab_size;
  const ref = { logitsAll: (t: ArrayLike<number>) => policy.logits(t) };
  const train = withReference(ref, trainPairs, V), val = withReference(ref, valPairs, V);
  const settings = { method, beta: BETA, lambda: LAMBDA };
  const before = val.map((e) => evaluatePair(policy, e, settings));
  const refAccuracy = val.filter((e) => e.refChosen > e.refRejected).length / val.length;
  const options: TrainingOptions = { epochs: EPOCHS, batchSize: 1, gradAccum: 4, lr: LR, warmupRatio: 0.1, minLrRatio: 0.1, weightDecay: 0, maxGradNorm: 1, seed: 0 };
  const history = runTraining({
    ...alignRun({ policy, train, val, settings, options }),
    onEpoch: (r) => process.stderr.write(`${method}: epoch ${r.epoch} val margin ${r.valMetrics['reward_margin']?.toFixed(4)} acc ${r.valMetrics['accuracy']?.toFixed(3)} odds ${r.valMetrics['log_odds']?.toFixed(3)} (${r.seconds.toFixed(0)} s)\n`),
  });
  bundle.tensors.close();
  const initial = { margin: mean(before, 'reward_margin'), accuracy: mean(before, 'accuracy'), logOdds: mean(before, 'log_odds'), oddsAccuracy: mean(before, 'odds_accuracy'), nll: mean(before, 'nll'), loss: before.reduce((a, r) => a + r.loss, 0) / before.length };
  return { method, refAccuracy, initial, history, seconds: (performance.now() - t0) / 1000 };
}

function main(): void {
  const bundle = openModel(MODEL);
  if (!bundle.tokenizer) throw new Error('no tokenizer');
  const tok = loadTokenizer(bundle.tokenizer);
  const base = createTrainableModel(bundle, { method: 'lora', rank: 8, alpha: 16, seed: 0 });
  const m: Rejecter = { logits: (t) => base.logits(t), vocab: base.config.vocab_size, decode: (ids) => tok.decode(ids) };
  const t0 = performance.now();
  const trainPairs = makePairs(tok.encode(stdlibText(), { addSpecialTokens: false }), PAIRS, 1, m);
  const valPairs = makePairs(tok.encode(HELDOUT, { addSpecialTokens: false }), VAL, 2, m);
  bundle.tensors.close();
  process.stderr.write(`pairs built in ${((performance.now() - t0) / 1000).toFixed(0)} s; e.g. rejected: ${JSON.stringify(tok.decode((valPairs[0]?.rejected ?? []).slice(PROMPT)))} chosen: ${JSON.stringify(tok.decode((valPairs[0]?.chosen ?? []).slice(PROMPT)))}\n`);
  const results = METHODS.map((m) => runMethod(m, trainPairs, valPairs));
  const f = (x: number | undefined): string => (x === undefined ? '-' : x.toFixed(4));
  process.stdout.write(`\n${FULL ? 'tiny-draft-llama full' : 'tiny-coder-llama LoRA r=8 α=16 (q_proj, v_proj)'}; ${trainPairs.length} train / ${valPairs.length} held-out pairs, prompt ${PROMPT} + response ${RESPONSE} tokens, rejected = ${REJECTED === 'greedy' ? "the base model's own greedy continuation" : REJECTED === 'repeat' ? "the prompt's last line repeated" : REJECTED === 'other' ? 'a real continuation from elsewhere' : REJECTED === 'noise' ? 'the real continuation with 25 % of its tokens replaced' : 'the real continuation shuffled'}; β=${BETA}, λ=${LAMBDA}, lr ${LR}, ${EPOCHS} epochs, 4 pairs per step\n\n`);
  process.stdout.write('| method | epoch | train loss | train margin | train acc | held-out loss | held-out margin | held-out acc | held-out log odds / odds acc / NLL (ORPO) |\n|---|---|---|---|---|---|---|---|---|\n');
  for (const r of results) {
    const odds = (x: number | undefined, a: number | undefined, n: number | undefined): string => (r.method === 'orpo' ? `${f(x)} / ${f(a)} / ${f(n)}` : '-');
    process.stdout.write(`| ${r.method} | 0 (before) | - | - | - | ${f(r.initial.loss)} | ${f(r.initial.margin)} | ${f(r.initial.accuracy)} | ${odds(r.initial.logOdds, r.initial.oddsAccuracy, r.initial.nll)} |\n`);
    for (const h of r.history) process.stdout.write(`| ${r.method} | ${h.epoch} | ${f(h.trainLoss)} | ${f(h.metrics['reward_margin'])} | ${f(h.metrics['accuracy'])} | ${f(h.valLoss ?? undefined)} | ${f(h.valMetrics['reward_margin'])} | ${f(h.valMetrics['accuracy'])} | ${odds(h.valMetrics['log_odds'], h.valMetrics['odds_accuracy'], h.valMetrics['nll'])} |\n`);
  }
  for (const r of results) process.stdout.write(`\n${r.method}: the reference alone ranks chosen above rejected (log πref(y_w) > log πref(y_l)) on ${(100 * r.refAccuracy).toFixed(1)} % of held-out pairs; ${r.seconds.toFixed(0)} s`);
  process.stdout.write(`\n\n${JSON.stringify({ model: MODEL, full: FULL, rejected: REJECTED, pairs: trainPairs.length, val: valPairs.length, beta: BETA, lambda: LAMBDA, lr: LR, results })}\n`);
}

main();

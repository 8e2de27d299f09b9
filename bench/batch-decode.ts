/**
 * Aggregate decode throughput of continuous batching on the CPU backend, against single-sequence decode
 * in the same run.
 *   npx tsx bench/batch-decode.ts [--threads 2] [--batches 1,2,4,8,16,32] [--prompt 32] [--gen 32]
 *                                 [--reps 3] [--synthetic | --synthetic-only [--layers 23]] [--json]
 * Per model and batch size B:
 * - `step tok/s`: B sequences (caches prefilled with prompts of `--prompt` tokens) advanced `--gen` steps by
 *   `model.forwardBatch` (one matmul per weight over B rows, attention per sequence): B·gen / wall time;
 *   `× single` divides by one sequence decoded with `model.forward` one token at a time (what `apr run` does).
 * - `engine tok/s`: B sampled requests (temperature 0.8, top-p 0.95 as apr eval, own seeds) through `BatchEngine` with B slots, prefill
 *   and sampling included: generated tokens / wall time; `× generate` divides by one `generate()` of the same.
 * - `samples tok/s`: B samples of one prompt (own seeds), as `apr eval --n-samples B` sends them: the engine
 *   prefills the prompt once and copies its positions (prefix reuse); `× generate` likewise.
 * `--synthetic` adds the ~1 B-parameter Q4_K_M model of bench/synthetic-model.ts (written to .cache/ once).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readGgufBundle } from '../src/formats/gguf/index.js';
import { createCpuBackend } from '../src/kernels/cpu/index.js';
import { BatchEngine } from '../src/model/batch-decoder.js';
import { generate, type KVCache, loadModel, type Model } from '../src/model/index.js';
import { writeSyntheticModel } from './synthetic-model.js';

const FIXTURES = path.resolve(process.cwd(), '../shared/fixtures');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const threads = Number(arg('threads', '2'));
const batches = arg('batches', '1,2,4,8,16,32').split(',').map(Number);
const promptLen = Number(arg('prompt', '32'));
const gen = Number(arg('gen', '32'));

/** Deterministic pseudo-random ids (the speed of a forward pass does not depend on which ids). */
function ids(n: number, vocab: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => 3 + ((s = (s * 1103515245 + 12345) % 2 ** 31) % (vocab - 3)));
}

function rate(tokens: number, ms: number): number {
  const r = (tokens * 1000) / ms;
  return r >= 100 ? Math.round(r) : Math.round(r * 10) / 10;
}

/** Tokens per second by wall time and by this process's CPU time (all its threads), best of `reps` runs. */
interface Rates {
  wall: number;
  cpu: number;
}

function best(reps: number, run: () => { tokens: number; wallMs: number; cpuMs: number }): Rates {
  let wall = 0;
  let cpu = 0;
  for (let i = 0; i < reps; i++) {
    const r = run();
    wall = Math.max(wall, rate(r.tokens, r.wallMs));
    cpu = Math.max(cpu, rate(r.tokens, r.cpuMs));
  }
  return { wall, cpu };
}

function timed(tokens: number, fn: () => void): { tokens: number; wallMs: number; cpuMs: number } {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { tokens, wallMs, cpuMs: (c.user + c.system) / 1000 };
}

/** B sequences (caches prefilled with different prompts) advanced `gen` steps; B = 0: one sequence by `forward`. */
function decodeSteps(model: Model, b: number): { tokens: number; wallMs: number; cpuMs: number } {
  const V = model.config.vocab_size;
  const caches: KVCache[] = Array.from({ length: Math.max(1, b) }, (_, i) => {
    const c = model.createCache(promptLen + gen);
    model.forward(ids(promptLen, V, 10 + i), 0, c);
    return c;
  });
  const single = caches[0] as KVCache;
  const r = b === 0
    ? timed(gen, () => { for (let s = 0; s < gen; s++) model.forward(ids(1, V, 100 + s), promptLen + s, single); })
    : timed(b * gen, () => { for (let s = 0; s < gen; s++) model.forwardBatch?.(ids(b, V, 100 + s), caches); });
  for (const c of caches) c.dispose();
  return r;
}

function request(model: Model, i: number): { promptIds: number[]; maxTokens: number; temperature: number; topP: number; seed: number } {
  return { promptIds: ids(promptLen, model.config.vocab_size, 10 + i), maxTokens: gen, temperature: 0.8, topP: 0.95, seed: i };
}

function generateOne(model: Model): number {
  const t0 = performance.now();
  const r = generate(model, request(model, 0).promptIds, request(model, 0));
  return rate(r.ids.length, performance.now() - t0);
}

/** B requests through an engine of B slots; `samePrompt`: all with request 0's prompt (own seeds). */
async function engineRun(model: Model, b: number, samePrompt = false): Promise<number> {
  const engine = new BatchEngine(model, { parallel: b, contextLength: promptLen + gen, kvBudget: 2 ** 40 });
  const t0 = performance.now();
  const reqs = Array.from({ length: b }, (_, i) => (samePrompt ? { ...request(model, 0), seed: i } : request(model, i)));
  const rs = await Promise.all(reqs.map((r) => engine.submit(r)));
  const ms = performance.now() - t0;
  engine.close();
  return rate(rs.reduce((a, r) => a + r.ids.length, 0), ms);
}

interface Row {
  model: string;
  B: number;
  step_tok_s: number;
  x_single: number;
  step_tok_s_cpu: number;
  x_single_cpu: number;
  engine_tok_s: number;
  x_generate: number;
  samples_tok_s: number;
  x_generate_samples: number;
}

const reps = Number(arg('reps', '3'));

async function benchModel(name: string, model: Model): Promise<Row[]> {
  decodeSteps(model, 0);
  const single = best(reps, () => decodeSteps(model, 0));
  const one = Math.max(generateOne(model), generateOne(model));
  const rows: Row[] = [];
  for (const b of batches) {
    const step = best(reps, () => decodeSteps(model, b));
    const eng = Math.max(await engineRun(model, b), await engineRun(model, b));
    const same = Math.max(await engineRun(model, b, true), await engineRun(model, b, true));
    const x = (a: number, d: number): number => +(a / d).toFixed(2);
    rows.push({
      model: name, B: b, step_tok_s: step.wall, x_single: x(step.wall, single.wall), step_tok_s_cpu: step.cpu, x_single_cpu: x(step.cpu, single.cpu),
      engine_tok_s: eng, x_generate: x(eng, one), samples_tok_s: same, x_generate_samples: x(same, one),
    });
  }
  process.stderr.write(`${name}: single-sequence decode ${single.wall} tok/s (${single.cpu} by CPU time), generate() ${one} tok/s\n`);
  return rows;
}

function syntheticFile(): string {
  const layers = arg('layers', '23');
  const file = path.join('.cache', layers === '23' ? 'synthetic-1b-Q4_K_M.gguf' : `synthetic-Q4_K_M-${layers}l.gguf`);
  if (!existsSync(file)) writeSyntheticModel('Q4_K_M', Number(arg('layers', '23')), file);
  return file;
}

function printTable(rows: Row[]): void {
  const cols = ['model', 'B', 'step_tok_s', 'x_single', 'step_tok_s_cpu', 'x_single_cpu', 'engine_tok_s', 'x_generate', 'samples_tok_s', 'x_generate_samples'] as const;
  const cells = [cols.map(String), ...rows.map((r) => cols.map((c) => String(r[c])))];
  const widths = cols.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  for (const r of cells) console.log(r.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  '));
}

const backend = createCpuBackend({ threads });
const models: [string, string][] = [];
if (!process.argv.includes('--synthetic-only')) models.push(['tiny-coder-llama Q4_K_M', path.join(FIXTURES, 'gguf/tiny-coder-llama-Q4_K_M.gguf')]);
if (process.argv.includes('--synthetic') || process.argv.includes('--synthetic-only')) models.push(['synthetic ~1B Q4_K_M', syntheticFile()]);
const rows: Row[] = [];
for (const [name, file] of models) {
  const bundle = readGgufBundle(file);
  const model = loadModel(bundle, { backend });
  bundle.tensors.close();
  rows.push(...(await benchModel(name, model)));
  model.dispose();
}
const report = { benchmark: 'batch-decode', backend: backend.name, threads, prompt_tokens: promptLen, gen_tokens: gen, contracts: process.env['APR_CONTRACTS'] ?? 'pre', node: process.version, rows };
if (!process.argv.includes('--json')) printTable(rows);
console.log(JSON.stringify(report));
process.exit(0);

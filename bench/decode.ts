/**
 * Decode and prefill throughput of the CPU backend on the fixture models.
 *   npx tsx bench/decode.ts [--iterations 5] [--prompt-tokens 128] [--gen-tokens 128] [--json]
 * Reports tokens/s from wall time and from this process's CPU time (the latter is steadier on a shared
 * machine; the process is single-threaded). Contracts run in the mode of APR_CONTRACTS (default `pre`).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readGgufBundle } from '../src/formats/gguf/index.js';
import { readHfDir } from '../src/formats/hf-dir/read.js';
import { type Model, loadModel } from '../src/model/index.js';
import type { ModelBundle } from '../src/tensor/bundle.js';

const FIXTURES = path.resolve(process.cwd(), '../shared/fixtures');

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

interface Timing {
  wallMs: number;
  cpuMs: number;
}

function timed(fn: () => void): Timing {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  fn();
  const wallMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wallMs, cpuMs: (c.user + c.system) / 1000 };
}

function best(runs: Timing[]): Timing {
  return { wallMs: Math.min(...runs.map((r) => r.wallMs)), cpuMs: Math.min(...runs.map((r) => r.cpuMs)) };
}

/** Deterministic pseudo-random ids (the speed of a forward pass does not depend on which ids). */
function ids(n: number, vocab: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => (s = (s * 1103515245 + 12345) % 2 ** 31) % vocab);
}

function benchModel(model: Model, promptTokens: number, genTokens: number, iterations: number) {
  const V = model.config.vocab_size;
  const prompt = ids(promptTokens, V, 1);
  model.forward(prompt, 0, model.createCache());
  const prefill = best(Array.from({ length: iterations }, () => timed(() => model.forward(prompt, 0, model.createCache(promptTokens)))));
  const decodeRuns = Array.from({ length: iterations }, () => {
    const cache = model.createCache(16 + genTokens);
    model.forward(prompt.slice(0, 16), 0, cache);
    const next = ids(genTokens, V, 2);
    return timed(() => {
      for (let i = 0; i < genTokens; i++) model.forward([next[i] as number], 16 + i, cache);
    });
  });
  const decode = best(decodeRuns);
  const rate = (n: number, ms: number): number => Math.round((n * 1000) / ms);
  return {
    prefill_tok_s: rate(promptTokens, prefill.wallMs),
    prefill_tok_s_cpu: rate(promptTokens, prefill.cpuMs),
    decode_tok_s: rate(genTokens, decode.wallMs),
    decode_tok_s_cpu: rate(genTokens, decode.cpuMs),
  };
}

const sources: [string, () => ModelBundle][] = [
  ['tiny-coder-llama f32 (HF)', () => readHfDir(path.join(FIXTURES, 'models/tiny-coder-llama'))],
  ['tiny-draft-llama f32 (HF)', () => readHfDir(path.join(FIXTURES, 'models/tiny-draft-llama'))],
];
for (const q of ['Q8_0', 'Q6_K', 'Q4_K_M', 'Q4_0']) {
  const file = path.join(FIXTURES, `gguf/tiny-coder-llama-${q}.gguf`);
  if (existsSync(file)) sources.push([`tiny-coder-llama ${q} (GGUF)`, () => readGgufBundle(file)]);
}

const promptTokens = arg('prompt-tokens', 128);
const genTokens = arg('gen-tokens', 128);
const iterations = arg('iterations', 5);
const results = sources.map(([name, open]) => {
  const bundle = open();
  const model = loadModel(bundle);
  bundle.tensors.close();
  return { model: name, backend: model.backend, ...benchModel(model, promptTokens, genTokens, iterations) };
});

const report = { benchmark: 'decode', contracts: process.env['APR_CONTRACTS'] ?? 'pre', prompt_tokens: promptTokens, gen_tokens: genTokens, iterations, node: process.version, results };
if (process.argv.includes('--json')) {
  console.log(JSON.stringify(report, null, 1));
} else {
  const cols = ['model', 'backend', 'prefill_tok_s', 'prefill_tok_s_cpu', 'decode_tok_s', 'decode_tok_s_cpu'] as const;
  const rows = [cols.map(String), ...results.map((r) => cols.map((c) => String(r[c])))];
  const widths = cols.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  for (const r of rows) console.log(r.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  '));
  console.log(JSON.stringify(report));
}

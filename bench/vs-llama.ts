/**
 * apr vs llama.cpp, side by side on the same machine in one run: `apr bench --json` (dist build, or `--tsx`
 * to run src through tsx) against `llama-bench -o json` on the same GGUF files with the same thread count,
 * prefill (pp128) and decode (tg64) tokens/s, for the tiny-coder-llama fixtures (f32, Q8_0, Q4_K_M, Q6_K) and
 * the synthetic ~1 B Llama (bench/synthetic-model.ts, cached under .cache/) at Q4_K_M, Q8_0 and F16, at each thread
 * count of --threads. Each case runs --repeat times, the two tools interleaved (pairs alternate which goes
 * first); the table gives medians, the ratios apr / llama.cpp, each process's peak RSS (/usr/bin/time) and the
 * load average around the runs. For the 1 B Q4_K_M rows it also prints the memory-bandwidth bound on decode:
 * weight bytes read per token ÷ the read bandwidth measured here (memcmp of two large buffers per thread),
 * and the fraction of it each tool reaches.
 *   npx tsx bench/vs-llama.ts [--threads 1,2] [--repeat 3] [--models tiny|1b|all] [--tsx] [--json out.json]
 * llama-bench: $LLAMA_CPP_BIN/llama-bench, default .cache/llama-cpp/src/build/bin.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { decodeWeightBytes, readBandwidth } from '../src/eval/bandwidth.js';
import { readGgufBundle } from '../src/formats/gguf/index.js';
import { type SyntheticQuant, writeSyntheticModel } from './synthetic-model.js';

interface Case {
  name: string;
  file: string;
  prompt: number;
  gen: number;
  /** apr iterations per run (llama-bench repetitions match). */
  iterations: number;
}

interface Run {
  prefill: number;
  decode: number;
  cpuSeconds: number;
  rssMb: number;
  load: number;
}

interface Row {
  model: string;
  file: string;
  threads: number;
  apr: Run[];
  llama: Run[];
  apr_backend: string;
  median: Record<'apr_prefill' | 'apr_decode' | 'llama_prefill' | 'llama_decode' | 'apr_rss_mb' | 'llama_rss_mb' | 'prefill_ratio' | 'decode_ratio', number>;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const FIXTURES = path.resolve(process.cwd(), '../shared/fixtures');
const LLAMA_BIN = process.env['LLAMA_CPP_BIN'] ?? path.resolve('.cache/llama-cpp/src/build/bin');
const threadCounts = arg('threads', '1,2').split(',').map(Number);
const repeat = Number(arg('repeat', '3'));
const useTsx = process.argv.includes('--tsx');

/** Runs a command under /usr/bin/time: its stdout, CPU seconds (user + system), peak RSS and the mean load. */
function timedSpawn(cmd: string[]): { stdout: string; cpuSeconds: number; rssMb: number; load: number } {
  const load0 = loadavg()[0] ?? 0;
  const r = spawnSync('/usr/bin/time', ['-f', '__TIME__ %U %S %M', ...cmd], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed (${r.status}): ${r.stderr.slice(-800)}`);
  const m = /__TIME__ ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr);
  const [user, sys, kb] = m ? [Number(m[1]), Number(m[2]), Number(m[3])] : [NaN, NaN, NaN];
  return { stdout: r.stdout, cpuSeconds: user + sys, rssMb: kb / 1024, load: (load0 + (loadavg()[0] ?? 0)) / 2 };
}

function runApr(c: Case, threads: number): Run & { backend: string } {
  const cli = useTsx ? ['node', '--import', 'tsx', 'src/cli/apr.ts'] : ['node', 'dist/src/cli/apr.js'];
  const args = ['bench', c.file, '--prompt-tokens', String(c.prompt), '--gen-tokens', String(c.gen), '--iterations', String(c.iterations), '--threads', String(threads), '--no-bandwidth-bound', '--json'];
  const r = timedSpawn([...cli, ...args]);
  const report = JSON.parse(r.stdout) as { backend: string; results: { prefill_tokens_per_second: number; tokens_per_second: number } };
  return { prefill: report.results.prefill_tokens_per_second, decode: report.results.tokens_per_second, cpuSeconds: r.cpuSeconds, rssMb: r.rssMb, load: r.load, backend: report.backend };
}

function runLlama(c: Case, threads: number): Run {
  const bin = path.join(LLAMA_BIN, 'llama-bench');
  const r = timedSpawn([bin, '-m', c.file, '-t', String(threads), '-p', String(c.prompt), '-n', String(c.gen), '-r', String(c.iterations), '-o', 'json']);
  const tests = JSON.parse(r.stdout) as { n_prompt: number; n_gen: number; avg_ts: number }[];
  const pp = tests.find((t) => t.n_prompt > 0 && t.n_gen === 0)?.avg_ts ?? NaN;
  const tg = tests.find((t) => t.n_gen > 0 && t.n_prompt === 0)?.avg_ts ?? NaN;
  return { prefill: pp, decode: tg, cpuSeconds: r.cpuSeconds, rssMb: r.rssMb, load: r.load };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function benchCase(c: Case, threads: number): Row {
  const apr: Run[] = [];
  const llama: Run[] = [];
  let backend = '';
  for (let i = 0; i < repeat; i++) {
    process.stderr.write(`  ${c.name} t=${threads}: pair ${i + 1}/${repeat}\n`);
    for (const tool of i % 2 === 0 ? ['apr', 'llama'] : ['llama', 'apr']) {
      if (tool === 'llama') {
        llama.push(runLlama(c, threads));
        continue;
      }
      const r = runApr(c, threads);
      backend = r.backend;
      apr.push(r);
    }
  }
  const med = (runs: Run[], k: keyof Run): number => median(runs.map((r) => r[k]));
  const m = { apr_prefill: med(apr, 'prefill'), apr_decode: med(apr, 'decode'), llama_prefill: med(llama, 'prefill'), llama_decode: med(llama, 'decode'), apr_rss_mb: med(apr, 'rssMb'), llama_rss_mb: med(llama, 'rssMb') };
  return { model: c.name, file: c.file, threads, apr, llama, apr_backend: backend, median: { ...m, prefill_ratio: m.apr_prefill / m.llama_prefill, decode_ratio: m.apr_decode / m.llama_decode } };
}

function synthetic(quant: SyntheticQuant): string {
  const file = path.join('.cache', `synthetic-1b-${quant}.gguf`);
  if (!existsSync(file)) {
    process.stderr.write(`writing ${file} …\n`);
    writeSyntheticModel(quant, 23, file);
  }
  return file;
}

function cases(which: string): Case[] {
  const tiny = (q: string): Case => ({ name: `tiny-coder-llama ${q}`, file: path.join(FIXTURES, 'gguf', `tiny-coder-llama-${q}.gguf`), prompt: 128, gen: 64, iterations: 3 });
  const big = (q: SyntheticQuant): Case => ({ name: `synthetic 1.03B ${q}`, file: synthetic(q), prompt: 128, gen: 64, iterations: 1 });
  const out: Case[] = [];
  if (which === 'tiny' || which === 'all') out.push(tiny('f32'), tiny('Q8_0'), tiny('Q4_K_M'), tiny('Q6_K'));
  if (which === '1b' || which === 'all') out.push(big('Q4_K_M'), big('Q8_0'), big('F16'));
  return out;
}

/** Bytes of weights one decoded token reads (src/eval/bandwidth.ts, as `apr bench` reports it). */
function weightBytesPerToken(file: string): number {
  const b = readGgufBundle(file);
  try {
    return decodeWeightBytes(b);
  } finally {
    b.tensors.close();
  }
}

function printTable(rows: Row[]): void {
  const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(x >= 100 ? 0 : 2) : '-');
  const head = ['model', 't', 'apr pp128', 'llama pp128', 'pp ratio', 'apr tg64', 'llama tg64', 'tg ratio', 'apr RSS MB', 'llama RSS MB', 'load'];
  const body = rows.map((r) => [
    r.model, String(r.threads),
    f(r.median.apr_prefill), f(r.median.llama_prefill), `${f(r.median.prefill_ratio)}x`,
    f(r.median.apr_decode), f(r.median.llama_decode), `${f(r.median.decode_ratio)}x`,
    f(r.median.apr_rss_mb), f(r.median.llama_rss_mb), f(median([...r.apr, ...r.llama].map((x) => x.load))),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  for (const line of [head, widths.map((w) => '-'.repeat(w)), ...body]) process.stdout.write(`${line.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}\n`);
}

interface BoundRow { model: string; threads: number; weight_mb_per_token: number; read_gb_s: number; bound_tok_s: number; apr_fraction: number; llama_fraction: number }

function bandwidthBounds(rows: Row[]): BoundRow[] {
  const out: BoundRow[] = [];
  for (const r of rows.filter((x) => x.model.includes('1.03B Q4_K_M'))) {
    const bytes = weightBytesPerToken(r.file);
    const bw = readBandwidth(r.threads);
    const bound = bw / bytes;
    out.push({ model: r.model, threads: r.threads, weight_mb_per_token: bytes / 2 ** 20, read_gb_s: bw / 1e9, bound_tok_s: bound, apr_fraction: r.median.apr_decode / bound, llama_fraction: r.median.llama_decode / bound });
    process.stdout.write(`${r.model} t=${r.threads}: decode bound ${bound.toFixed(2)} tok/s (${(bytes / 2 ** 20).toFixed(0)} MiB of weights per token at ${(bw / 1e9).toFixed(1)} GB/s read); apr ${(100 * r.median.apr_decode / bound).toFixed(0)} %, llama.cpp ${(100 * r.median.llama_decode / bound).toFixed(0)} % of it\n`);
  }
  return out;
}

const rows = cases(arg('models', 'all')).flatMap((c) => threadCounts.map((t) => benchCase(c, t)));
printTable(rows);
const bounds = bandwidthBounds(rows);
const json = { machine: { cpus: (await import('node:os')).cpus().length, node: process.version, loadavg: loadavg() }, llama_bench: LLAMA_BIN, rows, bandwidth_bounds: bounds };
const out = arg('json', '');
if (out) writeFileSync(out, `${JSON.stringify(json, null, 2)}\n`);
else process.stdout.write(`${JSON.stringify(json)}\n`);

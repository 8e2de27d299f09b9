/**
 * apr vs llama.cpp, side by side on the same machine in one run: `apr bench --json` (dist build, or
 * `--tsx` to run src through tsx) against `llama-bench -o json` with the same thread count, prompt and
 * generation lengths, on the tiny-coder-llama fixtures (f32, Q8_0, Q4_K_M) and on a synthetic ≥ 1B Llama
 * written by apr (bench/synthetic-model.ts, cached under .cache/). Each pair runs back to back, `--repeat`
 * times (pairs alternate which tool goes first); the table reports medians, the ratio apr / llama.cpp, the
 * CPU seconds each process used (whole process: loading included) and the load average around each run.
 *   npx tsx bench/vs-llama.ts [--threads 2] [--repeat 2] [--models tiny|1b|all] [--tsx] [--json out.json]
 * llama-bench: $LLAMA_CPP_BIN/llama-bench, default /work/llama-cpp/src/build/bin.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
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
  load: number;
}

interface Row {
  model: string;
  threads: number;
  prompt: number;
  gen: number;
  apr: Run[];
  llama: Run[];
  apr_backend: string;
  median: { apr_prefill: number; apr_decode: number; llama_prefill: number; llama_decode: number; prefill_ratio: number; decode_ratio: number };
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const FIXTURES = path.resolve(process.cwd(), '../shared/fixtures');
const LLAMA_BIN = process.env['LLAMA_CPP_BIN'] ?? '/work/llama-cpp/src/build/bin';
const threads = Number(arg('threads', '2'));
const repeat = Number(arg('repeat', '2'));
const useTsx = process.argv.includes('--tsx');

/** Runs a command under bash and appends the children's CPU times (`times`), which Node's spawnSync lacks. */
function timedSpawn(cmd: string[], env: NodeJS.ProcessEnv): { stdout: string; cpuSeconds: number; load: number } {
  const quoted = cmd.map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  const load0 = loadavg()[0] ?? 0;
  const r = spawnSync('bash', ['-c', `${quoted}; rc=$?; echo __TIMES__ >&2; times >&2; exit $rc`], { encoding: 'utf8', env, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd.join(' ')} failed (${r.status}): ${r.stderr.slice(-800)}`);
  const times = r.stderr.split('__TIMES__')[1] ?? '';
  // second line of `times`: children's user and system time, e.g. "0m1.234s 0m0.100s"
  const child = times.trim().split('\n')[1] ?? '';
  const secs = [...child.matchAll(/(\d+)m([\d.]+)s/g)].reduce((s, m) => s + 60 * Number(m[1]) + Number(m[2]), 0);
  return { stdout: r.stdout, cpuSeconds: secs, load: (load0 + (loadavg()[0] ?? 0)) / 2 };
}

function runApr(c: Case): Run & { backend: string } {
  const cli = useTsx ? ['npx', 'tsx', 'src/cli/apr.ts'] : ['node', 'dist/src/cli/apr.js'];
  const args = ['bench', c.file, '--prompt-tokens', String(c.prompt), '--gen-tokens', String(c.gen), '--iterations', String(c.iterations), '--threads', String(threads), '--json'];
  const r = timedSpawn([...cli, ...args], process.env);
  const report = JSON.parse(r.stdout) as { backend: string; results: { prefill_tokens_per_second: number; tokens_per_second: number } };
  return { prefill: report.results.prefill_tokens_per_second, decode: report.results.tokens_per_second, cpuSeconds: r.cpuSeconds, load: r.load, backend: report.backend };
}

function runLlama(c: Case): Run {
  const bin = path.join(LLAMA_BIN, 'llama-bench');
  const args = ['-m', c.file, '-t', String(threads), '-p', String(c.prompt), '-n', String(c.gen), '-r', String(c.iterations), '-o', 'json'];
  const r = timedSpawn([bin, ...args], process.env);
  const tests = JSON.parse(r.stdout) as { n_prompt: number; n_gen: number; avg_ts: number }[];
  const pp = tests.find((t) => t.n_prompt > 0 && t.n_gen === 0)?.avg_ts ?? NaN;
  const tg = tests.find((t) => t.n_gen > 0 && t.n_prompt === 0)?.avg_ts ?? NaN;
  return { prefill: pp, decode: tg, cpuSeconds: r.cpuSeconds, load: r.load };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

function benchCase(c: Case): Row {
  const apr: Run[] = [];
  const llama: Run[] = [];
  let backend = '';
  for (let i = 0; i < repeat; i++) {
    process.stderr.write(`  ${c.name}: pair ${i + 1}/${repeat}\n`);
    const order = i % 2 === 0 ? ['apr', 'llama'] : ['llama', 'apr'];
    for (const tool of order) {
      if (tool === 'apr') {
        const r = runApr(c);
        backend = r.backend;
        apr.push(r);
      } else llama.push(runLlama(c));
    }
  }
  const m = {
    apr_prefill: median(apr.map((r) => r.prefill)),
    apr_decode: median(apr.map((r) => r.decode)),
    llama_prefill: median(llama.map((r) => r.prefill)),
    llama_decode: median(llama.map((r) => r.decode)),
  };
  return { model: c.name, threads, prompt: c.prompt, gen: c.gen, apr, llama, apr_backend: backend, median: { ...m, prefill_ratio: m.apr_prefill / m.llama_prefill, decode_ratio: m.apr_decode / m.llama_decode } };
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
  const tiny = (q: string): Case => ({ name: `tiny-coder-llama ${q}`, file: path.join(FIXTURES, 'gguf', `tiny-coder-llama-${q}.gguf`), prompt: 128, gen: 128, iterations: 3 });
  const big = (q: SyntheticQuant): Case => ({ name: `synthetic 1.03B ${q}`, file: synthetic(q), prompt: 32, gen: 16, iterations: 1 });
  const out: Case[] = [];
  if (which === 'tiny' || which === 'all') out.push(tiny('f32'), tiny('Q8_0'), tiny('Q4_K_M'));
  if (which === '1b' || which === 'all') out.push(big('Q8_0'), big('Q4_K_M'));
  return out;
}

function printTable(rows: Row[]): void {
  const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(x >= 100 ? 0 : 2) : '-');
  const head = ['model', 't', 'pp', 'tg', 'apr pp tok/s', 'llama pp tok/s', 'pp ratio', 'apr tg tok/s', 'llama tg tok/s', 'tg ratio', 'apr cpu s', 'llama cpu s', 'load'];
  const body = rows.map((r) => [
    r.model, String(r.threads), String(r.prompt), String(r.gen),
    f(r.median.apr_prefill), f(r.median.llama_prefill), `${f(r.median.prefill_ratio)}x`,
    f(r.median.apr_decode), f(r.median.llama_decode), `${f(r.median.decode_ratio)}x`,
    f(median(r.apr.map((x) => x.cpuSeconds))), f(median(r.llama.map((x) => x.cpuSeconds))),
    f(median([...r.apr, ...r.llama].map((x) => x.load))),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] ?? '').length)));
  for (const line of [head, widths.map((w) => '-'.repeat(w)), ...body]) process.stdout.write(`${line.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ')}\n`);
}

const rows = cases(arg('models', 'all')).map(benchCase);
printTable(rows);
const json = { machine: { cpus: (await import('node:os')).cpus().length, node: process.version }, llama_bench: LLAMA_BIN, rows };
const out = arg('json', '');
if (out) writeFileSync(out, `${JSON.stringify(json, null, 2)}\n`);
else process.stdout.write(`${JSON.stringify(json)}\n`);

/**
 * `apr compile` size and time (issue 13): compiles a model once per scheme and reports the executable's
 * size split (Node runtime, JS bundle, weights, other), the compile time by step, and the executable's
 * start-up (`--help`), `--info` and a 32-token greedy run, each timed from a copy in an empty folder.
 *   nice -n 10 npx tsx bench/compile-size.ts [--model path] [--schemes none,q8_0,q4_k_m]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { compileModel } from '../src/ops/compile.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const MODEL = arg('model', resolve(process.cwd(), '../shared/fixtures/models/tiny-coder-llama'));
const SCHEMES = arg('schemes', 'none,q8_0,q4_k_m').split(',');
const mb = (b: number): string => (b / 1e6).toFixed(2);

function timed(exe: string, args: string[], cwd: string): number {
  const t0 = performance.now();
  const r = spawnSync(exe, args, { cwd, env: { PATH: cwd }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${exe} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return (performance.now() - t0) / 1000;
}

const dir = mkdtempSync(join(tmpdir(), 'apr-compile-bench-'));
try {
  console.log(`model ${MODEL}, node ${process.version} (${process.execPath})`);
  console.log('scheme   total MB  node MB  bundle MB  weights MB  other kB  compile s (weights/bundle/blob/inject)  --help s  --info s  run32 s');
  for (const scheme of SCHEMES) {
    const exe = join(dir, `model-${scheme}`);
    const r = compileModel({ input: MODEL, output: exe, ...(scheme !== 'none' ? { quantize: scheme } : {}) });
    const b = r.bytes;
    const s = r.seconds;
    const help = timed(exe, ['--help'], dir);
    const info = timed(exe, ['--info'], dir);
    const run = timed(exe, ['def fibonacci(n):', '-n', '32'], dir);
    console.log(
      `${scheme.padEnd(8)} ${mb(b.total).padStart(8)}  ${mb(b.node_runtime).padStart(7)}  ${mb(b.js_bundle).padStart(9)}  ${mb(b.weights).padStart(10)}  ${(b.other / 1e3).toFixed(0).padStart(8)}  ` +
        `${s.total.toFixed(1).padStart(9)} (${[s.weights, s.bundle, s.blob, s.inject].map((x) => x.toFixed(1)).join('/')})${''.padEnd(14)}  ${help.toFixed(2).padStart(8)}  ${info.toFixed(2).padStart(8)}  ${run.toFixed(2).padStart(7)}`,
    );
    rmSync(exe, { force: true });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

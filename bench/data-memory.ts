/**
 * Peak memory and throughput of `apr data audit`, `dedup` and `decontaminate` on a generated JSONL of
 * APR_BENCH_MB MiB (default 1024), written streamed into a temporary folder: ~2 KiB instruction/response
 * rows from a seeded PRNG, 1 % exact repeats. Each command runs as a child process; peak RSS from
 * `/usr/bin/time -v` when present, else by polling /proc/<pid>/status VmHWM. Prints a table and JSON.
 * Runs the built CLI (`npm run build` first; else src through tsx, whose loader adds ~80 MB).
 * Usage: npx tsx bench/data-memory.ts [dir]
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../src/data/minhash.js';

const dir = process.argv[2] ?? '/tmp/apr-data-memory';
const targetBytes = Number(process.env['APR_BENCH_MB'] ?? 1024) * 2 ** 20;
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });

function generate(path: string): number {
  const rand = mulberry32(1);
  const word = (): string => `w${Math.floor(rand() * 50000)}`;
  const sentence = (n: number): string => Array.from({ length: n }, word).join(' ');
  const fd = openSync(path, 'w');
  let bytes = 0;
  let rows = 0;
  let chunk: string[] = [];
  let last = '';
  while (bytes < targetBytes) {
    const line = rand() < 0.01 && last !== '' ? last : JSON.stringify({ instruction: sentence(40), response: sentence(280) });
    last = line;
    chunk.push(line, '\n');
    bytes += Buffer.byteLength(line) + 1;
    rows++;
    if (chunk.length >= 8192) {
      writeSync(fd, chunk.join(''));
      chunk = [];
    }
  }
  writeSync(fd, chunk.join(''));
  closeSync(fd);
  return rows;
}

interface Measured { rssMb: number; seconds: number; status: number | null }

function vmHwmKb(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

function measure(args: string[]): Promise<Measured> {
  const useTime = existsSync('/usr/bin/time');
  // the built CLI, as `npx apr` runs it (tsx's own loader adds ~80 MB of RSS); from source when not built
  const cli = existsSync('dist/src/cli/apr.js') ? ['dist/src/cli/apr.js'] : ['--import', 'tsx', 'src/cli/apr.ts'];
  const node = [process.execPath, ...cli, ...args];
  const cmd = useTime ? '/usr/bin/time' : process.execPath;
  const child = spawn(cmd, useTime ? ['-v', ...node] : node.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let hwm = 0;
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const poll = setInterval(() => { if (child.pid !== undefined) hwm = Math.max(hwm, vmHwmKb(child.pid)); }, 50);
  const t0 = performance.now();
  return new Promise((resolve) => child.on('close', (status) => {
    clearInterval(poll);
    const rss = useTime ? Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1] ?? 0) : hwm;
    if (status !== 0 && status !== 1) process.stderr.write(stderr.slice(-800));
    resolve({ rssMb: rss / 1024, seconds: (performance.now() - t0) / 1000, status });
  }));
}

const data = join(dir, 'data.jsonl');
const t0 = performance.now();
const rows = generate(data);
const genSeconds = (performance.now() - t0) / 1000;
const sizeMb = statSync(data).size / 2 ** 20;
const bench = join(dir, 'bench.jsonl');
writeFileSync(bench, `${Array.from({ length: 164 }, (_, i) => JSON.stringify({ task_id: `B/${i}`, prompt: `def f${i}(x):\n    """${Array.from({ length: 40 }, (_v, j) => `b${(i * 40 + j) % 9973}`).join(' ')}"""`, canonical_solution: '    return x' })).join('\n')}\n`);
const steps: [string, string[]][] = [
  ['audit', ['data', 'audit', data, '--json']],
  ['dedup', ['data', 'dedup', data, '-o', join(dir, 'dedup.jsonl'), '--json']],
  ['decontaminate', ['data', 'decontaminate', data, '--reference', bench, '-o', join(dir, 'clean.jsonl'), '--json']],
];
const results = [];
for (const [step, args] of steps) {
  const m = await measure(args);
  results.push({ step, status: m.status, peak_rss_mb: Math.round(m.rssMb), seconds: Math.round(m.seconds * 10) / 10, mb_per_s: Math.round((sizeMb / m.seconds) * 10) / 10 });
}
process.stdout.write(`input ${sizeMb.toFixed(0)} MiB, ${rows} rows (generated in ${genSeconds.toFixed(1)} s)\n`);
for (const r of results) process.stdout.write(`${r.step.padEnd(14)} exit ${r.status}  peak RSS ${String(r.peak_rss_mb).padStart(4)} MiB  ${String(r.seconds).padStart(6)} s  ${r.mb_per_s} MiB/s\n`);
process.stdout.write(`${JSON.stringify({ benchmark: 'data-memory', input_mb: Math.round(sizeMb), rows, limit_mb: 300, passed: results.every((r) => r.peak_rss_mb < 300 && r.status === 0), results })}\n`);
rmSync(dir, { recursive: true, force: true });

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { hostname } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readApr } from '../../src/formats/apr/index.js';
import { fixture, tempDir } from '../helpers.js';
import type { DriverResults, DriverStep } from './reproducible-driver.js';

// Every verb that writes a file runs twice, in two processes that differ in cwd, TZ, TMPDIR, APR_THREADS
// (1 vs 2) and the absolute paths of their (byte-identical) inputs, at different times; every output file
// must have the same SHA-256 in both, and none may contain the run's folder, temp folder or host name.
const DRIVER = resolve('test/cli/reproducible-driver.ts');
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const EPOCH = '1700000000';
const RUNS = [
  { name: 'a', tz: 'UTC', threads: '1' },
  { name: 'b', tz: 'Asia/Kolkata', threads: '2' },
] as const;

interface Run {
  dir: string;
  results: DriverResults;
  log: string;
}

let tmp: ReturnType<typeof tempDir>;
let runs: Run[] = [];

function writeData(dir: string): void {
  const src = readFileSync(fixture('reference/heldout.py.txt'), 'utf8');
  const train = Array.from({ length: 6 }, (_v, i) => JSON.stringify({ instruction: `Write a function that returns ${i}`, response: `def f():\n    return ${i}\n` }));
  writeFileSync(join(dir, 'train.jsonl'), `${train.join('\n')}\n`);
  writeFileSync(join(dir, 'text.jsonl'), [0, 1, 2, 3].map((i) => JSON.stringify({ text: src.slice(i * 200, i * 200 + 200) })).join('\n'));
  const pairs = [0, 1, 2, 3, 4].map((i) => {
    const s = src.slice(i * 300, i * 300 + 90);
    return JSON.stringify({ prompt: s.slice(0, 50), chosen: s.slice(50), rejected: s.slice(50).split(' ').reverse().join(' ') });
  });
  writeFileSync(join(dir, 'prefs.jsonl'), pairs.join('\n'));
  cpSync('test/fixtures/calibration/python-calibration.txt', join(dir, 'calibration.txt'));
}

/** The inputs, copied into the run's own folder (so each run reads them from other absolute paths). */
function prepare(dir: string): void {
  const input = join(dir, 'in');
  for (const d of ['in', 'out', 'tmp']) mkdirSync(join(dir, d), { recursive: true });
  cpSync(fixture('models/tiny-draft-llama'), join(input, 'draft'), { recursive: true });
  cpSync(fixture('gguf/tiny-draft-llama-f32.gguf'), join(input, 'draft-f32.gguf'));
  cpSync(fixture('adapters/tiny-coder-llama-lora-email'), join(input, 'lora-email'), { recursive: true });
  writeData(input);
}

/** Each verb with its options; inputs by absolute path, outputs relative to the cwd (the run's folder). */
function steps(dir: string): DriverStep[] {
  const i = (p: string): string => join(dir, 'in', p);
  const draft = i('draft');
  const train = ['--data', i('train.jsonl'), '--rank', '4', '--epochs', '2', '--max-seq-len', '32', '--val-split', '0.34', '--seed', '5', '--quiet'];
  const tiny = ['--max-seq-len', '32', '--epochs', '1', '--quiet'];
  return [
    { name: 'import-hf', args: ['import', draft, '-o', 'out/import-hf.apr'] },
    { name: 'import-gguf', args: ['import', i('draft-f32.gguf'), '-o', 'out/import-gguf.apr'] },
    { name: 'import-epoch', args: ['import', draft, '-o', 'out/import-epoch.apr'], env: { SOURCE_DATE_EPOCH: EPOCH } },
    { name: 'export-gguf', args: ['export', 'out/import-hf.apr', '--format', 'gguf', '-o', 'out/export.gguf'] },
    { name: 'export-safetensors', args: ['export', 'out/import-hf.apr', '--format', 'safetensors', '-o', 'out/export-hf'] },
    { name: 'quantize-gguf', args: ['quantize', draft, '--scheme', 'q4_k_m', '-o', 'out/quant.gguf', '--quiet'] },
    { name: 'quantize-apr', args: ['quantize', 'out/import-gguf.apr', '--scheme', 'q8_0', '-o', 'out/quant.apr', '--quiet'] },
    { name: 'merge-slerp', args: ['merge', draft, i('draft-f32.gguf'), '--strategy', 'slerp', '--t', '0.3', '-o', 'out/merge-slerp.apr', '--quiet'] },
    { name: 'merge-dare', args: ['merge', draft, 'out/quant.apr', '--base-model', 'out/import-hf.apr', '--strategy', 'dare_ties', '--density', '0.5', '--seed', '7', '-o', 'out/merge-dare.apr', '--quiet'] },
    { name: 'prune', args: ['prune', draft, '--method', 'wanda', '--target-ratio', '0.5', '--calibration', i('calibration.txt'), '--samples', '4', '--seq-len', '32', '-o', 'out/prune.apr', '--quiet'] },
    { name: 'finetune-lora', args: ['finetune', draft, ...train, '--plot', 'out/loss.svg', '--checkpoint-dir', 'out/checkpoint', '-o', 'out/adapter'] },
    { name: 'finetune-merge', args: ['finetune', draft, ...train, '--merge', '-o', 'out/finetuned.apr'] },
    { name: 'finetune-adapter-merge', args: ['finetune', fixture('models/tiny-coder-llama'), '--adapter', i('lora-email'), '--merge', '-o', 'out/coder-email.apr'] },
    { name: 'distill', args: ['distill', draft, '--student', `init:${draft}`, '--data', i('text.jsonl'), ...tiny, '-o', 'out/student.apr'] },
    { name: 'align', args: ['align', draft, '--method', 'dpo', '--data', i('prefs.jsonl'), '--lora', '--rank', '2', ...tiny, '-o', 'out/dpo-adapter'] },
    { name: 'compile', args: ['compile', 'out/quant.apr', '-o', 'out/coder-bin', '--quiet'] },
  ];
}

/** Runs the steps in one child process with its own cwd, TZ, TMPDIR and APR_THREADS. */
function runAll(dir: string, tz: string, threads: string): Promise<Run> {
  const stepsFile = join(dir, 'steps.json');
  const resultsFile = join(dir, 'results.json');
  writeFileSync(stepsFile, JSON.stringify(steps(dir)));
  const env: NodeJS.ProcessEnv = { ...process.env, TZ: tz, TMPDIR: join(dir, 'tmp'), APR_THREADS: threads, TSX_TSCONFIG_PATH: resolve('tsconfig.json') };
  delete env['SOURCE_DATE_EPOCH'];
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', TSX, DRIVER, stepsFile, resultsFile], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    child.stdout.on('data', (b: Buffer) => (log += b.toString()));
    child.stderr.on('data', (b: Buffer) => (log += b.toString()));
    child.on('error', fail);
    child.on('close', (code) => {
      if (code !== 0) fail(new Error(`driver in ${dir} exited ${code}:\n${log.slice(-4000)}`));
      else done({ dir, results: JSON.parse(readFileSync(resultsFile, 'utf8')) as DriverResults, log });
    });
  });
}

/** SHA-256 of every file under `path` (or of the file itself), keyed by path relative to it, in name order. */
function digests(path: string): Record<string, string> {
  const out: Record<string, string> = {};
  const visit = (p: string): void => {
    if (statSync(p).isDirectory()) for (const n of readdirSync(p).sort()) visit(join(p, n));
    else out[relative(path, p) || '.'] = createHash('sha256').update(readFileSync(p)).digest('hex');
  };
  visit(path);
  return out;
}

/** The step ran (exit 0) in both runs; its outputs have equal digests and name no run-specific string. */
function expectReproducible(step: string, ...outputs: string[]): Record<string, string> {
  for (const r of runs) expect(r.results[step]?.code, `${step} in ${r.dir}:\n${r.log.slice(-3000)}`).toBe(0);
  const [a, b] = runs.map((r) => Object.fromEntries(outputs.flatMap((o) => Object.entries(digests(join(r.dir, o))).map(([k, v]) => [`${o}/${k}`, v]))));
  expect(Object.keys(a ?? {}).length).toBeGreaterThan(0);
  expect(b).toEqual(a);
  // a host name as short as "vm" occurs by chance in any large file: only a distinctive one is looked for
  const host = hostname().length >= 8 ? [hostname()] : [];
  for (const r of runs) {
    for (const o of outputs) expectNoLeak(join(r.dir, o), [r.dir, join(r.dir, 'tmp'), tmp.dir, ...host]);
  }
  return a ?? {};
}

function expectNoLeak(path: string, needles: string[]): void {
  if (statSync(path).isDirectory()) {
    for (const n of readdirSync(path)) expectNoLeak(join(path, n), needles);
    return;
  }
  const bytes = readFileSync(path);
  for (const s of needles) expect(bytes.includes(s), `${path} contains '${s}'`).toBe(false);
}

beforeAll(async () => {
  tmp = tempDir('apr-repro-');
  for (const r of RUNS) prepare(join(tmp.dir, r.name));
  runs = await Promise.all(RUNS.map((r) => runAll(join(tmp.dir, r.name), r.tz, r.threads)));
}, 600_000);
afterAll(() => tmp.cleanup());

describe('byte-reproducible outputs: each writing verb twice (other cwd, TZ, TMPDIR, threads, input paths, time)', () => {
  it('import: HF folder → APR and GGUF → APR; no time in the provenance without SOURCE_DATE_EPOCH', () => {
    expectReproducible('import-hf', 'out/import-hf.apr');
    expectReproducible('import-gguf', 'out/import-gguf.apr');
    const prov = readApr(join(runs[0]?.dir ?? '', 'out/import-hf.apr')).provenance;
    expect(prov.map((p) => p.op)).toEqual(['import']);
    expect(prov[0]).not.toHaveProperty('time');
  });

  it('import with SOURCE_DATE_EPOCH records that time (ISO 8601, UTC), the same in every time zone', () => {
    expectReproducible('import-epoch', 'out/import-epoch.apr');
    const prov = readApr(join(runs[1]?.dir ?? '', 'out/import-epoch.apr')).provenance;
    expect(prov[0]?.time).toBe(new Date(Number(EPOCH) * 1000).toISOString());
  });

  it('export: APR → GGUF and APR → SafeTensors HF folder', () => {
    expectReproducible('export-gguf', 'out/export.gguf');
    const files = expectReproducible('export-safetensors', 'out/export-hf');
    expect(Object.keys(files)).toContain('out/export-hf/model.safetensors');
  });

  it('quantize: HF folder → Q4_K_M GGUF and APR → Q8_0 APR (with its golden fingerprint)', () => {
    expectReproducible('quantize-gguf', 'out/quant.gguf');
    expectReproducible('quantize-apr', 'out/quant.apr');
  });

  it('merge: slerp, and dare_ties with its random drops seeded', () => {
    expectReproducible('merge-slerp', 'out/merge-slerp.apr');
    expectReproducible('merge-dare', 'out/merge-dare.apr');
  });

  it('prune: wanda with a calibration file', () => {
    expectReproducible('prune', 'out/prune.apr');
  });

  it('finetune --seed: LoRA adapter folder, loss plot and checkpoint identical on 1 and 2 threads (APR_THREADS)', () => {
    const files = expectReproducible('finetune-lora', 'out/adapter', 'out/loss.svg', 'out/checkpoint');
    expect(Object.keys(files)).toEqual(expect.arrayContaining(['out/adapter/adapter_config.json', 'out/adapter/adapter_model.safetensors']));
    const config = JSON.parse(readFileSync(join(runs[0]?.dir ?? '', 'out/adapter/adapter_config.json'), 'utf8')) as Record<string, unknown>;
    expect(config['base_model_name_or_path']).toBe('draft');
  });

  it('finetune --merge (trained adapter merged into the base) and --adapter --merge (a PEFT adapter)', () => {
    expectReproducible('finetune-merge', 'out/finetuned.apr');
    expectReproducible('finetune-adapter-merge', 'out/coder-email.apr');
  });

  it('distill: a freshly initialised student (init:)', () => {
    expectReproducible('distill', 'out/student.apr');
  });

  it('align: DPO LoRA adapter', () => {
    expectReproducible('align', 'out/dpo-adapter');
  });

  it('compile: the executable (runtime bundle, SEA blob with its V8 code cache, weights); the code cache is accepted', async () => {
    expectReproducible('compile', 'out/coder-bin');
    const exe = join(runs[0]?.dir ?? '', 'out/coder-bin');
    const r = await new Promise<{ code: number | null; err: string }>((done) => {
      const child = spawn(exe, ['--info'], { env: { PATH: '' }, stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      child.stderr.on('data', (b: Buffer) => (err += b.toString()));
      child.on('close', (code) => done({ code, err }));
    });
    expect(r.err).not.toMatch(/Code cache data rejected/);
    expect(r.code).toBe(0);
  });
});

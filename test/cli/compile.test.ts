import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { delimiter, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerCompile } from '../../src/cli/commands/compile.js';
import { parseExeArgs } from '../../src/compile/runtime/args.js';
import { createProgram, runProgram } from '../../src/cli/program.js';
import { openModel } from '../../src/formats/open.js';
import { createSession } from '../../src/model/session.js';
import type { CompileResult } from '../../src/ops/compile.js';
import { runPrompt } from '../../src/ops/generate.js';
import { fixture, runCli, tempDir } from '../helpers.js';

// The compiled executable embeds tiny-coder-llama quantized to q8_0 from the f32 HF folder; the reference is
// `apr run` on llama.cpp's own Q8_0 GGUF of the same model (llama-quantize, byte-identical tensors).
const HF = fixture('models/tiny-coder-llama');
const LLAMA_Q8 = fixture('gguf/tiny-coder-llama-Q8_0.gguf');
const PROMPT = 'def fibonacci(n):';
const NAME = 'coder-q8';

let tmp: ReturnType<typeof tempDir>;
let result: CompileResult;
let compileSeconds: number;
let runDir: string;
let exe: string;
let noNodePath: string;

/** Runs `apr ...` in process (the compile command as registered), capturing stdout and stderr. */
async function apr(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const program = createProgram('apr', 'test');
  registerCompile(program);
  let out = '';
  let err = '';
  const so = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const se = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  process.exitCode = undefined;
  try {
    return { code: await runProgram('apr', program, args), out, err };
  } finally {
    so.mockRestore();
    se.mockRestore();
    process.exitCode = undefined;
  }
}

/** Runs an executable with a PATH that has no node, in its own (otherwise empty) folder. */
function runExe(path: string, args: string[], input = ''): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(path, args, { cwd: runDir, env: { PATH: noNodePath }, encoding: 'utf8', input, maxBuffer: 16 << 20 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

beforeAll(async () => {
  tmp = tempDir('apr-compile-');
  const built = join(tmp.dir, NAME);
  const t0 = performance.now();
  const r = await apr('compile', HF, '--quantize', 'q8_0', '-o', built, '--json');
  compileSeconds = (performance.now() - t0) / 1000;
  expect(r.code, r.err).toBe(0);
  result = JSON.parse(r.out) as CompileResult;
  runDir = join(tmp.dir, 'run');
  noNodePath = join(tmp.dir, 'bin');
  mkdirSync(runDir);
  mkdirSync(noNodePath);
  exe = join(runDir, NAME);
  copyFileSync(built, exe);
  chmodSync(exe, 0o755);
}, 300_000);
afterAll(() => tmp.cleanup());

describe('apr compile (op-compile-v1)', () => {
  it('embeds the APR file once, byte for byte; the parts add up [ob:compile-embeds-verbatim]', () => {
    const bin = readFileSync(exe);
    const magic = Buffer.from([0x41, 0x50, 0x52, 0x00, 2, 0]); // 'APR\0' v2.0
    const hits: number[] = [];
    for (let at = bin.indexOf(magic); at >= 0; at = bin.indexOf(magic, at + 1)) hits.push(at);
    expect(hits).toEqual([result.weights.offset]);
    const region = bin.subarray(result.weights.offset, result.weights.offset + result.bytes.weights);
    expect(sha256(region)).toBe(result.weights.sha256);
    // an APR file ends with the CRC32 of all bytes before it: the region is exactly one whole embedded file
    expect(region.readUInt32LE(region.byteLength - 4)).toBe(crc32(region.subarray(0, region.byteLength - 4)));
    const b = result.bytes;
    expect(b.total).toBe(bin.byteLength);
    expect(b.node_runtime).toBe(statSync(process.execPath).size);
    expect(b.total).toBe(b.node_runtime + b.js_bundle + b.weights + b.other);
    expect(b.other).toBeGreaterThanOrEqual(0);
    expect(b.other).toBeLessThan(1 << 20);
    console.log(`compile: ${compileSeconds.toFixed(1)} s (${Object.entries(result.seconds).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}); ${(b.total / 1e6).toFixed(1)} MB = node ${(b.node_runtime / 1e6).toFixed(1)} + bundle ${(b.js_bundle / 1e6).toFixed(2)} + weights ${(b.weights / 1e6).toFixed(2)} + other ${(b.other / 1e3).toFixed(0)} kB`);
  });

  it('runs from an empty folder without node on PATH and prints apr run\'s greedy text [ob:compile-self-contained] [ob:compile-run-equivalence]', () => {
    expect(noNodePath.split(delimiter).every((d) => !existsSync(join(d, 'node')))).toBe(true);
    expect(readdirSync(runDir)).toEqual([NAME]);
    expect(result.bundle_imports.length).toBeGreaterThan(0);
    expect(result.bundle_imports.filter((m) => !isBuiltin(m))).toEqual([]);

    const ref = runCli('apr', ['run', LLAMA_Q8, PROMPT, '--max-tokens', '32', '--json']);
    expect(ref.status, ref.stderr).toBe(0);
    const want = JSON.parse(ref.stdout) as { text: string; token_ids: number[]; prompt_tokens: number };
    expect(want.token_ids.length).toBeGreaterThan(8);

    const got = runExe(exe, [PROMPT, '--max-tokens', '32', '--json']);
    expect(got.status, got.stderr).toBe(0);
    const out = JSON.parse(got.stdout) as Record<string, unknown>;
    expect(out['text']).toBe(want.text);
    expect(out['token_ids']).toEqual(want.token_ids);
    expect(out['prompt_tokens']).toBe(want.prompt_tokens);
    expect(out['model']).toBe(NAME);
    for (const k of Object.keys(JSON.parse(ref.stdout) as object)) expect(out, `field ${k}`).toHaveProperty(k);

    const plain = runExe(exe, ['--prompt', PROMPT, '-n', '32']);
    expect(plain.status, plain.stderr).toBe(0);
    expect(plain.stdout).toBe(`${PROMPT}${want.text}\n`);
  });

  it('--chat answers as apr chat does on the same weights [ob:compile-run-equivalence]', () => {
    const user = 'write a function that adds two numbers';
    // apr chat's first turn is runPrompt with the chat template and no history (in process: saves a CLI start)
    const session = createSession(openModel(LLAMA_Q8));
    const want = runPrompt(session, { prompt: user, chat: true, maxTokens: 16 });
    expect(want.tokens_generated).toBeGreaterThan(0);
    const got = runExe(exe, ['--chat', '--json', '--max-tokens', '16'], `${user}\n/exit\n`);
    expect(got.status, got.stderr).toBe(0);
    const turns = got.stdout.trim().split('\n').map((l) => JSON.parse(l) as { user: string; assistant: string });
    expect(turns).toHaveLength(1);
    expect(turns[0]?.user).toBe(user);
    expect(turns[0]?.assistant).toBe(want.text);
  });

  it('--info reports the architecture of config.json, the parameters of the safetensors shards, q8_0 and the digest', () => {
    const cfg = JSON.parse(readFileSync(join(HF, 'config.json'), 'utf8')) as Record<string, number>;
    const shapes: number[][] = [];
    for (const f of readdirSync(HF).filter((n) => n.endsWith('.safetensors'))) {
      const bytes = readFileSync(join(HF, f));
      const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8')) as Record<string, { shape?: number[] }>;
      for (const [k, v] of Object.entries(header)) if (k !== '__metadata__' && v.shape) shapes.push(v.shape);
    }
    const count = (s: number[]): number => s.reduce((a, b) => a * b, 1);
    const params = shapes.reduce((a, s) => a + count(s), 0);
    // llama.cpp's Q8_0 (34 bytes per 32 weights) for every matrix, F32 for the 1-D norm gains
    const bytes = shapes.reduce((a, s) => a + (s.length === 2 ? (count(s) / 32) * 34 : count(s) * 4), 0);

    const r = runExe(exe, ['--info', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const info = JSON.parse(r.stdout) as {
      name: string; architecture: string; parameters: number; tensor_count: number; dtypes: Record<string, number>;
      config: Record<string, number>; quantization: { scheme: string; bits_per_weight: number };
      weights: { bytes: number; sha256: string }; provenance: { op: string; options: Record<string, unknown> }[];
    };
    expect(info.name).toBe(NAME);
    expect(info.architecture).toBe('llama');
    expect(info.config['hidden_size']).toBe(cfg['hidden_size']);
    expect(info.config['num_layers']).toBe(cfg['num_hidden_layers']);
    expect(info.config['num_heads']).toBe(cfg['num_attention_heads']);
    expect(info.config['num_kv_heads']).toBe(cfg['num_key_value_heads']);
    expect(info.config['vocab_size']).toBe(cfg['vocab_size']);
    expect(info.parameters).toBe(params);
    expect(info.tensor_count).toBe(shapes.length);
    expect(info.dtypes).toEqual({ Q8_0: shapes.filter((s) => s.length === 2).length, F32: shapes.filter((s) => s.length === 1).length });
    expect(info.quantization.scheme).toBe('q8_0');
    expect(info.quantization.bits_per_weight).toBeCloseTo((8 * bytes) / params, 9);
    expect(info.weights).toEqual({ bytes: result.bytes.weights, sha256: result.weights.sha256 });
    expect(info.provenance.map((p) => p.op)).toEqual(['quantize', 'compile']);
    expect(info.provenance[0]?.options['scheme']).toBe('q8_0');

    const text = runExe(exe, ['--info']);
    expect(text.stdout).toMatch(/parameters\s+5,639,424/);
    expect(text.stdout).toContain(result.weights.sha256);
  });

  it('--check passes the ten stages and the weights digest on the embedded file [ob:compile-self-contained]', () => {
    const r = runExe(exe, ['--check', '--json']);
    expect(r.status, r.stdout.slice(0, 2000)).toBe(0);
    const rep = JSON.parse(r.stdout) as { all_passed: boolean; stages: { id: number; status: string }[]; weights_digest: { match: boolean; computed: string } };
    expect(rep.stages.map((s) => s.id)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(rep.stages.filter((s) => s.status === 'FAIL')).toEqual([]);
    expect(rep.all_passed).toBe(true);
    expect(rep.weights_digest).toMatchObject({ match: true, computed: result.weights.sha256 });
  });

  it('detects one flipped byte inside the embedded weights [ob:compile-detects-corruption]', () => {
    const bad = join(runDir, 'corrupt');
    const bin = readFileSync(exe);
    const dataOffset = Number(bin.readBigUInt64LE(result.weights.offset + 32)); // APR header: data_offset u64 at 32
    const at = result.weights.offset + Math.floor(result.bytes.weights / 2);
    expect(at - result.weights.offset).toBeGreaterThan(dataOffset); // inside the tensor data
    bin[at] = (bin[at] ?? 0) ^ 0x10;
    writeFileSync(bad, bin, { mode: 0o755 });
    try {
      const check = runExe(bad, ['--check', '--json']);
      expect(check.status).toBe(1);
      const rep = JSON.parse(check.stdout) as { all_passed: boolean; stages: { id: number; status: string }[]; weights_digest: { match: boolean } };
      expect(rep.all_passed).toBe(false);
      expect(rep.weights_digest.match).toBe(false);
      expect(rep.stages.find((s) => s.id === 1)?.status).toBe('FAIL'); // footer CRC
      expect(rep.stages.find((s) => s.id === 3)?.status).toBe('FAIL'); // tensor digest

      const run = runExe(bad, [PROMPT, '-n', '4']);
      expect(run.status).toBe(3);
      expect(run.stdout).toBe('');
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(/^corrupt: error: corrupt:model\.apr: footer\.crc: /);
    } finally {
      writeFileSync(bad, '');
    }
  });

  it('has a --help, and one-line usage errors (exit 2)', () => {
    const help = runExe(exe, ['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain(`Usage: ${NAME} [prompt]`);
    const bad = runExe(exe, ['--max-tokens', 'many', PROMPT]);
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim()).toBe(`${NAME}: error: --max-tokens must be an integer, got 'many'`);
    const none = runExe(exe, []);
    expect(none.status).toBe(2);
    expect(none.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('apr compile rejects a missing -o, another target and an unknown scheme with one line', async () => {
    const noOut = await apr('compile', HF);
    expect(noOut.code).toBe(2);
    const target = await apr('compile', HF, '-o', join(tmp.dir, 'x'), '--target', 'win32-x64');
    expect(target.code).toBe(3);
    expect(target.err.trim()).toMatch(/--target: only the running Node's platform .* got 'win32-x64'$/);
    const scheme = await apr('compile', HF, '-o', join(tmp.dir, 'x'), '--quantize', 'q3_xyz');
    expect(scheme.code).toBe(3);
    expect(scheme.err.trim().split('\n')).toHaveLength(1);
    expect(existsSync(join(tmp.dir, 'x'))).toBe(false);
  });
});

describe('the executable\'s argument parser', () => {
  it('maps the flags of apr run onto RunOptions and rejects bad values with one line', () => {
    const a = parseExeArgs(['def f():', '-n', '7', '--temperature', '0.5', '--top-k', '40', '--top-p', '0.9', '--seed', '3', '--json', '--threads', '2']);
    expect(a).toMatchObject({ mode: 'run', prompt: 'def f():', json: true, threads: 2 });
    expect(a.sampling).toEqual({ maxTokens: 7, temperature: 0.5, topK: 40, topP: 0.9, seed: 3 });
    expect(parseExeArgs(['--prompt', 'x']).sampling).toEqual({ maxTokens: 128, temperature: 0 });
    expect(parseExeArgs(['--system', 'be brief', 'hi']).sampling).toMatchObject({ system: 'be brief', chat: true });
    expect(parseExeArgs(['--chat']).mode).toBe('chat');
    expect(parseExeArgs(['--info', '--json'])).toMatchObject({ mode: 'info', json: true });
    expect(parseExeArgs(['--check', '--help']).mode).toBe('help');
    expect(() => parseExeArgs(['--info', '--check'])).toThrow(/--info and --check cannot be combined/);
    expect(() => parseExeArgs(['a', 'b'])).toThrow(/give one prompt/);
    expect(() => parseExeArgs(['x', '--top-k', '1.5'])).toThrow(/--top-k must be an integer, got '1.5'/);
    expect(() => parseExeArgs(['x', '--temperature', ''])).toThrow(/--temperature must be a number/);
    expect(() => parseExeArgs(['x', '--threads', '0'])).toThrow(/--threads must be ≥ 1/);
    expect(() => parseExeArgs(['--nope'])).toThrow(/Unknown option '--nope'/);
  });
});

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture, runCli, tempDir } from '../helpers.js';
import { gpu } from '../property/webgpu-helpers.js';

/** A hardware adapter (auto would train on it); the CI and this machine have Mesa's software one or none. */
const HARDWARE_GPU = gpu !== undefined && !/llvmpipe|lavapipe|swiftshader|software/i.test(gpu.description);

/** `--backend` and `--threads` of the training verbs (src/cli/commands/train-compute.ts). */

const tmp = tempDir('apr-train-backend-');
afterAll(() => tmp.cleanup());
const data = join(tmp.dir, 'train.jsonl');
writeFileSync(data, `${Array.from({ length: 4 }, (_v, i) => JSON.stringify({ instruction: `Write a function that returns ${i}`, response: `def f():\n    return ${i}\n` })).join('\n')}\n`);
const draft = fixture('models/tiny-draft-llama');
const train = ['--data', data, '--rank', '4', '--epochs', '1', '--max-seq-len', '48', '--val-split', '0', '--seed', '3', '--quiet'];

describe('--backend', () => {
  for (const [verb, args] of [
    ['distill', ['distill', draft, '--student', `init:${draft}`, '--data', data, '--quiet']],
  ] as const) {
    it(`${verb} --backend webgpu: one-line usage error (exit 2) saying this verb has no GPU step`, () => {
      const r = runCli('apr', [...args, '--backend', 'webgpu', '-o', join(tmp.dir, `${verb}-gpu`)]);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(`${verb} has no GPU training step yet`);
    });
  }

  it('align --backend webgpu without --lora: one-line error (the GPU step trains adapters), no output', () => {
    const out = join(tmp.dir, 'align-full-gpu.apr');
    const r = runCli('apr', ['align', draft, '--method', 'dpo', '--data', data, '--quiet', '--backend', 'webgpu', '-o', out]);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('give --lora');
    expect(existsSync(out)).toBe(false);
  });

  it('finetune --method full --backend webgpu: one-line error naming the method, no output', () => {
    const out = join(tmp.dir, 'full-gpu.apr');
    const r = runCli('apr', ['finetune', draft, ...train, '--method', 'full', '--backend', 'webgpu', '-o', out]);
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('full finetuning runs on the CPU only');
    expect(existsSync(out)).toBe(false);
  });

  it.skipIf(!gpu)('[ob:train-webgpu-matches-cpu] finetune --backend webgpu --json: the GPU step ran (backend and adapter named), loss close to the CPU\'s', () => {
    const run = (name: string, backend: string): { backend: string; device?: string; history: { trainLoss: number }[] } => {
      const r = runCli('apr', ['finetune', draft, ...train, '--backend', backend, '--json', '-o', join(tmp.dir, name)]);
      expect(r.status, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as { backend: string; device?: string; history: { trainLoss: number }[] };
    };
    const g = run('cli-gpu', 'webgpu');
    const c = run('cli-cpu', 'cpu');
    expect(g.backend).toBe('webgpu');
    expect(g.device).toBe(gpu?.description);
    expect(c.backend).toBe('cpu');
    expect(c.device).toBeUndefined();
    // float32 summation order only (see test/unit/train-gpu.test.ts)
    expect(Math.abs((g.history[0]?.trainLoss ?? NaN) - (c.history[0]?.trainLoss ?? NaN))).toBeLessThan(1e-4);
  }, 120_000);

  it('finetune --backend webgpu with no adapter: one-line usage error (exit 2); auto trains on the cpu with a note', () => {
    const none = { APR_WEBGPU_BACKENDS: 'none' };
    const gpuRun = runCli('apr', ['finetune', draft, ...train, '--backend', 'webgpu', '-o', join(tmp.dir, 'none-gpu')], { env: none });
    expect(gpuRun.status).toBe(2);
    expect(gpuRun.stderr.trim().split('\n')).toHaveLength(1);
    expect(gpuRun.stderr).toContain('no usable WebGPU adapter');
    expect(existsSync(join(tmp.dir, 'none-gpu'))).toBe(false);
    const auto = runCli('apr', ['finetune', draft, ...train, '--backend', 'auto', '--json', '-o', join(tmp.dir, 'none-auto')], { env: none });
    expect(auto.status, auto.stderr).toBe(0);
    expect(auto.stderr).toContain('--backend auto: no usable WebGPU adapter');
    expect((JSON.parse(auto.stdout) as { backend: string }).backend).toBe('cpu');
  }, 60_000);

  it('an unknown backend is a usage error naming the choices', () => {
    const r = runCli('apr', ['finetune', draft, ...train, '--backend', 'gpu', '-o', join(tmp.dir, 'x')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--backend must be auto, cpu or webgpu');
  });

  it('--threads 0 is a usage error', () => {
    const r = runCli('apr', ['finetune', draft, ...train, '--threads', '0', '-o', join(tmp.dir, 'y')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--threads must be ≥ 1');
  });

  it('--backend cpu at --threads 1 and 2 (the default, and auto where no hardware adapter is) writes the same adapter bytes', () => {
    const out = (name: string, extra: string[]): Buffer => {
      const dir = join(tmp.dir, name);
      const r = runCli('apr', ['finetune', draft, ...train, ...extra, '-o', dir], { env: { APR_THREAD_MIN_WORK: '0' } });
      expect(r.status, r.stderr).toBe(0);
      return readFileSync(join(dir, 'adapter_model.safetensors'));
    };
    const one = out('cpu-1', ['--backend', 'cpu', '--threads', '1']);
    expect(out('cpu-2', ['--backend', 'cpu', '--threads', '2']).equals(one)).toBe(true);
    expect(out('default-2', ['--threads', '2']).equals(one)).toBe(true);
    // auto: on a machine whose only adapter is a software one (or none) training stays on the CPU, bit for bit
    if (!HARDWARE_GPU) expect(out('auto-2', ['--threads', '2', '--backend', 'auto']).equals(one)).toBe(true);
  }, 120_000);
});

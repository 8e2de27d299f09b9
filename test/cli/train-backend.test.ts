import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture, runCli, tempDir } from '../helpers.js';

/** `--backend` and `--threads` of the training verbs (src/cli/commands/train-compute.ts). */

const tmp = tempDir('apr-train-backend-');
afterAll(() => tmp.cleanup());
const data = join(tmp.dir, 'train.jsonl');
writeFileSync(data, `${Array.from({ length: 4 }, (_v, i) => JSON.stringify({ instruction: `Write a function that returns ${i}`, response: `def f():\n    return ${i}\n` })).join('\n')}\n`);
const draft = fixture('models/tiny-draft-llama');
const train = ['--data', data, '--rank', '4', '--epochs', '1', '--max-seq-len', '48', '--val-split', '0', '--seed', '3', '--quiet'];

describe('--backend', () => {
  for (const [verb, args] of [
    ['finetune', ['finetune', draft, ...train]],
    ['distill', ['distill', draft, '--student', `init:${draft}`, '--data', data, '--quiet']],
    ['align', ['align', draft, '--method', 'dpo', '--data', data, '--lora', '--quiet']],
    ['tune', ['tune', draft, '--data', data, '--quiet']],
  ] as const) {
    it(`${verb} --backend webgpu: one-line usage error (exit 2) saying the GPU training step is not built`, () => {
      const r = runCli('apr', [...args, '--backend', 'webgpu', '-o', join(tmp.dir, `${verb}-gpu`)]);
      expect(r.status).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain('the GPU training step is not built yet');
    });
  }

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

  it('--backend cpu at --threads 1 and 2 (and auto) writes the same adapter bytes', () => {
    const out = (name: string, extra: string[]): Buffer => {
      const dir = join(tmp.dir, name);
      const r = runCli('apr', ['finetune', draft, ...train, ...extra, '-o', dir], { env: { APR_THREAD_MIN_WORK: '0' } });
      expect(r.status, r.stderr).toBe(0);
      return readFileSync(join(dir, 'adapter_model.safetensors'));
    };
    const one = out('cpu-1', ['--backend', 'cpu', '--threads', '1']);
    expect(out('cpu-2', ['--backend', 'cpu', '--threads', '2']).equals(one)).toBe(true);
    expect(out('auto-2', ['--threads', '2']).equals(one)).toBe(true);
  }, 60_000);
});

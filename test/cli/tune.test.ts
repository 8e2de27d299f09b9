import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type TuneOptions, tune } from '../../src/ops/tune.js';
import { fixture, runCli, tempDir } from '../helpers.js';

const BASE = fixture('models/tiny-coder-llama');
let tmp: ReturnType<typeof tempDir>;
let data: string;

beforeAll(() => {
  tmp = tempDir('apr-tune-');
  data = join(tmp.dir, 'train.jsonl');
  const ops = ['a + b', 'a - b', 'a * b', 'max(a, b)', 'min(a, b)'];
  const recs = Array.from({ length: 10 }, (_v, i) => JSON.stringify({ instruction: `Write f${i}(a, b) returning ${ops[i % 5]}.`, response: `def f${i}(a, b):\n    return ${ops[i % 5]}\n` }));
  writeFileSync(data, `${recs.join('\n')}\n`);
});
afterAll(() => tmp.cleanup());

const SMALL = { lr: [1e-4, 1e-2] as [number, number], rank: [4, 8], alpha: [8, 16], epochs: [1, 2] };

describe('apr tune', () => {
  it('[ob:tune-deterministic] gives the same trials, best and YAML twice for a seed, another search for another seed', () => {
    const opts: TuneOptions = { model: BASE, data, budget: 3, scout: true, seed: 5, space: SMALL, startup: 2, maxSeqLen: 48 };
    const strip = (r: ReturnType<typeof tune>) => JSON.stringify({ trials: r.trials, best: r.best, yaml: r.yaml });
    const a = tune(opts);
    expect(strip(tune(opts))).toBe(strip(a));
    expect(a.trials.map((t) => t.source)).toEqual(['default', 'random', 'tpe']);
    expect(a.trials.every((t) => t.config.epochs === 1 && t.valLosses.length === 1)).toBe(true);
    expect(strip(tune({ ...opts, seed: 6 }))).not.toBe(strip(a));
  }, 60_000);

  it('[ob:tune-no-worse] finds a configuration no worse than the default on held-out loss and writes it as a finetune: section', () => {
    const out = join(tmp.dir, 'best.yaml');
    const r = runCli('apr', ['tune', BASE, '--data', data, '--budget', '3', '--strategy', 'random', '--ranks', '4,8', '--alphas', '8,16', '--epoch-choices', '1,2',
      '--lr-range', '1e-3,1e-2', '--max-seq-len', '48', '-o', out, '--json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { trials: { status: string; valLoss: number }[]; best: { valLoss: number; config: Record<string, number> }; baseline: { valLoss: number; config: Record<string, number> } };
    expect(j.trials).toHaveLength(3);
    expect(j.baseline.config).toEqual({ lr: 2e-4, rank: 16, alpha: 32, epochs: 3 });
    expect(j.best.valLoss).toBeLessThanOrEqual(j.baseline.valLoss);
    // on this data a learning rate ten times the default wins within one or two epochs
    expect(j.best.valLoss).toBeLessThan(j.baseline.valLoss);
    const yaml = readFileSync(out, 'utf8');
    expect(yaml).not.toMatch(/\d{4}-\d{2}-\d{2}T/);
    const doc = parse(yaml) as { finetune: Record<string, unknown> };
    expect(doc.finetune).toEqual({ method: 'lora', ...j.best.config, targets: 'q_proj,v_proj', seed: 42 });
  }, 80_000);

  it('rejects bad usage with exit 2 before any work', () => {
    const r = runCli('apr', ['tune', BASE, '--data', data, '--method', 'full']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown --method 'full'/);
  }, 30_000);
});

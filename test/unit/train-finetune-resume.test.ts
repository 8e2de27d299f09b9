import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { finetune } from '../../src/ops/finetune.js';
import type { EpochRecord } from '../../src/train/types.js';
import { fixture, tempDir } from '../helpers.js';

const BASE = fixture('models/tiny-draft-llama');
let tmp: ReturnType<typeof tempDir>;
let data: string;
beforeAll(() => {
  tmp = tempDir('apr-ft-resume-');
  data = join(tmp.dir, 'd.jsonl');
  writeFileSync(data, Array.from({ length: 5 }, (_v, i) => JSON.stringify({ text: `def f${i}(x):\n    return x * ${i} + ${i + 1}\n` })).join('\n'));
});
afterAll(() => tmp.cleanup());

const withoutTime = (h: EpochRecord[]): Omit<EpochRecord, 'seconds'>[] => h.map(({ seconds: _s, ...r }) => r);
const opts = (output: string, checkpointDir?: string) => ({
  model: BASE, data, output, method: 'lora' as const, rank: 4, task: 'completion' as const, maxSeqLen: 16, valSplit: 0.2,
  training: { epochs: 3, lr: 5e-3, gradAccum: 2, warmupRatio: 0.2, weightDecay: 0.01, seed: 5 }, ...(checkpointDir ? { checkpointDir } : {}),
});

describe('finetune (LoRA on the real decoder) checkpoint and resume', () => {
  it('[ob:finetune-deterministic-resume] an interrupted then resumed run writes the same adapter bytes and history as an uninterrupted one', () => {
    const straight = finetune(opts(join(tmp.dir, 'a')));
    const ckpt = join(tmp.dir, 'ckpt');
    expect(() => finetune({ ...opts(join(tmp.dir, 'b'), ckpt), onEpoch: (r) => { if (r.epoch === 1) throw new Error('stop'); } })).toThrow('stop');
    const epochs: number[] = [];
    const resumed = finetune({ ...opts(join(tmp.dir, 'b'), ckpt), onEpoch: (r) => epochs.push(r.epoch) });
    expect(epochs).toEqual([2, 3]);
    expect(withoutTime(resumed.history)).toEqual(withoutTime(straight.history));
    const bytes = (d: string): Buffer => readFileSync(join(d, 'adapter_model.safetensors'));
    expect(bytes(join(tmp.dir, 'b')).equals(bytes(join(tmp.dir, 'a')))).toBe(true);
    expect(straight.history[2]!.trainLoss).toBeLessThan(straight.history[0]!.trainLoss);
  });
});

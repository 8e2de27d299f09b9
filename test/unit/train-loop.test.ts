import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/errors.js';
import { epochOrder, runTraining, stepsPerEpoch } from '../../src/train/loop.js';
import { CHECKPOINT_FILE } from '../../src/train/optim/checkpoint.js';
import type { EpochRecord } from '../../src/train/types.js';
import { tempDir } from '../helpers.js';
import { BigramModel, OPTIONS, bigramRun, cyclicData } from './train-bigram.js';

const V = 12;
const TRAIN = cyclicData(21, 9, V, 3);
const VAL = cyclicData(6, 9, V, 4);
const tmp = tempDir('apr-train-loop-');
afterAll(() => tmp.cleanup());

const withoutTime = (h: EpochRecord[]): Omit<EpochRecord, 'seconds'>[] => h.map(({ seconds: _s, ...r }) => r);

describe('runTraining', () => {
  it('lowers the train and validation loss of a bigram model on patterned data; records every field', () => {
    const m = new BigramModel(V);
    const progress: number[] = [];
    const seen: number[] = [];
    const h = runTraining(bigramRun(m, TRAIN, VAL, { ...OPTIONS, epochs: 4, lr: 0.1 }, { onProgress: (d) => progress.push(d), onEpoch: (r) => seen.push(r.epoch) }));
    expect(h.map((r) => r.epoch)).toEqual([1, 2, 3, 4]);
    expect(seen).toEqual([1, 2, 3, 4]);
    const steps = stepsPerEpoch(21, OPTIONS);
    expect(steps).toBe(6); // ⌈21 / (2·2)⌉
    expect(progress).toEqual(Array.from({ length: 4 * steps }, (_v, i) => i + 1));
    // initial loss ≈ ln 12 = 2.48 (near-uniform table); the pattern's entropy is ≈ 0.5 nats
    expect(h[0]!.trainLoss).toBeLessThan(Math.log(V) + 0.05);
    expect(h[3]!.valLoss!).toBeLessThan(h[0]!.valLoss! - 0.3);
    for (const r of h) {
      expect(r.trainPpl).toBeCloseTo(Math.exp(r.trainLoss), 10);
      expect(r.valPpl!).toBeCloseTo(Math.exp(r.valLoss!), 10);
      expect(r.metrics['length']).toBe(9);
      expect(r.valMetrics['length']).toBe(9);
    }
    expect(h[3]!.lr).toBeLessThan(h[1]!.lr); // cosine decay
  });

  it('[ob:finetune-deterministic-resume] is deterministic: the same seed gives bit-identical weights and history; another seed does not', () => {
    const run = (seed: number): { w: Float32Array; h: EpochRecord[] } => {
      const m = new BigramModel(V);
      const h = runTraining(bigramRun(m, TRAIN, VAL, { ...OPTIONS, seed }));
      return { w: m.w.data, h };
    };
    const a = run(7), b = run(7), c = run(8);
    expect(Buffer.from(a.w.buffer).equals(Buffer.from(b.w.buffer))).toBe(true);
    expect(withoutTime(a.h)).toEqual(withoutTime(b.h));
    expect(Buffer.from(a.w.buffer).equals(Buffer.from(c.w.buffer))).toBe(false);
    expect(epochOrder(21, 7, 0)).not.toEqual(epochOrder(21, 7, 1));
    expect([...epochOrder(21, 7, 0)].sort((x, y) => x - y)).toEqual(Array.from({ length: 21 }, (_v, i) => i));
  });

  it('averages gradients over batchSize × gradAccum: (2, 2) and (4, 1) and (1, 4) give the same weights', () => {
    const w = (batchSize: number, gradAccum: number): Float32Array => {
      const m = new BigramModel(V);
      runTraining(bigramRun(m, TRAIN, VAL, { ...OPTIONS, batchSize, gradAccum }));
      return m.w.data;
    };
    const ref = w(2, 2);
    expect(Array.from(w(4, 1))).toEqual(Array.from(ref));
    expect(Array.from(w(1, 4))).toEqual(Array.from(ref));
    // a single group step equals one AdamW step on the mean gradient: with lr 0 nothing moves
    const m = new BigramModel(V);
    const before = Float32Array.from(m.w.data);
    runTraining(bigramRun(m, TRAIN, [], { ...OPTIONS, lr: 0, weightDecay: 0, epochs: 1 }));
    expect(Array.from(m.w.data)).toEqual(Array.from(before));
  });

  it('[ob:finetune-deterministic-resume] resuming from the epoch checkpoint gives bit-identical weights and history to an uninterrupted run', () => {
    const straight = new BigramModel(V);
    const hs = runTraining(bigramRun(straight, TRAIN, VAL, OPTIONS));

    const dir = join(tmp.dir, 'ckpt');
    const first = new BigramModel(V);
    expect(() =>
      runTraining(bigramRun(first, TRAIN, VAL, OPTIONS, { checkpointDir: dir, onEpoch: (r) => { if (r.epoch === 2) throw new Error('interrupted'); } })),
    ).toThrow('interrupted');
    expect(existsSync(join(dir, CHECKPOINT_FILE))).toBe(true);

    const resumed = new BigramModel(V); // fresh initial weights: everything must come from the checkpoint
    const epochs: number[] = [];
    const hr = runTraining(bigramRun(resumed, TRAIN, VAL, OPTIONS, { checkpointDir: dir, onEpoch: (r) => epochs.push(r.epoch) }));
    expect(epochs).toEqual([3]);
    expect(withoutTime(hr)).toEqual(withoutTime(hs));
    expect(Buffer.from(resumed.w.data.buffer).equals(Buffer.from(straight.w.data.buffer))).toBe(true);
    expect(Buffer.from(resumed.b.data.buffer).equals(Buffer.from(straight.b.data.buffer))).toBe(true);
  });

  it('refuses a checkpoint made with other options, naming the option', () => {
    const dir = join(tmp.dir, 'ckpt2');
    runTraining(bigramRun(new BigramModel(V), TRAIN, VAL, { ...OPTIONS, epochs: 1 }, { checkpointDir: dir }));
    const other = (): unknown => runTraining(bigramRun(new BigramModel(V), TRAIN, VAL, { ...OPTIONS, epochs: 1, lr: 0.5 }, { checkpointDir: dir }));
    expect(other).toThrow(FormatError);
    expect(other).toThrow(/options\.lr/);
  });
});

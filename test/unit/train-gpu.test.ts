import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModel } from '../../src/formats/open.js';
import { openLoraAdapter } from '../../src/formats/peft/open.js';
import { type AlignResult, alignModel } from '../../src/ops/align.js';
import { type FinetuneOptions, type FinetuneResult, finetune } from '../../src/ops/finetune.js';
import { tune } from '../../src/ops/tune.js';
import { IGNORE } from '../../src/train/losses/cross-entropy.js';
import { exampleReports, packExamples } from '../../src/train/gpu/pack.js';
import { initLoraModules } from '../../src/train/model/lora.js';
import { createTrainableModel } from '../../src/train/model/index.js';
import { gpu, noGpuReason } from '../property/webgpu-helpers.js';
import { fixture, tempDir } from '../helpers.js';

/**
 * The WebGPU training step (src/train/gpu) against the CPU autograd trainer: the same seed, data, order
 * and schedule must give the same adapter within float32 tolerance after 20 optimizer steps, for LoRA over
 * the stored base and for QLoRA over the NF4 base, with one and with several examples packed per
 * micro-batch. On this machine the device is the software Vulkan adapter (Mesa lavapipe).
 */

const BASE = fixture('models/tiny-draft-llama');
let tmp: ReturnType<typeof tempDir>;
let data: string;
let prefs: string;
beforeAll(() => {
  tmp = tempDir('apr-train-gpu-');
  data = join(tmp.dir, 'd.jsonl');
  const lines = Array.from({ length: 12 }, (_v, i) => JSON.stringify({ text: `def f${i}(x):\n    return x * ${i} + ${(i * 7) % 5}\n` }));
  writeFileSync(data, lines.join('\n'));
  prefs = join(tmp.dir, 'prefs.jsonl');
  const pairs = Array.from({ length: 10 }, (_v, i) => JSON.stringify({ prompt: `def f${i}(x):\n`, chosen: `    return x + ${i}\n`, rejected: `    return x * ${i} - 1  # wrong\n` }));
  writeFileSync(prefs, pairs.join('\n'));
});
afterAll(() => tmp.cleanup());

describe('packing examples into one micro-batch', () => {
  it('rows keep their example: position from 0, segment bounds, next-token targets weighted 1/(M·E)', () => {
    const p = packExamples([{ tokens: [5, 6, 7] }, { tokens: [8, 9], mask: [1, 0] }, { tokens: [1, 2, 3, 4], mask: [0, 0, 1, 1] }], 4);
    expect(p.n).toBe(9);
    expect([...p.pos]).toEqual([0, 1, 2, 0, 1, 0, 1, 2, 3]);
    expect([...p.seg]).toEqual([0, 0, 0, 3, 3, 5, 5, 5, 5]);
    expect([...p.segEnd]).toEqual([3, 3, 3, 5, 5, 9, 9, 9, 9]);
    expect([...p.targets]).toEqual([6, 7, IGNORE, IGNORE, IGNORE, IGNORE, 3, 4, IGNORE]);
    expect([...p.rowWeight]).toEqual([1 / 8, 1 / 8, 0, 0, 0, 0, 1 / 8, 1 / 8, 0]);
    const reports = exampleReports(p, Float32Array.from([1, 3, 0, 0, 0, 0, 2, 6, 0]));
    expect(reports).toEqual([{ loss: 2, weight: 2 }, { loss: 0, weight: 0 }, { loss: 4, weight: 2 }]);
  });
});

describe('the GPU trainer starts from the CPU trainer\'s adapter', () => {
  it('initLoraModules gives attachLora\'s names, shapes and values for the seed', () => {
    const bundle = openModel(BASE);
    try {
      const spec = { rank: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'down_proj'], seed: 11 };
      const cpu = createTrainableModel(bundle, { method: 'lora', ...spec }).parameters();
      const gpuSide = initLoraModules(bundle.config, spec).flatMap((m) => [m.a, m.b]);
      expect(gpuSide.map((p) => [p.name, p.shape])).toEqual(cpu.map((p) => [p.name, p.shape]));
      gpuSide.forEach((p, i) => expect(p.data).toEqual(cpu[i]?.data));
    } finally {
      bundle.tensors.close();
    }
  });
});

function adapterFloats(dir: string): Map<string, Float32Array> {
  const a = openLoraAdapter(dir);
  const out = new Map<string, Float32Array>();
  for (const name of a.tensors.names()) {
    const t = a.tensors.get(name);
    if (t) out.set(name, new Float32Array(t.read().slice().buffer));
  }
  a.tensors.close();
  return out;
}

/** Largest ‖gpu − cpu‖₂ / ‖cpu‖₂ over the adapter tensors (B starts at 0, so relative to the trained values). */
function maxRelDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  let worst = 0;
  for (const [name, x] of a) {
    const y = b.get(name) as Float32Array;
    let d = 0;
    let n = 0;
    for (let i = 0; i < x.length; i++) {
      d += ((x[i] as number) - (y[i] as number)) ** 2;
      n += (y[i] as number) ** 2;
    }
    worst = Math.max(worst, Math.sqrt(d / Math.max(n, 1e-30)));
  }
  return worst;
}

const run = (out: string, backend: 'cpu' | 'webgpu', method: 'lora' | 'qlora', batchSize = 1, extra: Partial<FinetuneOptions> = {}): FinetuneResult => finetune({
  ...extra,
  model: BASE, data, output: join(tmp.dir, out), method, rank: 4, targets: ['q_proj', 'v_proj', 'o_proj', 'down_proj'], task: 'completion', maxSeqLen: 24, valSplit: 0.17,
  training: { epochs: 2, lr: 5e-3, batchSize, gradAccum: 1, warmupRatio: 0.1, weightDecay: 0.01, maxGradNorm: 1, seed: 3 }, backend,
});

/**
 * Tolerance: both compute in float32 and differ in summation order only (tiled products, tree reductions,
 * the packed attention's online softmax), ~1e-6 relative per op, and twenty AdamW steps amplify it (Adam
 * divides by √v). Measured on Mesa lavapipe: 8–9e-6 (LoRA, batch 1 and 3); the bound is 100× that, while a
 * wrong kernel (a dropped LoRA term, a missing RoPE inverse, attention across examples) moves the adapter
 * by 1e-2 or more.
 */
const ADAPTER_TOL = 1e-3;
/** Per-epoch mean losses: the same float32 argument without the optimizer's amplification (measured 2e-7). */
const LOSS_TOL = 1e-5;

describe.skipIf(!gpu)(`finetune --backend webgpu against the CPU trainer${noGpuReason}`, () => {
  it('[ob:train-webgpu-matches-cpu] LoRA: 20 steps give the CPU adapter and losses; the result says the GPU ran', () => {
    const c = run('cpu-lora', 'cpu', 'lora');
    const g = run('gpu-lora', 'webgpu', 'lora');
    expect(g.backend).toBe('webgpu');
    expect(g.device).toMatch(/\S/);
    expect(c.backend).toBe('cpu');
    expect(g.history.length).toBe(2);
    g.history.forEach((h, i) => {
      expect(Math.abs(h.trainLoss - (c.history[i]?.trainLoss ?? NaN))).toBeLessThan(LOSS_TOL * Math.max(1, h.trainLoss));
      expect(Math.abs((h.valLoss ?? NaN) - (c.history[i]?.valLoss ?? NaN))).toBeLessThan(LOSS_TOL * Math.max(1, h.trainLoss));
    });
    const diff = maxRelDiff(adapterFloats(join(tmp.dir, 'gpu-lora')), adapterFloats(join(tmp.dir, 'cpu-lora')));
    expect(diff).toBeLessThan(ADAPTER_TOL);
    expect(readFileSync(join(tmp.dir, 'gpu-lora', 'adapter_config.json'), 'utf8')).toBe(readFileSync(join(tmp.dir, 'cpu-lora', 'adapter_config.json'), 'utf8'));
  }, 600_000);

  it('[ob:train-webgpu-matches-cpu] QLoRA over the NF4 base, three examples per packed micro-batch', () => {
    const c = run('cpu-qlora', 'cpu', 'qlora', 3);
    const g = run('gpu-qlora', 'webgpu', 'qlora', 3);
    g.history.forEach((h, i) => expect(Math.abs(h.trainLoss - (c.history[i]?.trainLoss ?? NaN))).toBeLessThan(LOSS_TOL * Math.max(1, h.trainLoss)));
    expect(maxRelDiff(adapterFloats(join(tmp.dir, 'gpu-qlora')), adapterFloats(join(tmp.dir, 'cpu-qlora')))).toBeLessThan(ADAPTER_TOL);
  }, 600_000);

  it('[ob:train-webgpu-deterministic] the same run twice writes the same adapter bytes; stopped after epoch 1 and resumed from its checkpoint, too', () => {
    run('gpu-a', 'webgpu', 'lora', 2);
    run('gpu-b', 'webgpu', 'lora', 2);
    const bytes = (d: string): Buffer => readFileSync(join(tmp.dir, d, 'adapter_model.safetensors'));
    expect(bytes('gpu-a').equals(bytes('gpu-b'))).toBe(true);
    const ckpt = join(tmp.dir, 'gpu-ckpt');
    const stopAfterOne = (r: { epoch: number }): void => {
      if (r.epoch === 1) throw new Error('stop');
    };
    expect(() => run('gpu-c', 'webgpu', 'lora', 2, { checkpointDir: ckpt, onEpoch: stopAfterOne })).toThrow('stop');
    const epochs: number[] = [];
    run('gpu-c', 'webgpu', 'lora', 2, { checkpointDir: ckpt, onEpoch: (r) => epochs.push(r.epoch) });
    expect(epochs).toEqual([2]);
    expect(bytes('gpu-c').equals(bytes('gpu-a'))).toBe(true);
  }, 600_000);

  it('[ob:train-webgpu-deterministic] gradient checkpointing (each layer recomputed in the backward pass) writes the same adapter bytes', () => {
    run('gpu-all-acts', 'webgpu', 'qlora', 3);
    run('gpu-recomputed', 'webgpu', 'qlora', 3, { gradientCheckpointing: true });
    const bytes = (d: string): Buffer => readFileSync(join(tmp.dir, d, 'adapter_model.safetensors'));
    expect(bytes('gpu-recomputed').equals(bytes('gpu-all-acts'))).toBe(true);
  }, 600_000);

  for (const method of ['dpo', 'orpo'] as const) {
    it(`[ob:train-webgpu-matches-cpu] align ${method} --lora: the policy's step on the GPU trains the CPU's adapter; the reference is the base on the GPU`, () => {
      const align = (out: string, backend: 'cpu' | 'webgpu'): AlignResult => alignModel({
        model: BASE, data: prefs, output: join(tmp.dir, out), method, lora: true, rank: 4, targets: ['q_proj', 'v_proj', 'down_proj'],
        epochs: 2, batchSize: 2, gradAccum: 2, lr: 5e-3, seed: 4, valSplit: 0.2, backend,
      });
      const c = align(`${method}-cpu`, 'cpu');
      const g = align(`${method}-gpu`, 'webgpu');
      expect(g.backend).toBe('webgpu');
      expect(c.backend).toBe('cpu');
      // before the first step the policy is its own reference: margin 0 on both
      expect(g.initial['reward_margin']).toBe(0);
      g.history.forEach((h, i) => {
        const ch = c.history[i];
        expect(Math.abs(h.trainLoss - (ch?.trainLoss ?? NaN))).toBeLessThan(LOSS_TOL * Math.max(1, h.trainLoss));
        expect(Math.abs((h.metrics['reward_margin'] ?? NaN) - (ch?.metrics['reward_margin'] ?? NaN))).toBeLessThan(1e-4);
      });
      expect(maxRelDiff(adapterFloats(join(tmp.dir, `${method}-gpu`)), adapterFloats(join(tmp.dir, `${method}-cpu`)))).toBeLessThan(ADAPTER_TOL);
    }, 600_000);
  }

  it('[ob:train-webgpu-matches-cpu] tune --backend webgpu: every trial\'s held-out losses are the CPU trial\'s', () => {
    const search = (backend: 'cpu' | 'webgpu') => tune({
      model: BASE, data, budget: 2, method: 'lora', strategy: 'random', scheduler: 'none', scout: true, seed: 2, targets: ['q_proj', 'v_proj'],
      task: 'completion', maxSeqLen: 24, valSplit: 0.25, backend,
    });
    const c = search('cpu');
    const g = search('webgpu');
    expect(g.trials.length).toBe(2);
    g.trials.forEach((t, i) => {
      const ct = c.trials[i];
      expect(t.config).toEqual(ct?.config);
      expect(Math.abs(t.valLoss - (ct?.valLoss ?? NaN))).toBeLessThan(LOSS_TOL * Math.max(1, t.valLoss));
    });
  }, 600_000);
});

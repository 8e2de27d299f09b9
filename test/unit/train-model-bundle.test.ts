import path from 'node:path';
import { describe, expect, test } from 'vitest';
import { readHfDir } from '../../src/formats/hf-dir/read.js';
import { loadModel } from '../../src/model/index.js';
import { toFloat32 } from '../../src/tensor/codecs/index.js';
import { createTrainableModel, initRandomBundle } from '../../src/train/model/index.js';
import { FIXTURES, maxAbsDiff } from '../golden/model-fixtures.js';
import { QWEN2_SMALL, randomModel } from './model-random.js';

/** toBundle (full finetune weights out) and initRandomBundle (fresh students). */
const draft = readHfDir(path.join(FIXTURES, 'models', 'tiny-draft-llama'));
const ids = [1, 400, 33, 2047, 9, 9, 3000, 12];

describe('toBundle', () => {
  test('full finetune: after an update the bundle holds the new weights under the base names (tied head kept tied)', () => {
    const m = createTrainableModel(draft, { method: 'full' });
    for (const p of m.parameters()) for (let i = 0; i < p.data.length; i += 7) p.data[i] = p.data[i]! * 0.9;
    const out = m.toBundle();
    expect([...out.tensors.names()].sort()).toEqual([...draft.tensors.names()].sort());
    expect(out.tensors.get('model.norm.weight')!.dtype).toBe('F32');
    expect(out.tokenizer?.json).toBe(draft.tokenizer?.json);
    const reloaded = loadModel(out);
    expect(maxAbsDiff(reloaded.logitsAll(ids), m.logits(ids))).toBeLessThan(1e-4);
    expect(maxAbsDiff(loadModel(draft).logitsAll(ids), m.logits(ids))).toBeGreaterThan(1e-3);
  });

  test('LoRA: toBundle merges W + (α/r)·B·A', () => {
    const m = createTrainableModel(draft, { method: 'lora', rank: 2, alpha: 6, targets: ['o_proj', 'gate_proj'] });
    for (const p of m.parameters()) for (let i = 0; i < p.data.length; i++) p.data[i] = Math.sin(i + p.data.length) * 0.3;
    expect(maxAbsDiff(loadModel(m.toBundle()).logitsAll(ids), m.logits(ids))).toBeLessThan(1e-4);
  });
});

describe('initRandomBundle', () => {
  test('shapes of the config, N(0, 0.02²) matrices, ones for norms, zero biases, deterministic per seed', () => {
    const a = initRandomBundle(QWEN2_SMALL, draft.tokenizer, 4);
    const b = initRandomBundle(QWEN2_SMALL, draft.tokenizer, 4);
    const c = initRandomBundle(QWEN2_SMALL, draft.tokenizer, 5);
    const read = (bundle: typeof a, n: string): Float32Array => {
      const t = bundle.tensors.get(n)!;
      return toFloat32(t.dtype, t.shape, t.read());
    };
    const q = read(a, 'model.layers.1.self_attn.q_proj.weight');
    expect(a.tensors.get('model.layers.1.self_attn.q_proj.weight')!.shape).toEqual([4 * 24, 64]);
    const mean = q.reduce((s, x) => s + x, 0) / q.length;
    const std = Math.sqrt(q.reduce((s, x) => s + (x - mean) ** 2, 0) / q.length);
    expect(Math.abs(mean)).toBeLessThan(0.002);
    expect(Math.abs(std / 0.02 - 1)).toBeLessThan(0.05);
    expect(read(a, 'model.norm.weight').every((x) => x === 1)).toBe(true);
    expect(read(a, 'model.layers.0.self_attn.k_proj.bias').every((x) => x === 0)).toBe(true);
    expect(Array.from(read(b, 'lm_head.weight'))).toEqual(Array.from(read(a, 'lm_head.weight')));
    expect(Array.from(read(c, 'lm_head.weight'))).not.toEqual(Array.from(read(a, 'lm_head.weight')));
    expect(a.tokenizer).toBe(draft.tokenizer);
  });

  test('a student with tiny-draft-llama\'s architecture loads in the inference decoder and trains (full)', () => {
    const s = initRandomBundle(draft.config, draft.tokenizer, 1);
    expect(s.tensors.get('lm_head.weight')).toBeUndefined();
    const m = createTrainableModel(s, { method: 'full' });
    expect(maxAbsDiff(loadModel(s).logitsAll(ids), m.logits(ids))).toBeLessThan(1e-5);
    const baseCount = draft.tensors.names().reduce((n, name) => n + draft.tensors.get(name)!.shape.reduce((a, b) => a * b, 1), 0);
    expect(m.parameters().reduce((n, p) => n + p.data.length, 0)).toBe(baseCount);
  });
});

describe('Qwen2 (q/k/v biases, head_dim ≠ hidden/heads)', () => {
  test('[ob:tape-forward-matches-decoder] full and LoRA at init equal the inference decoder within 1e-4', () => {
    const { bundle } = randomModel(QWEN2_SMALL, 21);
    const want = loadModel(bundle).logitsAll([5, 90, 3, 3, 47, 12]);
    for (const method of ['full', 'lora'] as const) {
      const m = createTrainableModel(bundle, { method, targets: ['k_proj', 'down_proj'] });
      expect(maxAbsDiff(m.logits([5, 90, 3, 3, 47, 12]), want)).toBeLessThan(1e-4);
    }
  });
});

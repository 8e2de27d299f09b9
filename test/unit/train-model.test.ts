import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { readPeftAdapter, writePeftAdapter } from '../../src/formats/peft/adapter.js';
import { parsePeftConfig } from '../../src/formats/peft/config.js';
import { mergeLora } from '../../src/formats/peft/merge.js';
import { readHfDir } from '../../src/formats/hf-dir/read.js';
import { loadModel } from '../../src/model/index.js';
import { toFloat32 } from '../../src/tensor/codecs/index.js';
import { dequantizeNf4, quantizeNf4 } from '../../src/tensor/quant/nf4.js';
import { MemoryTensorStore } from '../../src/tensor/store.js';
import { createTrainableModel, type Trainable } from '../../src/train/model/index.js';
import { FIXTURES, loadReference, maxAbsDiff, referenceLogits } from '../golden/model-fixtures.js';

/**
 * The trainable decoder on the fixture tiny-coder-llama against transformers' reference logits, with the
 * inference golden test's tolerance (1e-4 absolute on every logit: both sides float32, only the summation
 * order differs). LoRA starts with B = 0, so it must equal the base; with the fixture's PEFT adapter loaded
 * into its factors it must equal transformers' logits of the merged model.
 */
const base = readHfDir(path.join(FIXTURES, 'models', 'tiny-coder-llama'));
const ref = loadReference('tiny-coder-llama');
const refLogits = referenceLogits('tiny-coder-llama');
const tmp = mkdtempSync(path.join(tmpdir(), 'apr-train-model-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function worstOver(m: Trainable, prompts = ref.prompts, logitsOf = refLogits): number {
  return prompts.reduce((w, p, i) => Math.max(w, maxAbsDiff(m.logits(p.ids), logitsOf(i))), 0);
}

describe('tiny-coder-llama as a trainable model vs transformers', () => {
  test('[ob:tape-forward-matches-decoder] full finetune: every logit of every prompt within 1e-4, forward() = logits()', () => {
    const m = createTrainableModel(base, { method: 'full' });
    expect(m.parameters().length).toBe(1 + 6 * 9 + 2);
    expect(worstOver(m)).toBeLessThan(1e-4);
    const ids = ref.prompts[0]!.ids;
    expect(Array.from(m.forward(ids).logits)).toEqual(Array.from(m.logits(ids)));
  });

  test('[ob:tape-forward-matches-decoder] LoRA at init (B = 0): equal to the base within 1e-4', () => {
    const m = createTrainableModel(base, { method: 'lora', rank: 8, alpha: 16, targets: ['q_proj', 'v_proj', 'down_proj'], seed: 3 });
    expect(worstOver(m)).toBeLessThan(1e-4);
  });

  test('LoRA with the fixture PEFT adapter in its factors reproduces transformers merge_and_unload() within 1e-4', () => {
    const adapter = readPeftAdapter(path.join(FIXTURES, 'adapters', 'tiny-coder-llama-lora-email'));
    const m = createTrainableModel(base, { method: 'lora', rank: adapter.config.r, alpha: adapter.config.lora_alpha, targets: ['q_proj', 'v_proj'] });
    for (const p of m.parameters()) {
      const t = adapter.tensors.get(p.name);
      expect(t, p.name).toBeDefined();
      const b = t!.read();
      p.data.set(new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
    }
    expect(adapter.tensors.names().length).toBe(m.parameters().length);
    const mref = loadReference('tiny-coder-llama+lora-email');
    expect(worstOver(m, mref.prompts, referenceLogits('tiny-coder-llama+lora-email'))).toBeLessThan(1e-4);
    adapter.tensors.close();
  });

  test('QLoRA (NF4 base): finite, close to the f32 logits, and the base takes < 30 % of LoRA\'s base memory', () => {
    const q = createTrainableModel(base, { method: 'qlora', rank: 8 });
    const l = createTrainableModel(base, { method: 'lora', rank: 8 });
    let agree = 0;
    let sumAbs = 0;
    let count = 0;
    let finite = true;
    ref.prompts.forEach((p, i) => {
      const got = q.logits(p.ids);
      const want = refLogits(i);
      for (let k = 0; k < got.length; k++) {
        finite &&= Number.isFinite(got[k]);
        sumAbs += Math.abs(got[k]! - want[k]!);
      }
      count += got.length;
      const V = base.config.vocab_size;
      for (let t = 0; t < p.ids.length; t++) if (argmax(got, t * V, V) === argmax(want, t * V, V)) agree++;
    });
    const positions = ref.prompts.reduce((s, p) => s + p.ids.length, 0);
    expect(finite).toBe(true);
    if (process.env['APR_TRAIN_REPORT']) process.stderr.write(`qlora mean |dlogit| ${sumAbs / count}, argmax agreement ${agree / positions}, bytes ${q.baseWeightBytes()} / ${l.baseWeightBytes()}\n`);
    // Measured: mean |Δlogit| ≈ 0.46, argmax agreement ≈ 0.83 (NF4 on every matrix incl. embeddings and head).
    expect(sumAbs / count).toBeLessThan(0.8);
    expect(agree / positions).toBeGreaterThan(0.7);
    expect(l.baseWeightBytes()).toBe(4 * 5_639_424 /* f32 parameters of tiny-coder-llama */);
    expect(q.baseWeightBytes() / l.baseWeightBytes()).toBeLessThan(0.3);
  });
});

test('[ob:tape-forward-matches-decoder] QLoRA equals the inference decoder over the NF4-rounded weights within 1e-4', () => {
  const c = base.config;
  const rounded = new MemoryTensorStore();
  for (const name of base.tensors.names()) {
    const t = base.tensors.get(name)!;
    const x = toFloat32(t.dtype, t.shape, t.read());
    const y = t.shape.length === 2 ? dequantizeNf4(quantizeNf4(x), x.length) : x;
    rounded.add(name, 'F32', t.shape, new Uint8Array(y.buffer, y.byteOffset, y.byteLength));
  }
  const inference = loadModel({ ...base, tensors: rounded });
  const q = createTrainableModel(base, { method: 'qlora', targets: ['gate_proj'] });
  const ids = ref.prompts[2]!.ids;
  expect(c.vocab_size).toBe(4096);
  expect(maxAbsDiff(q.logits(ids), inference.logitsAll(ids))).toBeLessThan(1e-4);
});

function argmax(a: Float32Array, o: number, n: number): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (a[o + i]! > a[o + best]!) best = i;
  return best;
}

describe('PEFT interop', () => {
  test('B ≠ 0: the adapter written in PEFT layout and merged by src/formats/peft gives the same logits within 1e-4', () => {
    const m = createTrainableModel(base, { method: 'lora', rank: 4, alpha: 12, targets: ['q_proj', 'k_proj', 'o_proj', 'up_proj'], seed: 5 });
    let s = 1;
    for (const p of m.parameters()) for (let i = 0; i < p.data.length; i++) p.data[i] = p.data[i]! + ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5) * 0.2;
    const store = new MemoryTensorStore();
    for (const t of m.adapterTensors()) store.add(t.name, 'F32', t.shape, new Uint8Array(t.data.buffer));
    const dir = path.join(tmp, 'adapter');
    writePeftAdapter(dir, parsePeftConfig('adapter_config.json', m.adapterConfig()), store);
    const merged = loadModel(mergeLora(readHfDir(path.join(FIXTURES, 'models', 'tiny-coder-llama')), readPeftAdapter(dir)));
    const ids = ref.prompts[1]!.ids;
    expect(maxAbsDiff(m.logits(ids), merged.logitsAll(ids))).toBeLessThan(1e-4);
    expect(maxAbsDiff(m.logits(ids), refLogits(1))).toBeGreaterThan(1e-2);
  });

  test('adapter tensor names and shapes are PEFT\'s', () => {
    const m = createTrainableModel(base, { method: 'lora', rank: 16, alpha: 32 });
    const names = m.adapterTensors().map((t) => `${t.name} ${t.shape.join('x')}`);
    expect(names.slice(0, 4)).toEqual([
      'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight 16x256',
      'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight 256x16',
      'base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight 16x256',
      'base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight 128x16',
    ]);
    expect(names.length).toBe(6 * 2 * 2);
    const cfg = parsePeftConfig('adapter_config.json', m.adapterConfig());
    expect([cfg.r, cfg.lora_alpha, cfg.target_modules]).toEqual([16, 32, ['q_proj', 'v_proj']]);
  });

  test('A is kaiming-uniform (|A| ≤ 1/√in, variance 1/(3·in)), B zeros, same seed same factors', () => {
    const a = createTrainableModel(base, { method: 'lora', seed: 9 }).adapterTensors();
    const b = createTrainableModel(base, { method: 'lora', seed: 9 }).adapterTensors();
    const A = a[0]!.data;
    const bound = 1 / Math.sqrt(256);
    expect(Math.max(...A.map(Math.abs))).toBeLessThanOrEqual(bound);
    const variance = A.reduce((s, x) => s + x * x, 0) / A.length;
    expect(Math.abs(variance / (bound * bound / 3) - 1)).toBeLessThan(0.1);
    expect(a[1]!.data.every((x) => x === 0)).toBe(true);
    expect(Array.from(b[0]!.data)).toEqual(Array.from(A));
  });
});

/**
 * LoRA applied unmerged (src/model/lora-apply.ts, as llama.cpp's --lora): against transformers+peft's merged
 * reference (fixtures/reference/tiny-coder-llama+lora-email.*), and one linear against the formula in float64.
 */
import { describe, expect, it } from 'vitest';
import { openModel } from '../../src/formats/open.js';
import type { PeftAdapter } from '../../src/formats/peft/adapter.js';
import { parsePeftConfig } from '../../src/formats/peft/config.js';
import { adapterLayout } from '../../src/formats/peft/modules.js';
import { openLoraAdapter } from '../../src/formats/peft/open.js';
import { cpuBackend } from '../../src/kernels/cpu/index.js';
import { generate, loadModel } from '../../src/model/index.js';
import { addLoraDelta, loadLoraPair, withUnmergedLoras } from '../../src/model/lora-apply.js';
import type { ModelBundle } from '../../src/tensor/bundle.js';
import { MemoryTensorStore } from '../../src/tensor/store.js';
import { loadReference, maxAbsDiff, referenceLogits } from '../golden/model-fixtures.js';
import { fixture } from '../helpers.js';

const BASE = fixture('gguf/tiny-coder-llama-f32.gguf');
const GGUF_LORA = fixture('gguf/tiny-coder-llama-lora-email-f32.gguf');
const PEFT_LORA = fixture('adapters/tiny-coder-llama-lora-email');
const REF = 'tiny-coder-llama+lora-email';

function withAdapters(specs: [string, number][]): ModelBundle {
  const base = openModel(BASE);
  return withUnmergedLoras(base, specs.map(([path, scale]) => ({ adapter: openLoraAdapter(path, base.config), scale })));
}

describe('unmerged LoRA on tiny-coder-llama', () => {
  const ref = loadReference(REF);
  const refLogits = referenceLogits(REF);

  it('[ob:adapter-unmerged-matches-peft] llama.cpp\'s GGUF adapter on the f32 GGUF base: PEFT merged logits within 1e-4, greedy_32 exact', () => {
    const bundle = withAdapters([[GGUF_LORA, 1]]);
    const model = loadModel(bundle);
    bundle.tensors.close();
    // base weights are untouched: the loaded q_proj is the base's, F32
    expect(model.weightDtypes['model.layers.0.self_attn.q_proj.weight']).toBe('F32');
    let worst = 0;
    ref.prompts.forEach((p, i) => {
      worst = Math.max(worst, maxAbsDiff(model.logitsAll(p.ids), refLogits(i)));
      expect(generate(model, p.ids, { maxTokens: 32 }).ids, p.text).toEqual(p.greedy_32);
    });
    // Tolerance 1e-4 (as the merged PEFT test): float32 on both sides, only summation order differs;
    // measured 2.1e-5 (the base model alone is within ≈3e-5 of transformers).
    expect(worst).toBeLessThan(1e-4);
  });

  it('[ob:adapter-unmerged-sum] the same adapter twice at scale 0.5 (GGUF + PEFT folder) equals it once at scale 1, logits within 2e-5', () => {
    const once = loadModel(withAdapters([[GGUF_LORA, 1]]));
    const twice = loadModel(withAdapters([[GGUF_LORA, 0.5], [PEFT_LORA, 0.5]]));
    const none = loadModel(openModel(BASE));
    let worst = 0;
    let moved = 0;
    for (const p of ref.prompts.slice(0, 3)) {
      const a = once.logitsAll(p.ids);
      worst = Math.max(worst, maxAbsDiff(twice.logitsAll(p.ids), a));
      moved = Math.max(moved, maxAbsDiff(none.logitsAll(p.ids), a));
    }
    // 0.5·2·B = B exactly, so the two runs differ only in float32 rounding of the rank-16 vs rank-8 sums;
    // logits reach |20| where one ulp is 1.9e-6: measured 7.9e-6, bound 2e-5 (≈10 ulps). The adapter itself
    // moves logits by > 1, so a dropped or doubled adapter is 5 orders of magnitude past the bound.
    expect(worst).toBeLessThan(2e-5);
    expect(moved).toBeGreaterThan(1);
  });

  it('refuses what it cannot apply unmerged, and adapters that do not fit the base', () => {
    const draft = openModel(fixture('gguf/tiny-draft-llama-f32.gguf'));
    expect(() => withUnmergedLoras(draft, [{ adapter: openLoraAdapter(GGUF_LORA, draft.config), scale: 1 }])).toThrow(/model\.layers\.\d\.self_attn\.(q|v)_proj: (LoRA factors give|the base model has no tensor)/);
    const base = openModel(BASE);
    expect(() => withUnmergedLoras(base, [{ adapter: openLoraAdapter(GGUF_LORA, base.config), scale: Number.NaN }])).toThrow(/scale: must be a finite number/);
    draft.tensors.close();
    base.tensors.close();
  });
});

describe('one linear with two adapters', () => {
  const W = [[0.5, -1, 2, 0.25], [3, -0.75, 1.5, 0], [-2, 1, 1, 1]]; // [out 3, in 4]
  const f32 = (m: number[][]) => new Uint8Array(Float32Array.from(m.flat()).buffer);

  function adapter(path: string, a: number[][], b: number[][], alpha: number, embedding = false): PeftAdapter {
    const s = new MemoryTensorStore();
    const p = 'base_model.model.model.layers.0.self_attn.q_proj';
    s.add(embedding ? `${p}.lora_embedding_A` : `${p}.lora_A.weight`, 'F32', [a.length, a[0]!.length], f32(a));
    s.add(embedding ? `${p}.lora_embedding_B` : `${p}.lora_B.weight`, 'F32', [b.length, b[0]!.length], f32(b));
    const config = parsePeftConfig(path, { peft_type: 'LORA', r: a.length, lora_alpha: alpha, target_modules: ['q_proj'] });
    return { path, config, tensors: s, layout: adapterLayout(path, config, s) };
  }

  const base = (): ModelBundle => {
    const s = new MemoryTensorStore();
    s.add('model.layers.0.self_attn.q_proj.weight', 'F32', [3, 4], f32(W));
    return { config: {} as ModelBundle['config'], tensors: s, metadata: {}, provenance: [], source: { path: 'toy', format: 'memory' } };
  };

  it('[ob:adapter-unmerged-sum] y = W·x + Σ s_i(α_i/r_i)·B_i·A_i·x, computed independently in float64, within 1e-5 relative', () => {
    const a1 = [[1, 0.5, -1, 2]]; // r 1
    const b1 = [[0.25], [-1], [2]];
    const a2 = [[0.5, 1, 0, -1], [2, -0.5, 1, 0.25]]; // r 2
    const b2 = [[1, -1], [0.5, 0.5], [-2, 1]];
    const specs = [{ adapter: adapter('one', a1, b1, 3), scale: 0.75 }, { adapter: adapter('two', a2, b2, 4), scale: -1.5 }];
    const bundle = withUnmergedLoras(base(), specs);
    const pair = loadLoraPair(cpuBackend, bundle.tensors, 'model.layers.0.self_attn.q_proj', 3, 4)!;
    expect(pair.rank).toBe(3);
    const xs = [[1, 2, -1, 0.5], [-0.25, 0, 3, 1]];
    const out = new Float32Array(6);
    cpuBackend.matmul(cpuBackend.prepareWeight({ dtype: 'F32', rows: 3, cols: 4, data: Float32Array.from(W.flat()) }), Float32Array.from(xs.flat()), 2, out);
    addLoraDelta(cpuBackend, pair, Float32Array.from(xs.flat()), 2, 3, out);
    const dot = (u: number[], v: number[]) => u.reduce((s, ui, i) => s + ui * v[i]!, 0);
    const delta = (a: number[][], b: number[][], c: number, x: number[]) => b.map((row) => c * dot(row, a.map((ak) => dot(ak, x))));
    xs.forEach((x, t) => {
      const d1 = delta(a1, b1, 0.75 * (3 / 1), x);
      const d2 = delta(a2, b2, -1.5 * (4 / 2), x);
      W.forEach((w, o) => {
        const want = dot(w, x) + d1[o]! + d2[o]!;
        expect(Math.abs(out[t * 3 + o]! - want)).toBeLessThan(1e-5 * (1 + Math.abs(want)));
      });
    });
  });

  it('refuses an embedding LoRA unmerged (the embedding has no hook), naming the module', () => {
    const emb = adapter('emb', [[1, 2, 3]], [[1], [2], [3], [4]], 2, true);
    const s = new MemoryTensorStore();
    s.add('model.layers.0.self_attn.q_proj.weight', 'F32', [4, 3], f32([[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 1, 1]]));
    expect(() => withUnmergedLoras({ ...base(), tensors: s }, [{ adapter: emb, scale: 1 }])).toThrow(/emb: model\.layers\.0\.self_attn\.q_proj: an embedding LoRA cannot be applied unmerged/);
  });
});

import { describe, expect, test } from 'vitest';
import { createCpuBackend } from '../../src/kernels/cpu/index.js';
import { loadModel } from '../../src/model/index.js';
import type { ArchConfig } from '../../src/tensor/bundle.js';
import type { DType } from '../../src/tensor/dtype.js';
import { QWEN2_SMALL, randomModel } from './model-random.js';

type Weights = Map<string, { shape: number[]; data: Float32Array }>;

/**
 * An independent float64 reference of transformers' Qwen2ForCausalLM / LlamaForCausalLM forward pass, written
 * from the model definition with naive loops (no code shared with src/model or src/kernels).
 */
function referenceLogits(c: ArchConfig, W: Weights, ids: number[]): number[][] {
  const get = (n: string): Float32Array => {
    const w = W.get(n);
    if (!w) throw new Error(`reference: missing ${n}`);
    return w.data;
  };
  const has = (n: string): boolean => W.has(n);
  const H = c.hidden_size;
  const d = c.head_dim;
  const linear = (x: number[], name: string, out: number, inp: number): number[] => {
    const w = get(`${name}.weight`);
    const b = has(`${name}.bias`) ? get(`${name}.bias`) : undefined;
    const y: number[] = [];
    for (let r = 0; r < out; r++) {
      let s = b ? b[r]! : 0;
      for (let k = 0; k < inp; k++) s += w[r * inp + k]! * x[k]!;
      y.push(s);
    }
    return y;
  };
  const norm = (x: number[], name: string): number[] => {
    const w = get(name);
    const ms = x.reduce((a, v) => a + v * v, 0) / x.length;
    return x.map((v, i) => (v / Math.sqrt(ms + c.rms_norm_eps)) * w[i]!);
  };
  const rotate = (v: number[], pos: number, heads: number): number[] => {
    const o = v.slice();
    for (let h = 0; h < heads; h++) for (let i = 0; i < d / 2; i++) {
      const ang = pos * Math.pow(c.rope_theta, (-2 * i) / d);
      const a = v[h * d + i]!;
      const b = v[h * d + i + d / 2]!;
      o[h * d + i] = a * Math.cos(ang) - b * Math.sin(ang);
      o[h * d + i + d / 2] = b * Math.cos(ang) + a * Math.sin(ang);
    }
    return o;
  };
  const E = get('model.embed_tokens.weight');
  let hs = ids.map((id) => Array.from(E.subarray(id * H, (id + 1) * H)));
  for (let l = 0; l < c.num_layers; l++) {
    const p = `model.layers.${l}`;
    const xn = hs.map((x) => norm(x, `${p}.input_layernorm.weight`));
    const q = xn.map((x, t) => rotate(linear(x, `${p}.self_attn.q_proj`, c.num_heads * d, H), t, c.num_heads));
    const k = xn.map((x, t) => rotate(linear(x, `${p}.self_attn.k_proj`, c.num_kv_heads * d, H), t, c.num_kv_heads));
    const v = xn.map((x) => linear(x, `${p}.self_attn.v_proj`, c.num_kv_heads * d, H));
    const rep = c.num_heads / c.num_kv_heads;
    const attn = q.map((qt, t) => {
      const o: number[] = new Array<number>(c.num_heads * d).fill(0);
      for (let h = 0; h < c.num_heads; h++) {
        const g = Math.floor(h / rep);
        const sc: number[] = [];
        for (let j = 0; j <= t; j++) {
          let s = 0;
          for (let i = 0; i < d; i++) s += qt[h * d + i]! * k[j]![g * d + i]!;
          sc.push(s / Math.sqrt(d));
        }
        const m = Math.max(...sc);
        const e = sc.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j <= t; j++) for (let i = 0; i < d; i++) o[h * d + i]! += (e[j]! / z) * v[j]![g * d + i]!;
      }
      return o;
    });
    hs = hs.map((x, t) => {
      const o = linear(attn[t]!, `${p}.self_attn.o_proj`, H, c.num_heads * d);
      return x.map((vv, i) => vv + o[i]!);
    });
    hs = hs.map((x) => {
      const xm = norm(x, `${p}.post_attention_layernorm.weight`);
      const g = linear(xm, `${p}.mlp.gate_proj`, c.intermediate_size, H);
      const u = linear(xm, `${p}.mlp.up_proj`, c.intermediate_size, H);
      const a = g.map((gv, i) => (gv / (1 + Math.exp(-gv))) * u[i]!);
      const dn = linear(a, `${p}.mlp.down_proj`, H, c.intermediate_size);
      return x.map((vv, i) => vv + dn[i]!);
    });
  }
  const head = has('lm_head.weight') ? 'lm_head' : 'model.embed_tokens';
  return hs.map((x) => linear(norm(x, 'model.norm.weight'), head, c.vocab_size, H));
}

function maxAbsDiff(got: Float32Array, want: number[][]): number {
  let m = 0;
  want.flat().forEach((v, i) => (m = Math.max(m, Math.abs(got[i]! - v))));
  return m;
}

const IDS = [5, 17, 96, 0, 42, 42, 3, 77, 11, 60];

describe('Qwen2 decoder against an independent float64 reference', () => {
  // Float32 storage of activations between kernels (as transformers in float32): logits of magnitude ~10
  // agree to ~1e-5; 1e-4 absolute is the bound the fixtures use for transformers itself.
  for (const dtype of ['F32', 'F16', 'Q8_0'] as DType[]) {
    test(`[ob:decoder-qwen2-reference] random Qwen2 (QKV bias, untied head, head_dim 24 ≠ hidden/heads), ${dtype} weights`, () => {
      const { bundle, weights } = randomModel(QWEN2_SMALL, 1234, dtype);
      // the exact (dequantized) product: the default integer-dot path rounds activations to 8 bits, as llama.cpp
      const model = loadModel(bundle, { backend: createCpuBackend({ threads: 1, integerDot: false }) });
      const got = model.logitsAll(IDS);
      const want = referenceLogits(QWEN2_SMALL, weights, IDS);
      expect(want.flat().some((v) => Math.abs(v) > 1)).toBe(true);
      expect(maxAbsDiff(got, want)).toBeLessThan(1e-4);
    });
  }

  test('the biases matter: dropping them changes the logits beyond the tolerance', () => {
    const { bundle, weights } = randomModel(QWEN2_SMALL, 99);
    const model = loadModel(bundle);
    const noBias: Weights = new Map([...weights].filter(([n]) => !n.endsWith('.bias')));
    expect(maxAbsDiff(model.logitsAll(IDS), referenceLogits(QWEN2_SMALL, noBias, IDS))).toBeGreaterThan(1e-2);
  });

  test('[ob:decoder-qwen2-reference] tied Llama-style model with GQA and tied head', () => {
    const cfg: ArchConfig = { ...QWEN2_SMALL, architecture: 'llama', attention_bias: false, tie_word_embeddings: true, head_dim: 16, num_heads: 6, num_kv_heads: 3, hidden_size: 96, rope_theta: 10000 };
    const { bundle, weights } = randomModel(cfg, 7);
    const got = loadModel(bundle).logitsAll(IDS);
    expect(maxAbsDiff(got, referenceLogits(cfg, weights, IDS))).toBeLessThan(1e-4);
  });

  test('a tensor of the wrong shape is rejected naming the tensor', () => {
    const { bundle } = randomModel(QWEN2_SMALL, 3);
    const bad = { ...bundle, config: { ...QWEN2_SMALL, intermediate_size: 64 } };
    expect(() => loadModel(bad)).toThrow(/mlp\.gate_proj\.weight.*expected shape \[64, 64\]/);
  });
});

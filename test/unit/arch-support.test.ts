/**
 * Architecture plumbing around the golden tests (test/golden/arch-*.test.ts): config.json variants of the
 * newer architectures (transformers 4.x and 5 keys) against the GGUF fixtures' configs, configs GGUF cannot
 * express, and backends that lack a kernel option (CPU: never; WebGPU: `auto` falls back with one line).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readGgufBundle, writeGgufBundle } from '../../src/formats/gguf/index.js';
import { gemmaImpliedScalar, ggufArchName } from '../../src/formats/gguf/arch-extra.js';
import { shiftNormBytes } from '../../src/formats/gguf/norm-shift.js';
import { slidingPattern } from '../../src/formats/hf-dir/config-arch.js';
import { archConfigFromHf, archConfigToHf } from '../../src/formats/hf-dir/config-map.js';
import { f32ToF16 } from '../../src/tensor/half.js';
import { cpuBackend } from '../../src/kernels/cpu/index.js';
import { missingKernels } from '../../src/model/arch-plan.js';
import { loadModel } from '../../src/model/index.js';
import { BackendUnavailableError, createSession } from '../../src/model/session.js';
import { archTraits, decoderTensorShapes, layerAttention } from '../../src/tensor/arch.js';
import type { ArchConfig } from '../../src/tensor/bundle.js';
import { ARCH_NAMES, archGguf, llamaLogits, manifest, maxAbsDiff } from '../golden/arch-fixtures.js';
import { gpu, noGpuReason } from '../property/webgpu-helpers.js';
import { tempDir } from '../helpers.js';

const configOf = (name: string): ArchConfig => {
  const b = readGgufBundle(archGguf(name));
  b.tensors.close();
  return b.config;
};

const COMMON = { hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 2, intermediate_size: 96, vocab_size: 512, max_position_embeddings: 256, bos_token_id: null, eos_token_id: 0 };

describe('config.json of each architecture', () => {
  it('Gemma 3 in transformers 4.x keys (rope_local_base_freq, sliding_window_pattern) reads as the gemma3 GGUF does', () => {
    const hf = { ...COMMON, architectures: ['Gemma3ForCausalLM'], model_type: 'gemma3_text', num_hidden_layers: 3, head_dim: 32, rms_norm_eps: 1e-6, rope_theta: 1e6, rope_local_base_freq: 10000, sliding_window: 5, sliding_window_pattern: 3, query_pre_attn_scalar: 32, hidden_activation: 'gelu_pytorch_tanh', final_logit_softcapping: null, attn_logit_softcapping: null, rope_scaling: null };
    expect(archConfigFromHf('config.json', hf)).toEqual(configOf('gemma3'));
  });

  it('Gemma 3 in transformers 5 keys (rope_parameters per layer type, layer_types) reads the same', () => {
    const hf = { ...COMMON, architectures: ['Gemma3ForCausalLM'], model_type: 'gemma3_text', num_hidden_layers: 3, head_dim: 32, rms_norm_eps: 1e-6, sliding_window: 5, query_pre_attn_scalar: 32, layer_types: ['sliding_attention', 'sliding_attention', 'full_attention'], rope_parameters: { full_attention: { rope_type: 'default', rope_theta: 1e6 }, sliding_attention: { rope_type: 'default', rope_theta: 10000 } } };
    expect(archConfigFromHf('config.json', hf)).toEqual(configOf('gemma3'));
  });

  it('Gemma 2 without layer_types alternates sliding (even) and full (odd) layers; soft-caps and scalar kept', () => {
    const hf = { ...COMMON, architectures: ['Gemma2ForCausalLM'], num_hidden_layers: 2, head_dim: 24, rms_norm_eps: 1e-6, rope_theta: 10000, sliding_window: 6, query_pre_attn_scalar: 24, attn_logit_softcapping: 5, final_logit_softcapping: 4, hidden_act: 'gelu_pytorch_tanh' };
    expect(archConfigFromHf('config.json', hf)).toEqual(configOf('gemma2'));
  });

  it('Phi-3 with partial_rotary_factor, Mistral with sliding_window, Qwen3 with head_dim read as their GGUF files', () => {
    const phi = { ...COMMON, architectures: ['Phi3ForCausalLM'], num_hidden_layers: 2, rms_norm_eps: 1e-5, rope_theta: 10000, partial_rotary_factor: 0.5, sliding_window: null, original_max_position_embeddings: 256, tie_word_embeddings: false };
    expect(archConfigFromHf('config.json', phi)).toEqual(configOf('phi3'));
    const mistral = { ...COMMON, architectures: ['MistralForCausalLM'], num_hidden_layers: 2, head_dim: 16, rms_norm_eps: 1e-5, rope_theta: 10000, sliding_window: 6, tie_word_embeddings: true };
    expect(archConfigFromHf('config.json', mistral)).toEqual(configOf('mistral'));
    const qwen = { ...COMMON, architectures: ['Qwen3ForCausalLM'], num_hidden_layers: 2, head_dim: 24, rms_norm_eps: 1e-6, rope_theta: 1e6, tie_word_embeddings: true, use_sliding_window: false, sliding_window: null };
    expect(archConfigFromHf('config.json', qwen)).toEqual(configOf('qwen3'));
  });

  it('ArchConfig → config.json → ArchConfig is the identity for every fixture', () => {
    for (const name of ARCH_NAMES) expect(archConfigFromHf('config.json', archConfigToHf(configOf(name)))).toEqual(configOf(name));
  });

  it('unsupported variants fail with one line naming the field', () => {
    const base = { ...COMMON, num_hidden_layers: 2, rms_norm_eps: 1e-5 };
    expect(() => archConfigFromHf('c.json', { ...base, architectures: ['Phi3ForCausalLM'], rope_scaling: { type: 'longrope', long_factor: [1], short_factor: [1] } })).toThrow(/c\.json: rope_scaling: RoPE scaling "longrope" is not supported/);
    expect(() => archConfigFromHf('c.json', { ...base, architectures: ['Qwen3ForCausalLM'], use_sliding_window: true, sliding_window: 4 })).toThrow(/use_sliding_window/);
    expect(() => archConfigFromHf('c.json', { ...base, architectures: ['Gemma2ForCausalLM'], hidden_activation: 'gelu' })).toThrow(/hidden_activation: expected "gelu_pytorch_tanh"/);
    expect(() => archConfigFromHf('c.json', { ...base, architectures: ['FalconForCausalLM'] })).toThrow(/unsupported architecture "FalconForCausalLM" \(supported: LlamaForCausalLM, .*Gemma3ForCausalLM\)/);
  });
});

describe('small maps', () => {
  it('sliding_window_pattern of a layer_types list (transformers: layer i full iff (i + 1) mod p = 0)', () => {
    const s = 'sliding_attention' as const;
    const f = 'full_attention' as const;
    expect(slidingPattern([s, f, s, f])).toBe(2);
    expect(slidingPattern([s, s, s, s, s, f, s])).toBe(6);
    expect(slidingPattern([f, s, f])).toBeUndefined();
  });

  it("GGUF names: Mistral is llama; llama.cpp's Gemma scale uses hidden/heads only for the 27B shapes (46 / 62 layers)", () => {
    expect(ggufArchName('mistral')).toBe('llama');
    expect(ggufArchName('gemma3')).toBe('gemma3');
    const shape = { hidden_size: 4608, num_heads: 32, head_dim: 128 };
    expect(gemmaImpliedScalar({ ...shape, architecture: 'gemma2', num_layers: 46 })).toBe(144);
    expect(gemmaImpliedScalar({ ...shape, architecture: 'gemma2', num_layers: 42 })).toBe(128);
    expect(gemmaImpliedScalar({ ...shape, architecture: 'gemma3', num_layers: 62 })).toBe(144);
  });

  it('Gemma norm gains: the stored 1 + w (any float dtype) becomes float32 w, and back', () => {
    const f16 = new Uint16Array([f32ToF16(1.5), f32ToF16(0.75), f32ToF16(2)]);
    const w = new Float32Array(shiftNormBytes('F16', [3], new Uint8Array(f16.buffer), -1).slice().buffer);
    expect(Array.from(w)).toEqual([0.5, -0.25, 1]);
    const back = new Float32Array(shiftNormBytes('F32', [3], new Uint8Array(w.buffer), 1).slice().buffer);
    expect(Array.from(back)).toEqual([1.5, 0.75, 2]);
  });
});

describe('what GGUF cannot express', () => {
  const tmp = tempDir('apr-arch-support-');
  const bundleWith = (name: string, change: Partial<ArchConfig>) => {
    const b = readGgufBundle(archGguf(name));
    b.config = { ...b.config, ...change };
    return b;
  };
  it('a Gemma query_pre_attn_scalar other than llama.cpp implies, a non-periodic layer sequence, a Qwen3 window', () => {
    expect(() => writeGgufBundle(bundleWith('gemma2', { query_pre_attn_scalar: 16 }), join(tmp.dir, 'a.gguf'))).toThrow(/query_pre_attn_scalar: 16, but llama\.cpp derives 24/);
    expect(() => writeGgufBundle(bundleWith('gemma3', { layer_types: ['full_attention', 'sliding_attention', 'sliding_attention'] }), join(tmp.dir, 'b.gguf'))).toThrow(/layer_types: .*not periodic/);
    expect(() => writeGgufBundle(bundleWith('qwen3', { sliding_window: 8 }), join(tmp.dir, 'c.gguf'))).toThrow(/sliding_window: qwen3 in llama\.cpp has no sliding window/);
    tmp.cleanup();
  });
});

describe('architecture traits and kernel needs', () => {
  it('per-layer attention follows layer_types; tensor lists follow the traits', () => {
    const g3 = configOf('gemma3');
    expect([0, 1, 2].map((l) => layerAttention(g3, l))).toEqual([
      { theta: 10000, rotaryDim: 32, window: 5, scale: 1 / Math.sqrt(32) },
      { theta: 10000, rotaryDim: 32, window: 5, scale: 1 / Math.sqrt(32) },
      { theta: 1e6, rotaryDim: 32, scale: 1 / Math.sqrt(32) },
    ]);
    expect(layerAttention(configOf('phi3'), 0)).toEqual({ theta: 10000, rotaryDim: 8 });
    expect(archTraits(configOf('phi3')).fused).toBe(true);
    expect([...decoderTensorShapes(configOf('phi3')).keys()].filter((n) => n.startsWith('model.layers.0.'))).toEqual([
      'model.layers.0.input_layernorm.weight', 'model.layers.0.self_attn.qkv_proj.weight', 'model.layers.0.self_attn.o_proj.weight',
      'model.layers.0.post_attention_layernorm.weight', 'model.layers.0.mlp.gate_up_proj.weight', 'model.layers.0.mlp.down_proj.weight',
    ]);
  });

  it('the CPU backend lacks nothing; a backend without the options is refused with a one-line reason', () => {
    for (const name of ARCH_NAMES) expect(missingKernels(configOf(name), cpuBackend)).toEqual([]);
    const bare = { ...cpuBackend, name: 'bare', features: undefined, geglu: undefined, scale: undefined, softcap: undefined };
    expect(missingKernels(configOf('qwen3'), bare)).toEqual([]);
    expect(missingKernels(configOf('mistral'), bare)).toEqual(['sliding-window attention']);
    expect(missingKernels(configOf('phi3'), bare)).toEqual(['partial RoPE']);
    expect(missingKernels(configOf('gemma2'), bare)).toEqual(['sliding-window attention', 'attention soft-capping', 'a custom attention scale', 'the GELU-tanh gate', 'embedding scaling', 'logit soft-capping']);
    expect(() => loadModel(readGgufBundle(archGguf('gemma3')), { backend: bare })).toThrow(/^the bare backend cannot run gemma3: it lacks sliding-window attention, a custom attention scale, the GELU-tanh gate, embedding scaling$/);
  });
});

describe.skipIf(!gpu)(`WebGPU${noGpuReason}`, () => {
  it('auto: Mistral, Phi-3 and Gemma fall back to the CPU with one warning line naming what WebGPU lacks', () => {
    for (const name of ['mistral', 'phi3', 'gemma2', 'gemma3']) {
      const warnings: string[] = [];
      const s = createSession(readGgufBundle(archGguf(name)), { backend: 'auto', warn: (l) => warnings.push(l) });
      expect(s.model.backend).toMatch(/^cpu/);
      expect(warnings).toEqual([expect.stringMatching(new RegExp(`^warning: webgpu lacks [a-zA-Z, -]+ for ${name}; using the cpu backend$`))]);
      s.model.dispose();
    }
  });

  it('webgpu asked for explicitly: BackendUnavailableError with the reason', () => {
    expect(() => createSession(readGgufBundle(archGguf('gemma2')), { backend: 'webgpu' })).toThrow(BackendUnavailableError);
    expect(() => createSession(readGgufBundle(archGguf('gemma2')), { backend: 'webgpu' })).toThrow(/^the webgpu backend lacks sliding-window attention, .* for gemma2$/);
  });

  it('Qwen3 needs no new kernel option: it runs on WebGPU and matches llama.cpp within 1e-4', () => {
    const s = createSession(readGgufBundle(archGguf('qwen3')), { backend: 'webgpu' });
    expect(s.model.backend).toBe('webgpu');
    // WebGPU float32 kernels (other summation order, GPU exp/tanh): the parity gate's reasoning, 1e-5 of range 10
    expect(maxAbsDiff(s.model.logitsAll(manifest.tokens), llamaLogits('qwen3'))).toBeLessThan(1e-4);
    s.model.dispose();
  });
});

import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/errors.js';
import { readHfDir } from '../../src/formats/hf-dir/read.js';
import { readPeftAdapter, writePeftAdapter } from '../../src/formats/peft/adapter.js';
import { mergeLora } from '../../src/formats/peft/merge.js';
import type { ModelBundle } from '../../src/tensor/bundle.js';
import { f16ToF32 } from '../../src/tensor/half.js';
import { MemoryTensorStore, type TensorRef } from '../../src/tensor/store.js';

const FIX = resolve(process.cwd(), '../shared/fixtures');
const ADAPTER = join(FIX, 'adapters/tiny-coder-llama-lora-email');
const BASE = join(FIX, 'models/tiny-coder-llama');
const tmp = mkdtempSync(join(tmpdir(), 'apr-peft-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** Float32 little-endian bytes → float64 values (exact). */
const f64 = (t: TensorRef): Float64Array => Float64Array.from(new Float32Array(t.read().slice().buffer));
const bytesOf = (v: number[]) => new Uint8Array(Float32Array.from(v).buffer);

/** Independent reference: W + s·B·A in float64; `t` = the delta is transposed onto W. */
function expected(w: Float64Array, a: Float64Array, b: Float64Array, out: number, inn: number, r: number, s: number, t = false): Float64Array {
  const res = Float64Array.from(w);
  for (let o = 0; o < out; o++)
    for (let i = 0; i < inn; i++) {
      let d = 0;
      for (let k = 0; k < r; k++) d += b[o * r + k]! * a[k * inn + i]!;
      res[t ? i * out + o : o * inn + i]! += s * d;
    }
  return res;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

describe('PEFT adapter folders', () => {
  it('reads the fixture adapter (PEFT 0.21, r=8, alpha=16, q_proj/v_proj) with PEFT tensor names', () => {
    const ad = readPeftAdapter(ADAPTER);
    expect(ad.config).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 8, lora_alpha: 16, target_modules: ['q_proj', 'v_proj'], use_rslora: false, use_dora: false, bias: 'none', fan_in_fan_out: false, base_model_name_or_path: 'tiny-coder-llama' });
    expect(ad.tensors.names()).toHaveLength(6 * 2 * 2);
    expect(ad.tensors.names()).toContain('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight');
    expect(ad.layout.modules).toHaveLength(12);
    expect(new Set(ad.layout.modules.map((m) => m.scale))).toEqual(new Set([2]));
    ad.tensors.close();
  });

  it('writes it back: adapter_model.safetensors byte-identical, adapter_config.json the same JSON as PEFT wrote', () => {
    const ad = readPeftAdapter(ADAPTER);
    const out = join(tmp, 'rewritten');
    writePeftAdapter(out, ad.config, ad.tensors);
    expect(Buffer.compare(readFileSync(join(out, 'adapter_model.safetensors')), readFileSync(join(ADAPTER, 'adapter_model.safetensors')))).toBe(0);
    const text = readFileSync(join(out, 'adapter_config.json'), 'utf8');
    const fixture = readFileSync(join(ADAPTER, 'adapter_config.json'), 'utf8');
    expect(JSON.parse(text)).toEqual(JSON.parse(fixture));
    // Same layout as PEFT's json.dumps(indent=2, sort_keys=True) up to float spelling (0.0 → 0).
    expect(text).toBe(fixture.replace(/: 0\.0\b/g, ': 0'));
    ad.tensors.close();
  });

  it('a minimal config is completed with PEFT defaults that PEFT loads', () => {
    const ad = readPeftAdapter(ADAPTER);
    const out = join(tmp, 'minimal');
    writePeftAdapter(out, { peft_type: 'LORA', r: 8, lora_alpha: 16, target_modules: ['q_proj', 'v_proj'] }, ad.tensors);
    const cfg = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
    expect(cfg).toMatchObject({ peft_type: 'LORA', task_type: 'CAUSAL_LM', bias: 'none', inference_mode: true, lora_dropout: 0, fan_in_fan_out: false, use_rslora: false, use_dora: false, rank_pattern: {}, alpha_pattern: {} });
    expect(readPeftAdapter(out).layout.modules).toHaveLength(12);
    ad.tensors.close();
  });
});

describe('mergeLora', () => {
  it('merged q_proj/v_proj of every layer = W + (alpha/r)·B·A computed independently in float64, within 1e-6', () => {
    const base = readHfDir(BASE);
    const ad = readPeftAdapter(ADAPTER);
    const merged = mergeLora(base, ad);
    let worst = 0;
    let moved = 0;
    for (let l = 0; l < 6; l++)
      for (const p of ['q_proj', 'v_proj']) {
        const name = `model.layers.${l}.self_attn.${p}.weight`;
        const w = base.tensors.get(name)!;
        const a = ad.tensors.get(`base_model.model.model.layers.${l}.self_attn.${p}.lora_A.weight`)!;
        const b = ad.tensors.get(`base_model.model.model.layers.${l}.self_attn.${p}.lora_B.weight`)!;
        const [out, inn] = w.shape as [number, number];
        const want = expected(f64(w), f64(a), f64(b), out, inn, 8, 16 / 8);
        const got = merged.tensors.get(name)!;
        expect([got.dtype, got.shape]).toEqual(['F32', [out, inn]]);
        worst = Math.max(worst, maxAbsDiff(f64(got), want));
        moved = Math.max(moved, maxAbsDiff(f64(got), f64(w)));
      }
    // Measured: 3.0e-8 (one float32 rounding); the adapter moves weights by up to 0.65.
    expect(worst).toBeLessThan(1e-6);
    expect(moved).toBeGreaterThan(1e-3);
    // Untargeted tensors pass through unchanged.
    expect(merged.tensors.get('model.layers.0.self_attn.k_proj.weight')).toBe(base.tensors.get('model.layers.0.self_attn.k_proj.weight'));
    expect(merged.tensors.names()).toEqual(base.tensors.names());
    merged.tensors.close();
  });

  it('rsLoRA (alpha/√r) and alpha_pattern per module', () => {
    const src = readPeftAdapter(ADAPTER);
    const dir = join(tmp, 'rs');
    writePeftAdapter(dir, { ...src.config, use_rslora: true, alpha_pattern: { v_proj: 4 } }, src.tensors);
    src.tensors.close();
    const ad = readPeftAdapter(dir);
    const scales = Object.fromEntries(ad.layout.modules.map((m) => [m.module, m.scale]));
    expect(scales['model.layers.3.self_attn.q_proj']).toBeCloseTo(16 / Math.sqrt(8), 15);
    expect(scales['model.layers.3.self_attn.v_proj']).toBeCloseTo(4 / Math.sqrt(8), 15);
    const base = readHfDir(BASE);
    const merged = mergeLora(base, ad);
    const name = 'model.layers.3.self_attn.v_proj.weight';
    const w = base.tensors.get(name)!;
    const pre = 'base_model.model.model.layers.3.self_attn.v_proj';
    const want = expected(f64(w), f64(ad.tensors.get(`${pre}.lora_A.weight`)!), f64(ad.tensors.get(`${pre}.lora_B.weight`)!), 128, 256, 8, 4 / Math.sqrt(8));
    expect(maxAbsDiff(f64(merged.tensors.get(name)!), want)).toBeLessThan(1e-6);
    merged.tensors.close();
  });

  /** A 2-layer toy base: q_proj [4,3] with bias, embed [5,3] in F16. */
  function toyBase(): ModelBundle {
    const base = readHfDir(join(FIX, 'models/tiny-draft-llama'));
    base.tensors.close();
    const s = new MemoryTensorStore();
    s.add('model.layers.0.self_attn.q_proj.weight', 'F32', [4, 3], bytesOf([0.5, -1, 2, 0.25, 3, -0.75, 1.5, 0, -2, 1, 1, 1]));
    s.add('model.layers.0.self_attn.q_proj.bias', 'F32', [4], bytesOf([0.1, 0.2, 0.3, 0.4]));
    const e = new Uint16Array([0x3c00, 0x4000, 0xbc00, 0x3800, 0x0000, 0x4200, 0x3c00, 0x3c00, 0x3c00, 0xc000, 0x3555, 0x2e66, 0x4400, 0x4500, 0x4600]);
    s.add('model.embed_tokens.weight', 'F16', [5, 3], new Uint8Array(e.buffer));
    return { ...base, tensors: s };
  }
  const A2x3 = [0.3, -0.2, 0.1, 0.05, 0.4, -0.6];
  const B4x2 = [1, 0.5, -0.25, 2, 0.125, -1, 0.75, 0.3];

  function toyAdapter(name: string, config: Record<string, unknown>, tensors: [string, number[], number[]][]) {
    const s = new MemoryTensorStore();
    for (const [n, shape, v] of tensors) s.add(`base_model.model.${n}`, 'F32', shape, bytesOf(v));
    const dir = join(tmp, name);
    writePeftAdapter(dir, { peft_type: 'LORA', r: 2, lora_alpha: 3, ...config }, s);
    return readPeftAdapter(dir);
  }

  it('DoRA: rows of W + s·B·A rescaled to the magnitude vector; lora_B bias added scaled', () => {
    const mag = [2, 0.5, 1, 3];
    const ad = toyAdapter('dora', { use_dora: true, target_modules: ['q_proj'] }, [
      ['model.layers.0.self_attn.q_proj.lora_A.weight', [2, 3], A2x3],
      ['model.layers.0.self_attn.q_proj.lora_B.weight', [4, 2], B4x2],
      ['model.layers.0.self_attn.q_proj.lora_B.bias', [4], [1, 2, 3, 4]],
      ['model.layers.0.self_attn.q_proj.lora_magnitude_vector', [4], mag],
    ]);
    const base = toyBase();
    const merged = mergeLora(base, ad);
    const v = expected(f64(base.tensors.get('model.layers.0.self_attn.q_proj.weight')!), Float64Array.from(A2x3), Float64Array.from(B4x2), 4, 3, 2, 1.5);
    for (let o = 0; o < 4; o++) {
      const norm = Math.hypot(v[o * 3]!, v[o * 3 + 1]!, v[o * 3 + 2]!);
      for (let i = 0; i < 3; i++) v[o * 3 + i]! *= mag[o]! / norm;
    }
    expect(maxAbsDiff(f64(merged.tensors.get('model.layers.0.self_attn.q_proj.weight')!), v)).toBeLessThan(1e-6);
    expect(maxAbsDiff(f64(merged.tensors.get('model.layers.0.self_attn.q_proj.bias')!), [0.1 + 1.5, 0.2 + 3, 0.3 + 4.5, 0.4 + 6])).toBeLessThan(1e-6);
  });

  it('fan_in_fan_out (W stored [in, out]) adds (B·A)ᵀ', () => {
    const ad = toyAdapter('fifo', { fan_in_fan_out: true, target_modules: ['q_proj'] }, [
      ['model.layers.0.self_attn.q_proj.lora_A.weight', [2, 4], [0.3, -0.2, 0.1, 0.05, 0.4, -0.6, 1, 2]],
      ['model.layers.0.self_attn.q_proj.lora_B.weight', [3, 2], [1, 0.5, -0.25, 2, 0.125, -1]],
    ]);
    const base = toyBase();
    const w = base.tensors.get('model.layers.0.self_attn.q_proj.weight')!; // [4,3] = [in=4, out=3]
    const want = expected(f64(w), Float64Array.from([0.3, -0.2, 0.1, 0.05, 0.4, -0.6, 1, 2]), Float64Array.from([1, 0.5, -0.25, 2, 0.125, -1]), 3, 4, 2, 1.5, true);
    expect(maxAbsDiff(f64(mergeLora(base, ad).tensors.get(w.name)!), want)).toBeLessThan(1e-6);
  });

  it('embedding LoRA on an F16 base: W + s·(B·A)ᵀ, rounded to F16 (within half an F16 ulp)', () => {
    const ea = Array.from({ length: 2 * 5 }, (_, i) => (i - 4) / 8);
    const eb = [0.5, -1, 0.25, 0.75, -0.5, 1];
    const ad = toyAdapter('emb', { target_modules: ['embed_tokens'] }, [
      ['model.embed_tokens.lora_embedding_A', [2, 5], ea],
      ['model.embed_tokens.lora_embedding_B', [3, 2], eb],
    ]);
    const base = toyBase();
    const w = base.tensors.get('model.embed_tokens.weight')!;
    const wv = Float64Array.from(new Uint16Array(w.read().slice().buffer), f16ToF32);
    const want = expected(wv, Float64Array.from(ea), Float64Array.from(eb), 3, 5, 2, 1.5, true);
    const got = mergeLora(base, ad).tensors.get(w.name)!;
    expect(got.dtype).toBe('F16');
    const gv = Array.from(new Uint16Array(got.read().slice().buffer), f16ToF32);
    for (let i = 0; i < gv.length; i++) expect(Math.abs(gv[i]! - want[i]!)).toBeLessThanOrEqual(Math.abs(want[i]!) * 2 ** -11 + 2 ** -25);
  });
});

describe('PEFT errors name the file and field', () => {
  function adapterDir(name: string, config: unknown, copyWeights = true): string {
    const dir = join(tmp, name);
    mkdirSync(dir);
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(config));
    if (copyWeights) copyFileSync(join(ADAPTER, 'adapter_model.safetensors'), join(dir, 'adapter_model.safetensors'));
    return dir;
  }
  const fixtureConfig = JSON.parse(readFileSync(join(ADAPTER, 'adapter_config.json'), 'utf8')) as Record<string, unknown>;

  it.each([
    ['no-config', null, 'adapter_config.json', /missing: not a PEFT adapter folder/],
    ['ia3', { ...fixtureConfig, peft_type: 'IA3' }, 'peft_type', /"IA3" adapters are not supported/],
    ['bad-r', { ...fixtureConfig, r: -1 }, 'r', /.+/],
    ['bad-bias', { ...fixtureConfig, bias: 'some' }, 'bias', /.+/],
    ['rank-pattern', { ...fixtureConfig, rank_pattern: { q_proj: 4 } }, 'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight.shape', /expected \[4,256\], got \[8,256\]/],
    ['dora-missing', { ...fixtureConfig, use_dora: true }, 'base_model.model.model.layers.0.self_attn.q_proj.lora_magnitude_vector', /missing although use_dora/],
  ])('%s', (name, config, field, message) => {
    const dir = config === null ? join(tmp, 'empty-dir') : adapterDir(name, config);
    if (config === null) mkdirSync(dir);
    let err: unknown;
    try {
      readPeftAdapter(dir);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(FormatError);
    expect((err as FormatError).field).toBe(field);
    expect((err as FormatError).message).toMatch(message);
  });

  it('weights missing, a lone lora_A, a non-PEFT name, a base without the module', () => {
    expect(() => readPeftAdapter(adapterDir('no-weights', fixtureConfig, false))).toThrow(/no-weights: adapter_model\.safetensors: missing/);
    const s = new MemoryTensorStore();
    s.add('base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight', 'F32', [8, 2], new Uint8Array(64));
    expect(() => writePeftAdapter(join(tmp, 'lone'), fixtureConfig as { peft_type: 'LORA' }, s)).toThrow(/base_model\.model\.model\.layers\.0\.self_attn\.q_proj: has no lora_B\.weight/);
    const t = new MemoryTensorStore();
    t.add('model.layers.0.self_attn.q_proj.lora_A.weight', 'F32', [8, 2], new Uint8Array(64));
    expect(() => writePeftAdapter(join(tmp, 'unprefixed'), fixtureConfig as { peft_type: 'LORA' }, t)).toThrow(/not a PEFT tensor name/);
    const base = readHfDir(join(FIX, 'models/tiny-draft-llama'));
    expect(() => mergeLora(base, readPeftAdapter(ADAPTER))).toThrow(/model\.layers\.2\.self_attn\.(q|v)_proj: the base model has no tensor|LoRA factors give/);
    base.tensors.close();
  });
});

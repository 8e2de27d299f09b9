/**
 * PEFT LoRA adapters built in memory: config validation and rank/alpha patterns, module pairing and every
 * malformed-layout error (one-line message naming file and field), and the merge W + s·B·A against a float64
 * formula written here, in F32, F16 and BF16 bases.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type PeftAdapter, readPeftAdapter, writePeftAdapter } from '../../src/formats/peft/adapter.js';
import { type PeftLoraConfigInput, loraScaling, parsePeftConfig } from '../../src/formats/peft/config.js';
import { mergeLora } from '../../src/formats/peft/merge.js';
import { adapterLayout } from '../../src/formats/peft/modules.js';
import type { ModelBundle } from '../../src/tensor/bundle.js';
import type { DType } from '../../src/tensor/dtype.js';
import { f16ToF32 } from '../../src/tensor/half.js';
import { MemoryTensorStore, type TensorRef, type TensorStore } from '../../src/tensor/store.js';
import { tempDir } from '../helpers.js';

const tmp = tempDir('apr-peft-mut-');
afterAll(() => tmp.cleanup());

const f32b = (v: readonly number[]): Uint8Array => new Uint8Array(Float32Array.from(v).buffer);
const vals = (t: TensorRef): number[] => {
  const b = t.read().slice();
  if (t.dtype === 'F32') return Array.from(new Float32Array(b.buffer));
  const u = new Uint16Array(b.buffer);
  return t.dtype === 'F16' ? Array.from(u, f16ToF32) : Array.from(u, (h) => new Float32Array(Uint32Array.of(h << 16).buffer)[0] ?? NaN);
};

type Spec = [string, number[], number[]];
function store(specs: Spec[], prefix = 'base_model.model.'): MemoryTensorStore {
  const s = new MemoryTensorStore();
  for (const [n, shape, v] of specs) s.add(`${prefix}${n}`, 'F32', shape, f32b(v));
  return s;
}
const CFG = (c: Partial<PeftLoraConfigInput> = {}): PeftLoraConfigInput => ({ peft_type: 'LORA', r: 2, lora_alpha: 3, ...c });
function adapter(specs: Spec[], c: Partial<PeftLoraConfigInput> = {}, path = '/x/ad'): PeftAdapter {
  const config = parsePeftConfig('cfg.json', CFG(c));
  const tensors = store(specs);
  return { path, config, tensors, layout: adapterLayout('w.st', config, tensors) };
}
const layoutErr = (specs: Spec[], c: Partial<PeftLoraConfigInput> = {}): (() => unknown) => () => adapterLayout('w.st', parsePeftConfig('cfg.json', CFG(c)), store(specs));
const bundle = (tensors: TensorStore, metadata: Record<string, unknown> = {}): ModelBundle => ({ config: {} as ModelBundle['config'], source: {} as ModelBundle['source'], tensors, metadata, provenance: [] });

/** float64 reference: W + s·B·A, the delta transposed onto W when `t`. */
function ref(w: readonly number[], a: readonly number[], b: readonly number[], out: number, inn: number, r: number, s: number, t = false): number[] {
  const res = [...w];
  for (let o = 0; o < out; o++)
    for (let i = 0; i < inn; i++) {
      let d = 0;
      for (let k = 0; k < r; k++) d += (b[o * r + k] ?? 0) * (a[k * inn + i] ?? 0);
      const at = t ? i * out + o : o * inn + i;
      res[at] = (res[at] ?? 0) + s * d;
    }
  return res;
}
const close = (got: number[], want: number[], tol: number): void => {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(Math.abs(g - (want[i] ?? NaN))).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(want[i] ?? 0))));
};

const A = [0.5, -1, 0.25, 2, 1, -0.5]; // [2, 3]
const B = [1, 2, -1, 0.5, 0.25, 4, 3, -2]; // [4, 2]
const W = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]; // [4, 3]
const Q = 'model.layers.0.self_attn.q_proj';

describe('PEFT config', () => {
  it('non-object configs and a missing peft_type are schema errors naming the field, not the peft_type refusal', () => {
    expect(() => parsePeftConfig('c.json', null)).toThrow('c.json: adapter_config: Invalid input: expected object, received null');
    expect(() => parsePeftConfig('c.json', 'LORA')).toThrow('c.json: adapter_config: Invalid input: expected object, received string');
    expect(() => parsePeftConfig('c.json', {})).toThrow(/^c\.json: peft_type: Invalid input/);
    expect(() => parsePeftConfig('c.json', { peft_type: 'LORA', r: -1 })).toThrow('c.json: r: Too small: expected number to be >0');
    expect(() => parsePeftConfig('c.json', { peft_type: 'LOHA' })).toThrow('c.json: peft_type: "LOHA" adapters are not supported (only LORA)');
  });

  it('scale = alpha/r, alpha/√r with rsLoRA; patterns match the module path as a suffix; a bad pattern is named', () => {
    const c = parsePeftConfig('c.json', CFG({ r: 4, lora_alpha: 6, rank_pattern: { undefined: 16, 'layers\\.1\\..*q_proj': 8 }, alpha_pattern: { undefined: 1, v_proj: 2 } }));
    expect(loraScaling('c.json', c, 'model.layers.0.self_attn.q_proj')).toEqual({ r: 4, alpha: 6, scale: 6 / 4 });
    expect(loraScaling('c.json', c, 'model.layers.1.self_attn.q_proj')).toEqual({ r: 8, alpha: 6, scale: 6 / 8 });
    expect(loraScaling('c.json', c, 'model.layers.0.self_attn.v_proj')).toEqual({ r: 4, alpha: 2, scale: 2 / 4 });
    const rs = parsePeftConfig('c.json', CFG({ r: 9, lora_alpha: 6, use_rslora: true }));
    expect(loraScaling('c.json', rs, 'q_proj').scale).toBe(6 / 3);
    const bad = parsePeftConfig('c.json', CFG({ rank_pattern: { '(': 4 } }));
    expect(() => loraScaling('c.json', bad, 'q_proj')).toThrow('c.json: pattern (: is not a valid regular expression');
  });
});

describe('PEFT module layout', () => {
  it('pairs factors into modules (no magnitude/bias keys unless present), other prefixed tensors become replacements', () => {
    const l = adapter([[`${Q}.lora_A.weight`, [2, 3], A], [`${Q}.lora_B.weight`, [4, 2], B], ['lm_head.weight', [1], [7]]]).layout;
    expect(l.modules).toHaveLength(1);
    const m = l.modules[0];
    expect(Object.keys(m ?? {}).sort()).toEqual(['a', 'alpha', 'b', 'kind', 'module', 'r', 'scale']);
    expect([m?.module, m?.kind, m?.r, m?.alpha, m?.scale]).toEqual([Q, 'linear', 2, 3, 1.5]);
    expect([...l.replacements.keys()]).toEqual(['lm_head.weight']);
  });

  it('a name listed by the store but not readable is skipped', () => {
    const s = store([[`${Q}.lora_A.weight`, [2, 3], A], [`${Q}.lora_B.weight`, [4, 2], B]]);
    const ghost: TensorStore = { names: () => [...s.names(), 'ghost'], get: (n) => s.get(n), close: () => undefined };
    expect(adapterLayout('w.st', parsePeftConfig('c', CFG()), ghost).modules).toHaveLength(1);
    expect(() => adapterLayout('w.st', parsePeftConfig('c', CFG()), { ...ghost, names: () => ['x.lora_A.weight'] })).not.toThrow();
  });

  it('malformed layouts fail naming the adapter file and the tensor', () => {
    const P = `base_model.model.${Q}`;
    expect(layoutErr([[`${Q}.lora_B.weight`, [4, 2], B]])).toThrow(`w.st: ${P}: has no lora_A.weight`);
    expect(layoutErr([[`${Q}.lora_A.weight`, [2, 3], A]])).toThrow(`w.st: ${P}: has no lora_B.weight`);
    expect(layoutErr([['e.lora_embedding_B', [3, 2], A]])).toThrow('w.st: base_model.model.e: has no lora_embedding_A');
    expect(layoutErr([['e.lora_embedding_A', [2, 3], A]])).toThrow('w.st: base_model.model.e: has no lora_embedding_B');
    const emb: Spec[] = [['e.lora_embedding_A', [2, 3], A], ['e.lora_embedding_B', [3, 2], A]];
    expect(layoutErr([...emb, ['e.lora_A.weight', [2, 3], A]])).toThrow('w.st: base_model.model.e: mixes linear and embedding LoRA factors');
    expect(layoutErr([...emb, ['e.lora_B.weight', [3, 2], A]])).toThrow('w.st: base_model.model.e: mixes linear and embedding LoRA factors');
    expect(layoutErr([[`${Q}.lora_A.weight`, [6], A], [`${Q}.lora_B.weight`, [4, 2], B]])).toThrow(`w.st: ${P}.lora_A.weight.shape: LoRA factors must be matrices`);
    expect(layoutErr([[`${Q}.lora_A.weight`, [2, 3], A], [`${Q}.lora_B.weight`, [8], B]])).toThrow(`w.st: ${P}.lora_A.weight.shape: LoRA factors must be matrices`);
    const ab: Spec[] = [[`${Q}.lora_A.weight`, [2, 3], A], [`${Q}.lora_B.weight`, [4, 2], B]];
    expect(layoutErr([...ab, [`${Q}.lora_magnitude_vector`, [], [1]]], { use_dora: true })).toThrow(`w.st: ${P}.lora_magnitude_vector.shape: expected [4], got []`);
    expect(layoutErr([...ab, [`${Q}.lora_magnitude_vector`, [3], [1, 1, 1]]], { use_dora: true })).toThrow(`w.st: ${P}.lora_magnitude_vector.shape: expected [4], got [3]`);
    expect(layoutErr([...ab, [`${Q}.lora_B.bias`, [3], [1, 1, 1]]])).toThrow(`w.st: ${P}.lora_B.bias.shape: expected [4], got [3]`);
    expect(layoutErr([...ab, [`${Q}.lora_magnitude_vector`, [4], [1, 1, 1, 1]]])).toThrow(`w.st: ${P}.lora_magnitude_vector: DoRA magnitude present but use_dora is false`);
  });
});

describe('mergeLora', () => {
  function base(dtype: DType = 'F32', wShape = [4, 3], extra: (s: MemoryTensorStore) => void = () => undefined): MemoryTensorStore {
    const s = new MemoryTensorStore();
    if (dtype === 'F32') s.add(`${Q}.weight`, 'F32', wShape, f32b(W));
    else {
      // W's values are exact in F16 and BF16 (small integers)
      const u = dtype === 'F16' ? W.map((v) => 0x3c00 + ((Math.log2(v) | 0) << 10) + ((v / 2 ** (Math.log2(v) | 0) - 1) * 1024)) : W.map((v) => new Uint32Array(Float32Array.of(v).buffer)[0]! >>> 16);
      s.add(`${Q}.weight`, dtype, wShape, new Uint8Array(Uint16Array.from(u).buffer));
    }
    s.add('other.weight', 'F32', [1], f32b([5]));
    extra(s);
    return s;
  }
  const AB: Spec[] = [[`${Q}.lora_A.weight`, [2, 3], A], [`${Q}.lora_B.weight`, [4, 2], B]];

  it('F32: W + (alpha/r)·B·A in float64 (within float32 rounding); byteLength, names and metadata', () => {
    const m = mergeLora(bundle(base(), { keep: 1 }), adapter(AB, {}, '/some/where/my-adapter'));
    const t = m.tensors.get(`${Q}.weight`);
    expect([t?.dtype, t?.shape, t?.byteLength]).toEqual(['F32', [4, 3], 48]);
    close(vals(t!), ref(W, A, B, 4, 3, 2, 1.5), 2 ** -23);
    expect(m.metadata).toEqual({ keep: 1, merged_peft_adapter: 'my-adapter' });
    expect(vals(m.tensors.get('other.weight')!)).toEqual([5]);
  });

  it('F16 and BF16 bases stay F16 and BF16 (rounded once), other base dtypes come out F32', () => {
    const want = ref(W, A, B, 4, 3, 2, 1.5);
    const h = mergeLora(bundle(base('F16')), adapter(AB)).tensors.get(`${Q}.weight`)!;
    expect([h.dtype, h.byteLength]).toEqual(['F16', 24]);
    close(vals(h), want, 2 ** -11);
    const bf = mergeLora(bundle(base('BF16')), adapter(AB)).tensors.get(`${Q}.weight`)!;
    expect([bf.dtype, bf.byteLength]).toEqual(['BF16', 24]);
    close(vals(bf), want, 2 ** -8);
    // a quantized base merges to F32 (the dtype is decided before any byte is read)
    const s = new MemoryTensorStore();
    s.add(`${Q}.weight`, 'Q8_0', [4, 3], new Uint8Array(0));
    const q = mergeLora(bundle(s), adapter(AB)).tensors.get(`${Q}.weight`)!;
    expect([q.dtype, q.byteLength]).toEqual(['F32', 48]);
  });

  it('each output row uses only its own row of B: a non-finite value in row 1 leaves row 0 exact', () => {
    const bInf = [...B];
    bInf[2] = Infinity;
    const got = vals(mergeLora(bundle(base()), adapter([AB[0]!, [`${Q}.lora_B.weight`, [4, 2], bInf]])).tensors.get(`${Q}.weight`)!);
    close(got.slice(0, 3), ref(W, A, B, 4, 3, 2, 1.5).slice(0, 3), 2 ** -23);
    close(got.slice(6), ref(W, A, B, 4, 3, 2, 1.5).slice(6), 2 ** -23);
  });

  it('fan_in_fan_out: W stored [in, out] gets (B·A)ᵀ', () => {
    const m = mergeLora(bundle(base('F32', [3, 4])), adapter(AB, { fan_in_fan_out: true }));
    close(vals(m.tensors.get(`${Q}.weight`)!), ref(W, A, B, 4, 3, 2, 1.5, true), 2 ** -23);
  });

  it('lora_B bias: base bias + s·ΔB; adapter tensors outside LoRA replace the base ones; close closes both stores', () => {
    let closed = 0;
    const b = base('F32', [4, 3], (s) => {
      s.add(`${Q}.bias`, 'F32', [4], f32b([1, 2, 3, 4]));
      s.add('lm_head.weight', 'F32', [2], f32b([0, 0]));
    });
    const ad = adapter([...AB, [`${Q}.lora_B.bias`, [4], [2, 4, 6, 8]], ['lm_head.weight', [2], [9, 8]]]);
    const m = mergeLora(bundle({ ...b, names: () => b.names(), get: (n) => b.get(n), close: () => void closed++ }), { ...ad, tensors: { ...ad.tensors, names: () => [], get: () => undefined, close: () => void closed++ } });
    expect(vals(m.tensors.get(`${Q}.bias`)!)).toEqual([1 + 3, 2 + 6, 3 + 9, 4 + 12]);
    const head = m.tensors.get('lm_head.weight')!;
    expect([head.name, head.shape, vals(head)]).toEqual(['lm_head.weight', [2], [9, 8]]);
    m.tensors.close();
    expect(closed).toBe(2);
  });

  it('bases that do not fit fail naming the adapter and the module', () => {
    const P = '/x/ad';
    expect(() => mergeLora(bundle(store([['other', [1], [1]]], '')), adapter(AB))).toThrow(`${P}: ${Q}: the base model has no tensor ${Q}.weight`);
    for (const shape of [[12], [3, 4], [4, 4], [5, 3], [4, 3, 1]]) {
      expect(() => mergeLora(bundle(base('F32', shape)), adapter(AB))).toThrow(`${P}: ${Q}: LoRA factors give [4,3] but the base ${Q}.weight is ${JSON.stringify(shape)}`);
    }
    const dora = adapter([...AB, [`${Q}.lora_magnitude_vector`, [4], [1, 1, 1, 1]]], { use_dora: true, fan_in_fan_out: true });
    expect(() => mergeLora(bundle(base('F32', [3, 4])), dora)).toThrow(`${P}: ${Q}: DoRA is merged only for linear layers without fan_in_fan_out`);
    const withBias = adapter([...AB, [`${Q}.lora_B.bias`, [4], [1, 1, 1, 1]]]);
    for (const [shape, v] of [[[3], [1, 1, 1]], [[4, 1], [1, 1, 1, 1]]] as const) {
      const b = base('F32', [4, 3], (s) => s.add(`${Q}.bias`, 'F32', shape, f32b(v)));
      expect(() => mergeLora(bundle(b), withBias)).toThrow(`${P}: base_model.model.${Q}.lora_B.bias: shape [4] does not match the base ${Q}.bias`);
    }
    const rep = adapter([...AB, ['lm_head.weight', [2, 2], [1, 2, 3, 4]]]);
    for (const shape of [[2], [2, 3], [3, 2], [2, 2, 1]]) {
      const b = base('F32', [4, 3], (s) => s.add('lm_head.weight', 'F32', shape, new Uint8Array(4 * shape.reduce((x, y) => x * y, 1))));
      expect(() => mergeLora(bundle(b), rep)).toThrow(`${P}: base_model.model.lm_head.weight.shape: [2,2] does not match the base lm_head.weight ${JSON.stringify(shape)}`);
    }
    expect(() => mergeLora(bundle(base()), rep)).toThrow(`${P}: base_model.model.lm_head.weight: the base model has no tensor lm_head.weight`);
  });
});

describe('PEFT adapter folders', () => {
  it('writes from an iterable of tensors, with a README only when given; refuses a missing weights file naming a pickle one', () => {
    const refs = [...store([[`${Q}.lora_A.weight`, [2, 3], A], [`${Q}.lora_B.weight`, [4, 2], B]]).names()].map((n) => store([[`${Q}.lora_A.weight`, [2, 3], A], [`${Q}.lora_B.weight`, [4, 2], B]]).get(n)!);
    const d1 = join(tmp.dir, 'it');
    writePeftAdapter(d1, CFG(), Object.assign([...refs], { get: () => undefined }), { readme: '# card' });
    expect(readFileSync(join(d1, 'README.md'), 'utf8')).toBe('# card');
    const back = readPeftAdapter(d1);
    expect(back.tensors.names()).toEqual(refs.map((r) => r.name));
    back.tensors.close();
    const d2 = join(tmp.dir, 'ghost');
    const s = store([[`${Q}.lora_A.weight`, [2, 3], A], [`${Q}.lora_B.weight`, [4, 2], B]]);
    writePeftAdapter(d2, CFG(), { names: () => [...s.names(), 'ghost'], get: (n) => s.get(n), close: () => undefined });
    expect(existsSync(join(d2, 'README.md'))).toBe(false);
    const d3 = join(tmp.dir, 'noweights');
    mkdirSync(d3);
    writeFileSync(join(d3, 'adapter_config.json'), JSON.stringify(CFG()));
    expect(() => readPeftAdapter(d3)).toThrow(new RegExp(`^${d3.replace(/[.\\/]/g, '\\$&')}: adapter_model\\.safetensors: missing$`));
    writeFileSync(join(d3, 'adapter_model.bin'), '');
    expect(() => readPeftAdapter(d3)).toThrow(`${d3}: adapter_model.safetensors: missing; adapter_model.bin (pickle) is not read, save the adapter with safe_serialization`);
  });
});

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModel } from '../../../src/formats/open.js';
import { readPeftAdapter } from '../../../src/formats/peft/adapter.js';
import { mergeLora } from '../../../src/formats/peft/merge.js';
import { mergeModels } from '../../../src/ops/merge.js';
import { passthroughMerge } from '../../../src/train/merge/passthrough.js';
import { dequantize } from '../../../src/tensor/codecs/index.js';
import { elementCount } from '../../../src/tensor/dtype.js';
import { fixture, tempDir } from '../../helpers.js';
import { CODER, LAYER_SUFFIXES, sameBits, tensorBytes, tensorFloats, writeDerived } from './mergekit-fixtures.js';

let tmp: ReturnType<typeof tempDir>;
let doubled: string;
beforeAll(() => {
  tmp = tempDir('apr-merge-slices-');
  doubled = join(tmp.dir, 'coder-x2.apr');
  writeDerived(doubled, { factor: 2 });
});
afterAll(() => tmp.cleanup());

function config(name: string, yaml: string): string {
  const p = join(tmp.dir, name);
  writeFileSync(p, yaml);
  return p;
}

describe('mergekit slices (frankenmerges)', () => {
  it('passthrough of layers [0, 4) and [2, 6) stacks 8 layers: output layer k is source layer k (k < 4), else k − 2 [ob:merge-slices-layers]', () => {
    const cfg = config('franken.yml', `slices:\n  - sources:\n      - model: ${CODER}\n        layer_range: [0, 4]\n  - sources:\n      - model: ${CODER}\n        layer_range: [2, 6]\nmerge_method: passthrough\ndtype: float32\n`);
    const out = join(tmp.dir, 'franken.apr');
    const r = mergeModels({ models: [], config: cfg, output: out });
    expect(r.layers).toBe(8);
    expect(r.tensors).toBe(3 + 8 * LAYER_SUFFIXES.length);
    const src = tensorBytes(CODER);
    const got = tensorBytes(out);
    const sourceLayer = [0, 1, 2, 3, 2, 3, 4, 5]; // stated from the slice definitions, not from the planner
    for (let k = 0; k < 8; k++) {
      for (const s of LAYER_SUFFIXES) expect(got.get(`model.layers.${k}.${s}`)?.equals(src.get(`model.layers.${sourceLayer[k]}.${s}`) ?? Buffer.alloc(1)), `layer ${k} ${s}`).toBe(true);
    }
    for (const n of ['model.embed_tokens.weight', 'model.norm.weight', 'lm_head.weight']) expect(got.get(n)?.equals(src.get(n) ?? Buffer.alloc(1)), n).toBe(true);
    const m = openModel(out);
    expect(m.config.num_layers).toBe(8);
    expect(m.tokenizer?.json).toBe(openModel(CODER).tokenizer?.json);
    m.tensors.close();
  });

  it('takes embeddings from the first slice’s model and the final norm and LM head from the last slice’s; scale multiplies a source', () => {
    const cfg = config('two-models.yml', [
      'slices:',
      `  - sources: [{ model: ${CODER}, layer_range: [0, 3] }]`,
      `  - sources: [{ model: ${doubled}, layer_range: [3, 6], parameters: { scale: 0.5 } }]`,
      'merge_method: passthrough',
    ].join('\n'));
    const out = join(tmp.dir, 'two-models.apr');
    mergeModels({ models: [], config: cfg, output: out });
    const a = tensorFloats(CODER);
    const got = tensorFloats(out);
    // embeddings from CODER; everything from the second slice is 2·x·0.5 = x exactly (powers of two)
    expect(sameBits(got.get('model.embed_tokens.weight'), a.get('model.embed_tokens.weight'))).toBe(true);
    for (let k = 3; k < 6; k++) expect(sameBits(got.get(`model.layers.${k}.mlp.up_proj.weight`), a.get(`model.layers.${k}.mlp.up_proj.weight`))).toBe(true);
    expect(sameBits(got.get('lm_head.weight'), a.get('lm_head.weight'))).toBe(true);
  });

  it('merges a slice of several sources with the config’s method, per slice (slerp at t = 0 and t = 1 returns the base or the other model)', () => {
    const cfg = config('slerp-slices.yml', [
      'slices:',
      '  - sources:',
      `      - { model: ${CODER}, layer_range: [0, 2] }`,
      `      - { model: ${doubled}, layer_range: [0, 2] }`,
      '    parameters: { t: 0 }',
      '  - sources:',
      `      - { model: ${CODER}, layer_range: [4, 6] }`,
      `      - { model: ${doubled}, layer_range: [4, 6] }`,
      '    parameters: { t: 1 }',
      'merge_method: slerp',
      `base_model: ${CODER}`,
    ].join('\n'));
    const out = join(tmp.dir, 'slerp-slices.apr');
    expect(mergeModels({ models: [], config: cfg, output: out }).layers).toBe(4);
    const a = tensorFloats(CODER);
    const b = tensorFloats(doubled);
    const got = tensorFloats(out);
    // slerp(a, b, 0) = a and slerp(a, b, 1) = b exactly (mergekit's endpoints)
    expect(sameBits(got.get('model.layers.1.self_attn.q_proj.weight'), a.get('model.layers.1.self_attn.q_proj.weight'))).toBe(true);
    expect(sameBits(got.get('model.layers.2.self_attn.q_proj.weight'), b.get('model.layers.4.self_attn.q_proj.weight'))).toBe(true);
    expect(sameBits(got.get('model.layers.3.mlp.down_proj.weight'), b.get('model.layers.5.mlp.down_proj.weight'))).toBe(true);
  });

  it('reads mergekit’s `model+lora` reference as the model with the PEFT adapter merged', () => {
    const adapter = fixture('adapters/tiny-coder-llama-lora-email');
    const cfg = config('lora.yml', `models:\n  - model: ${CODER}+${adapter}\nmerge_method: passthrough\n`);
    const out = join(tmp.dir, 'lora.apr');
    mergeModels({ models: [], config: cfg, output: out });
    const ref = mergeLora(openModel(CODER), readPeftAdapter(adapter));
    const got = tensorFloats(out);
    for (const n of ['model.layers.0.self_attn.q_proj.weight', 'model.layers.5.self_attn.v_proj.weight', 'model.layers.2.mlp.up_proj.weight']) {
      const t = ref.tensors.get(n);
      expect(sameBits(got.get(n), t ? dequantize(t.dtype, t.read(), elementCount(t.shape)) : undefined), n).toBe(true);
    }
    ref.tensors.close();
  });

  it('refuses a slice whose sources span different lengths, naming the field, and writes nothing', () => {
    const cfg = config('uneven.yml', `slices:\n  - sources:\n      - { model: ${CODER}, layer_range: [0, 3] }\n      - { model: ${doubled}, layer_range: [0, 2] }\nmerge_method: linear\n`);
    const out = join(tmp.dir, 'uneven.apr');
    expect(() => mergeModels({ models: [], config: cfg, output: out })).toThrow(/uneven\.yml: slices\.0\.sources: every source of a slice must span the same number of layers, got 3, 2/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('passthrough method [ob:passthrough-identity] [ob:passthrough-scale]', () => {
  const x = Float32Array.from([1.5, -0, -2.25, 3e-39, 7]);
  const job = (scale: number) => ({ name: 'w', shape: [5], base: undefined, inputs: [x], params: {}, modelParams: [{ scale }], seed: 0 });
  it('returns its one input bit for bit at scale 1, and scale·x (one float32 rounding) otherwise', () => {
    expect(new Uint32Array(passthroughMerge(job(1)).buffer)).toEqual(new Uint32Array(x.buffer));
    expect(Array.from(passthroughMerge(job(0.1)))).toEqual(Array.from(x, (v) => Math.fround(0.1 * v)));
  });
  it('refuses two inputs', () => {
    expect(() => passthroughMerge({ ...job(1), inputs: [x, x], modelParams: [{ scale: 1 }, { scale: 1 }] })).toThrow(/exactly one input tensor/);
  });
});

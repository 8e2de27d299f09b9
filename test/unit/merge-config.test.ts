import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/errors.js';
import { openModel } from '../../src/formats/open.js';
import { mergeModels } from '../../src/ops/merge.js';
import { parseMergeConfig } from '../../src/train/merge/config.js';
import { NON_LAYER_POSITION, evaluateSetting, layerPosition } from '../../src/train/merge/settings.js';
import { fixture, tempDir } from '../helpers.js';

const DRAFT = fixture('models/tiny-draft-llama');
const DRAFT_GGUF = fixture('gguf/tiny-draft-llama-f32.gguf');
let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('apr-merge-config-');
});
afterAll(() => tmp.cleanup());

describe('mergekit parameter settings', () => {
  // mergekit's README slerp example: t follows one gradient for attention, the mirrored one for the MLP.
  const t = [
    { filter: 'self_attn', value: [0, 0.5, 0.3, 0.7, 1] },
    { filter: 'mlp', value: [1, 0.5, 0.7, 0.3, 0] },
    { value: 0.5 },
  ];
  it('interpolates a gradient between its anchors as mergekit does', () => {
    const g = [0, 0.5, 0.3, 0.7, 1];
    expect(evaluateSetting('x', g, 0)).toBe(0);
    expect(evaluateSetting('x', g, 1)).toBe(1);
    expect(evaluateSetting('x', g, 0.25)).toBe(0.5);
    // t = 0.375 sits halfway between anchors 1 (0.5) and 2 (0.3)
    expect(evaluateSetting('x', g, 0.375)).toBeCloseTo(0.4, 12);
    expect(evaluateSetting('x', [2], 0.7)).toBe(2);
  });
  it('takes the first matching filter, then the unfiltered default', () => {
    expect(evaluateSetting('model.layers.0.self_attn.q_proj.weight', t, 0)).toBe(0);
    expect(evaluateSetting('model.layers.0.mlp.up_proj.weight', t, 0)).toBe(1);
    expect(evaluateSetting('model.layers.5.mlp.up_proj.weight', t, 1)).toBe(0);
    expect(evaluateSetting('model.norm.weight', t, 1)).toBe(0.5);
  });
  it('places layer i of an L-layer slice at i/(L−1) (1 for a one-layer slice), every other tensor at 0', () => {
    expect(layerPosition(0, 6)).toBe(0);
    expect(layerPosition(3, 6)).toBeCloseTo(0.6, 12);
    expect(layerPosition(5, 6)).toBe(1);
    expect(layerPosition(0, 1)).toBe(1);
    // mergekit plan_module: embeddings, final norm and LM head are planned with t = 0
    expect(NON_LAYER_POSITION).toBe(0);
  });
});

describe('mergekit YAML configuration', () => {
  const yaml = `
models:
  - model: a
    parameters: { weight: 0.3, density: [1, 0.5] }
  - model: b
base_model: a
merge_method: ties
parameters:
  normalize: true
  t:
    - filter: self_attn
      value: [0, 1]
    - value: 0.5
dtype: bfloat16
`;
  it('reads models, per-model parameters, base model, method, global parameters and dtype', () => {
    const c = parseMergeConfig(yaml, 'merge.yaml');
    expect(c.mergeMethod).toBe('ties');
    expect(c.baseModel).toBe('a');
    expect(c.models?.map((m) => m.model)).toEqual(['a', 'b']);
    expect(c.models?.[0]?.parameters).toEqual({ weight: 0.3, density: [1, 0.5] });
    expect(c.models?.[1]?.parameters).toEqual({});
    expect(c.parameters['normalize']).toBe(true);
    expect(c.dtype).toBe('bf16');
  });
  it('refuses what it does not support, naming the file and the field', () => {
    const bad: [string, RegExp][] = [
      ['slices: []\nmerge_method: passthrough\n', /merge\.yaml: slices: /],
      ['models: [{model: a}]\nmerge_method: linear\ndtype: int8\n', /merge\.yaml: dtype: 'int8'/],
      ['models: [{model: a}]\n', /merge\.yaml: merge_method/],
      ['models: [{model: a}]\nmerge_method: linear\nfoo: 1\n', /merge\.yaml: foo: unknown field/],
      ['models: [{model: a, parameters: {weight: {x: 1}}}]\nmerge_method: linear\n', /merge\.yaml: models\.0\.parameters\.weight/],
      ['models: [a: b: c\n', /merge\.yaml: yaml:/],
    ];
    for (const [text, message] of bad) {
      expect(() => parseMergeConfig(text, 'merge.yaml')).toThrow(FormatError);
      expect(() => parseMergeConfig(text, 'merge.yaml')).toThrow(message);
    }
  });
  it('merges from a config exactly as from the equivalent command-line options', () => {
    const cfg = join(tmp.dir, 'merge.yaml');
    writeFileSync(cfg, `models:\n  - model: ${DRAFT}\n    parameters: { weight: 0.25 }\n  - model: ${DRAFT_GGUF}\n    parameters: { weight: 0.75 }\nmerge_method: linear\ndtype: float16\n`);
    const a = mergeModels({ models: [], config: cfg, output: join(tmp.dir, 'cfg.apr') });
    const b = mergeModels({ models: [DRAFT, DRAFT_GGUF], strategy: 'linear', weights: [0.25, 0.75], dtype: 'f16', output: join(tmp.dir, 'flags.apr') });
    expect(a.tensors).toBe(20);
    const ma = openModel(a.output);
    const mb = openModel(b.output);
    for (const n of ma.tensors.names()) {
      expect(ma.tensors.get(n)?.dtype).toBe('F16');
      expect(Buffer.from(ma.tensors.get(n)?.read() ?? []).equals(Buffer.from(mb.tensors.get(n)?.read() ?? []))).toBe(true);
    }
    ma.tensors.close();
    mb.tensors.close();
  });
});

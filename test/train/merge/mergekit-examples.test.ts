import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModel } from '../../../src/formats/open.js';
import { mergeModels } from '../../../src/ops/merge.js';
import { f16ToF32, f32ToF16 } from '../../../src/tensor/half.js';
import { fixture, tempDir } from '../../helpers.js';
import { CODER, tensorFloats, writeDerived } from './mergekit-fixtures.js';

/*
 * mergekit's own example configurations (arcee-ai/mergekit examples/*.yml, commit a6e4028), copied
 * verbatim. Only the Hugging Face model names are replaced by fixture paths, and in the two slice examples
 * the 13B models' layer ranges ([0, 40], [0, 24] + [20, 40]) by ranges of the 6-layer fixture.
 */
const GRADIENT_SLERP = `slices:
  - sources:
      - model: psmathur/orca_mini_v3_13b
        layer_range: [0, 40]
      - model: garage-bAInd/Platypus2-13B
        layer_range: [0, 40]
# or, the equivalent models: syntax:
# models:
#   - model: psmathur/orca_mini_v3_13b
#   - model: garage-bAInd/Platypus2-13B
merge_method: slerp
base_model: psmathur/orca_mini_v3_13b
parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - filter: mlp
      value: [1, 0.5, 0.7, 0.3, 0]
    - value: 0.5 # fallback for rest of tensors
dtype: float16
`;

const TIES = `models:
  - model: psmathur/orca_mini_v3_13b
    parameters:
      density: [1, 0.7, 0.1] # density gradient
      weight: 1.0
  - model: garage-bAInd/Platypus2-13B
    parameters:
      density: 0.5
      weight: [0, 0.3, 0.7, 1] # weight gradient
  - model: WizardLM/WizardMath-13B-V1.0
    parameters:
      density: 0.33
      weight:
        - filter: mlp
          value: 0.5
        - value: 0
merge_method: ties
base_model: TheBloke/Llama-2-13B-fp16
parameters:
  normalize: true
  int8_mask: true
dtype: float16
`;

const FRANKEN_44 = `slices:
  - sources:
    - model: psmathur/orca_mini_v3_13b
      layer_range: [0, 24]
  - sources:
    - model: garage-bAInd/Platypus2-13B
      layer_range: [20, 40]
merge_method: passthrough
dtype: float16
`;

let tmp: ReturnType<typeof tempDir>;
let doubled: string;
let names: Record<string, string>;
beforeAll(() => {
  tmp = tempDir('apr-mergekit-examples-');
  doubled = join(tmp.dir, 'coder-x2.apr');
  writeDerived(doubled, { factor: 2 });
  names = {
    'psmathur/orca_mini_v3_13b': CODER,
    'garage-bAInd/Platypus2-13B': doubled,
    'WizardLM/WizardMath-13B-V1.0': fixture('gguf/tiny-coder-llama-Q8_0.gguf'),
    'TheBloke/Llama-2-13B-fp16': fixture('gguf/tiny-coder-llama-f32.gguf'),
  };
});
afterAll(() => tmp.cleanup());

function run(name: string, yaml: string, ranges: [string, string][] = []): string {
  let text = yaml;
  for (const [hf, path] of Object.entries(names)) text = text.replaceAll(hf, path);
  for (const [from, to] of ranges) text = text.replace(from, to);
  const cfg = join(tmp.dir, `${name}.yml`);
  writeFileSync(cfg, text);
  const out = join(tmp.dir, `${name}.apr`);
  mergeModels({ models: [], config: cfg, output: out });
  return out;
}

const f16 = (x: number): number => f16ToF32(f32ToF16(x));

describe('mergekit example configurations, verbatim', () => {
  it('gradient-slerp.yml: self_attn follows [0, …, 1] and mlp the mirrored gradient (t = 0 keeps the base, t = 1 takes the other model)', () => {
    const out = run('gradient-slerp', GRADIENT_SLERP, [['[0, 40]', '[0, 6]'], ['[0, 40]', '[0, 6]']]);
    const a = tensorFloats(CODER);
    const got = tensorFloats(out);
    expect(openModel(out).tensors.get('model.layers.0.mlp.up_proj.weight')?.dtype).toBe('F16');
    // layer 0 (t = 0): attention t = 0 → orca (A); mlp t = 1 → platypus (2A). Layer 5 (t = 1): the reverse.
    const check = (name: string, factor: number): void => {
      const x = a.get(name) as Float32Array;
      const y = got.get(name) as Float32Array;
      let bad = 0;
      for (let i = 0; i < x.length; i++) if (y[i] !== f16(factor * (x[i] as number))) bad++;
      expect(bad, name).toBe(0);
    };
    check('model.layers.0.self_attn.q_proj.weight', 1);
    check('model.layers.0.mlp.down_proj.weight', 2);
    check('model.layers.5.self_attn.v_proj.weight', 2);
    check('model.layers.5.mlp.gate_proj.weight', 1);
  });

  it('ties.yml (density and weight gradients, filtered weights, int8_mask) runs on four fixtures', () => {
    const m = openModel(run('ties', TIES));
    expect(m.tensors.names()).toHaveLength(57);
    expect(m.tensors.get('lm_head.weight')?.dtype).toBe('F16');
    m.tensors.close();
  });

  it('orcamini-platy-44layer.yml: a frankenmerge of two models’ layer ranges', () => {
    const m = openModel(run('franken', FRANKEN_44, [['[0, 24]', '[0, 4]'], ['[20, 40]', '[2, 6]']]));
    expect(m.config.num_layers).toBe(8);
    m.tensors.close();
  });
});

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeModels } from '../../../src/ops/merge.js';
import { tempDir } from '../../helpers.js';
import { CODER, LAYER_SUFFIXES, tensorFloats, writeDerived } from './mergekit-fixtures.js';

/*
 * With B = 2·A, task_arithmetic (base A, λ = 1, no normalization) gives A + w·(B − A) = (1 + w)·A, so the
 * weight w the planner resolved for each tensor can be read back from the output as (out − A)/A. The
 * expected w is computed here from mergekit's own definitions (mergekit/config.py evaluate_setting,
 * mergekit/plan.py plan_slice / plan_module), written out independently of the code under test:
 *   layer `offset` of an output slice of `n` layers sits at t = offset/(n−1) (t = 1 when n = 1);
 *   embeddings, final norm and LM head are planned at t = 0;
 *   a gradient g of k anchors at t: s = t·(k−1), i = ⌊s⌋, f = s − i, value (1−f)·g[i] + f·g[min(i+1, k−1)];
 *   conditions: the first whose filter is a substring of the tensor name (or has none) applies.
 */
function mergekitGradient(g: readonly number[], t: number): number {
  const s = t * (g.length - 1);
  const i = Math.floor(s);
  const f = s - i;
  return (1 - f) * (g[i] as number) + f * (g[Math.min(i + 1, g.length - 1)] as number);
}

/**
 * The w the output carries: the median of (out − a)/a over entries with |a| > 1e-3. Each output entry is
 * fround(a + w·a) (one float32 rounding of a float64 value): relative error ≤ 2^-24 of |out| ≤ (1 + w)|a|,
 * so (out − a)/a is within 2^-24·(1 + w)·|a| / |a| ≤ 1.2e-7 of w; the tests allow 1e-6.
 */
function readWeight(out: Float32Array | undefined, a: Float32Array | undefined): number {
  if (!out || !a) throw new Error('missing tensor');
  const ratios: number[] = [];
  for (let i = 0; i < a.length && ratios.length < 4001; i++) if (Math.abs(a[i] as number) > 1e-3) ratios.push(((out[i] as number) - (a[i] as number)) / (a[i] as number));
  ratios.sort((x, y) => x - y);
  return ratios[Math.floor(ratios.length / 2)] as number;
}

let tmp: ReturnType<typeof tempDir>;
let doubled: string;
let a: Map<string, Float32Array>;
beforeAll(() => {
  tmp = tempDir('apr-merge-gradients-');
  doubled = join(tmp.dir, 'coder-x2.apr');
  writeDerived(doubled, { factor: 2 });
  a = tensorFloats(CODER);
});
afterAll(() => tmp.cleanup());

function merged(name: string, yaml: string): Map<string, Float32Array> {
  const cfg = join(tmp.dir, `${name}.yml`);
  writeFileSync(cfg, yaml);
  const out = join(tmp.dir, `${name}.apr`);
  mergeModels({ models: [], config: cfg, output: out });
  return tensorFloats(out);
}

describe('mergekit gradient parameters [ob:merge-gradient-mergekit]', () => {
  it('models: a per-model weight with filtered gradients takes mergekit’s value at every layer, and the fallback at t = 0 outside the layers', () => {
    const attn = [0, 0.5, 0.3, 0.7, 1];
    const mlp = [1, 0.5, 0.7, 0.3, 0];
    const rest = [0.2, 0.8];
    const out = merged('models', [
      'models:',
      `  - model: ${CODER}`,
      `  - model: ${doubled}`,
      '    parameters:',
      '      weight:',
      '        - filter: self_attn',
      `          value: [${attn.join(', ')}]`,
      '        - filter: mlp',
      `          value: [${mlp.join(', ')}]`,
      `        - value: [${rest.join(', ')}]`,
      'merge_method: task_arithmetic',
      `base_model: ${CODER}`,
      'dtype: float32',
    ].join('\n'));
    for (let i = 0; i < 6; i++) {
      const t = i / 5;
      for (const s of LAYER_SUFFIXES) {
        const name = `model.layers.${i}.${s}`;
        const g = s.startsWith('self_attn') ? attn : s.startsWith('mlp') ? mlp : rest;
        expect(Math.abs(readWeight(out.get(name), a.get(name)) - mergekitGradient(g, t)), name).toBeLessThan(1e-6);
      }
    }
    for (const n of ['model.embed_tokens.weight', 'model.norm.weight', 'lm_head.weight']) expect(Math.abs(readWeight(out.get(n), a.get(n)) - (rest[0] as number)), n).toBeLessThan(1e-6);
  });

  it('slices: the gradient restarts in each output slice; source, slice and top-level parameters take precedence in that order', () => {
    const out = merged('slices', [
      'slices:',
      '  - sources:',
      `      - { model: ${CODER}, layer_range: [0, 4] }`,
      `      - { model: ${doubled}, layer_range: [0, 4] }`,
      '  - sources:',
      `      - { model: ${CODER}, layer_range: [2, 6] }`,
      `      - { model: ${doubled}, layer_range: [2, 6], parameters: { weight: [{ filter: mlp, value: 0.25 }] } }`,
      '    parameters: { weight: [1, 0] }',
      'merge_method: task_arithmetic',
      `base_model: ${CODER}`,
      'parameters:',
      '  weight: [0, 1]',
    ].join('\n'));
    for (let k = 0; k < 8; k++) {
      const slice = k < 4 ? 0 : 1;
      const offset = slice === 0 ? k : k - 4;
      const t = offset / 3;
      const srcLayer = slice === 0 ? k : k - 2;
      for (const s of LAYER_SUFFIXES) {
        // slice 1: the source's condition (mlp → 0.25) first; where it does not match, the slice's gradient
        const expected = slice === 0 ? mergekitGradient([0, 1], t) : s.startsWith('mlp') ? 0.25 : mergekitGradient([1, 0], t);
        const got = readWeight(out.get(`model.layers.${k}.${s}`), a.get(`model.layers.${srcLayer}.${s}`));
        expect(Math.abs(got - expected), `layer ${k} ${s}`).toBeLessThan(1e-6);
      }
    }
    // embeddings: first slice, t = 0 → top-level [0, 1] at 0; final norm and LM head: last slice, t = 0 → [1, 0] at 0
    expect(Math.abs(readWeight(out.get('model.embed_tokens.weight'), a.get('model.embed_tokens.weight')) - 0)).toBeLessThan(1e-6);
    expect(Math.abs(readWeight(out.get('model.norm.weight'), a.get('model.norm.weight')) - 1)).toBeLessThan(1e-6);
    expect(Math.abs(readWeight(out.get('lm_head.weight'), a.get('lm_head.weight')) - 1)).toBeLessThan(1e-6);
  });
});

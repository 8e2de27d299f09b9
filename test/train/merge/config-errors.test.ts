import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mergeModels } from '../../../src/ops/merge.js';
import { MergeConfigError } from '../../../src/train/merge/config.js';
import { fixture, tempDir } from '../../helpers.js';

const CODER = fixture('models/tiny-coder-llama');
const DRAFT = fixture('models/tiny-draft-llama');
let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  tmp = tempDir('apr-merge-config-errors-');
});
afterAll(() => tmp.cleanup());

describe('mergekit configurations that cannot run are refused before writing [ob:merge-config-refused]', () => {
  const cases: [string, string, RegExp][] = [
    ['order.yml', `slices:\n  - sources: [{ model: ${CODER}, layer_range: [4, 2] }]\nmerge_method: passthrough\n`, /order\.yml: slices\.0\.sources\.0\.layer_range: expected \[start, end\] with start < end/],
    ['two.yml', `slices:\n  - sources: [{ model: ${CODER}, layer_range: [0, 2] }, { model: ${CODER}, layer_range: [2, 4] }]\nmerge_method: passthrough\n`, /two\.yml: slices\.0\.sources: passthrough merges exactly 1 model\(s\), got 2/],
    ['nobase.yml', `slices:\n  - sources: [{ model: ${CODER}, layer_range: [0, 2] }]\n  - sources: [{ model: ${DRAFT}, layer_range: [0, 2] }]\nmerge_method: ties\nbase_model: ${CODER}\n`, /nobase\.yml: slices\.1\.sources: ties needs the base model .* among the slice's sources/],
    ['both.yml', `models: [{ model: ${CODER} }]\nslices:\n  - sources: [{ model: ${CODER}, layer_range: [0, 2] }]\nmerge_method: passthrough\n`, /both\.yml: slices: give exactly one of models: or slices:/],
    ['none.yml', 'merge_method: linear\n', /none\.yml: models: give exactly one of models: or slices:/],
    ['method.yml', `models: [{ model: ${CODER} }]\nmerge_method: average\n`, /method\.yml: merge_method: unknown merge method 'average'/],
    ['param.yml', `models: [{ model: ${CODER}, parameters: { weight: fast } }]\nmerge_method: linear\n`, /param\.yml: models\.0\.parameters\.weight: expected a number, a boolean, a list of numbers/],
    ['empty.yml', `models: [{ model: ${CODER} }]\nmerge_method: linear\nparameters: { weight: [] }\n`, /empty\.yml: parameters\.weight: /],
    ['tok.yml', `models: [{ model: ${CODER} }]\nmerge_method: linear\ntokenizer_source: union\ntokenizer: { source: base }\n`, /tok\.yml: tokenizer: give tokenizer or tokenizer_source, not both/],
    ['tokens.yml', `models: [{ model: ${CODER} }]\nmerge_method: linear\ntokenizer: { tokens: { "<x>": { force: true } } }\n`, /tokens\.yml: tokenizer\.tokens\.<x>\.source: /],
    ['chat.yml', `models: [{ model: ${CODER} }]\nmerge_method: linear\nchat_template: vicuna\n`, /chat\.yml: chat_template: 'vicuna' is neither auto, a template name/],
    ['jinja.yml', `models: [{ model: ${CODER} }]\nmerge_method: linear\nchat_template: "{% for m in messages %}{{ m.content }}"\n`, /jinja\.yml: chat_template: the Jinja template does not compile/],
    ['modules.yml', 'modules: {}\nmerge_method: linear\n', /modules\.yml: modules: per-module configurations are not supported/],
    ['dtype.yml', `models: [{ model: ${CODER} }]\nmerge_method: linear\nout_dtype: int8\n`, /dtype\.yml: out_dtype: 'int8' is not float32, float16 or bfloat16/],
    ['required.yml', `models: [{ model: ${CODER} }, { model: ${CODER} }]\nmerge_method: nearswap\nbase_model: ${CODER}\n`, /required\.yml: parameters\.t: required by nearswap for model\.embed_tokens\.weight/],
  ];
  it('each names its file and field; no output file appears', () => {
    for (const [name, yaml, message] of cases) {
      const cfg = join(tmp.dir, name);
      writeFileSync(cfg, yaml);
      const out = join(tmp.dir, `${name}.apr`);
      let err: unknown;
      try {
        mergeModels({ models: [], config: cfg, output: out });
      } catch (e) {
        err = e;
      }
      expect(err, name).toBeInstanceOf(MergeConfigError);
      expect((err as Error).message, name).toMatch(message);
      expect((err as Error).message.includes('\n'), name).toBe(false);
      expect(existsSync(out), name).toBe(false);
    }
  });
  it('command-line models cannot be added to a config with slices', () => {
    const cfg = join(tmp.dir, 'sl.yml');
    writeFileSync(cfg, `slices:\n  - sources: [{ model: ${CODER}, layer_range: [0, 2] }]\nmerge_method: passthrough\n`);
    expect(() => mergeModels({ models: [CODER], config: cfg, output: join(tmp.dir, 'x.apr') })).toThrow(/apr merge: models: .*sl\.yml lists slices/);
  });
});

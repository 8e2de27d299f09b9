import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModel } from '../../../src/formats/open.js';
import { mergeModels } from '../../../src/ops/merge.js';
import { loadTokenizer } from '../../../src/tokenizer/index.js';
import { NAMED_CHAT_TEMPLATES } from '../../../src/train/merge/chat-templates.js';
import { tempDir } from '../../helpers.js';
import { CODER, tensorFloats, writeDerived } from './mergekit-fixtures.js';

/*
 * Three models: A = tiny-coder-llama (4096 tokens, the base); B = 2·A plus the BPE token "Ġzzzq" (id 4096)
 * and the special added token "<|tool_call|>" (4097); C = 3·A plus "<|tool_call|>" (4096) and the added
 * token "<|c_only|>" (4097). New rows have known values rB(id, c) and rC(id, c). Merged linearly with
 * weights 1, 2, 3. What mergekit documents and implements (mergekit/tokenizer/build.py, embed.py):
 *   union vocabulary: the base's tokens, then other models' ordinary tokens the base lacks, then the added
 *   tokens still missing → Ġzzzq 4096, <|tool_call|> 4097, <|c_only|> 4098;
 *   a model lacking a token gets: the only owner's row; else the base's; else the mean of the owners' rows.
 */
const COLS = 256;
const rB = (id: number, c: number): number => Math.fround(0.001 * (id - 4000) + c * 1e-5);
const rC = (id: number, c: number): number => Math.fround(0.003 * (id - 4000) + c * 2e-5);
const W = [1, 2, 3] as const;

let tmp: ReturnType<typeof tempDir>;
let B: string;
let C: string;
let a: Map<string, Float32Array>;
beforeAll(() => {
  tmp = tempDir('apr-merge-tokenizer-');
  B = join(tmp.dir, 'b.apr');
  C = join(tmp.dir, 'c.apr');
  writeDerived(B, { factor: 2, vocab: ['Ġzzzq'], added: [{ content: '<|tool_call|>', special: true }], row: rB });
  writeDerived(C, { factor: 3, added: [{ content: '<|tool_call|>', special: true }, { content: '<|c_only|>', special: false }], row: rC });
  a = tensorFloats(CODER);
});
afterAll(() => tmp.cleanup());

function merge(name: string, tail: string): string {
  const cfg = join(tmp.dir, `${name}.yml`);
  const models = [CODER, B, C].map((m, i) => `  - model: ${m}\n    parameters: { weight: ${W[i]} }`).join('\n');
  writeFileSync(cfg, `models:\n${models}\nmerge_method: linear\nbase_model: ${CODER}\n${tail}\n`);
  const out = join(tmp.dir, `${name}.apr`);
  mergeModels({ models: [], config: cfg, output: out });
  return out;
}

/** Linear merge of the three models' rows in float64: Σ w_i x_i / Σ w_i. */
const linear3 = (x: readonly number[]): number => (W[0] * (x[0] as number) + W[1] * (x[1] as number) + W[2] * (x[2] as number)) / 6;

/**
 * Tolerance: the output is one float32 rounding of a float64 combination (2^-24 relative), and a
 * fallback mean row is itself rounded once before the merge (another 2^-24 of a term ≤ |ref|): 2^-22 allows both.
 */
function expectRow(out: Float32Array, id: number, ref: (c: number) => number): void {
  for (let c = 0; c < COLS; c++) {
    const r = ref(c);
    expect(Math.abs((out[id * COLS + c] as number) - r), `row ${id} col ${c}`).toBeLessThanOrEqual(2 ** -22 * Math.abs(r) + 1e-12);
  }
}

const aRow = (name: string, id: number) => (c: number): number => (a.get(name)?.[id * COLS + c] as number);

describe('tokenizer_source and tokenizer: (mergekit tokenizer merging) [ob:merge-tokenizer-union]', () => {
  it('union: vocabulary, added-token entries and every new embedding and LM-head row as mergekit assigns them', () => {
    const out = merge('union', 'tokenizer_source: union');
    const m = openModel(out);
    expect(m.config.vocab_size).toBe(4099);
    const doc = JSON.parse(m.tokenizer?.json ?? '{}') as { added_tokens: { id: number; content: string; special: boolean; normalized: boolean }[] };
    const added = doc.added_tokens.filter((t) => t.id >= 4096).map((t) => [t.id, t.content, t.special, t.normalized]);
    // an ordinary token becomes an added, normalized, non-special token; B's settings for <|tool_call|> (B is listed before C)
    expect(added).toEqual([[4096, 'Ġzzzq', false, true], [4097, '<|tool_call|>', true, false], [4098, '<|c_only|>', false, false]]);
    const tok = loadTokenizer(m.tokenizer ?? { json: '' });
    expect(tok.encode('<|tool_call|><|c_only|>', { addSpecialTokens: false })).toEqual([4097, 4098]);
    m.tensors.close();
    const got = tensorFloats(out);
    for (const name of ['model.embed_tokens.weight', 'lm_head.weight']) {
      const e = got.get(name) as Float32Array;
      expect(e.length).toBe(4099 * COLS);
      for (const id of [0, 1, 2, 100, 4095]) expectRow(e, id, (c) => linear3([1, 2, 3].map((f) => f * aRow(name, id)(c))));
      expectRow(e, 4096, (c) => rB(4096, c)); // only B has Ġzzzq: every model takes B's row
      const mean = (c: number): number => Math.fround((rB(4097, c) + rC(4096, c)) / 2); // B and C have it, the base does not
      expectRow(e, 4097, (c) => linear3([mean(c), rB(4097, c), rC(4096, c)]));
      expectRow(e, 4098, (c) => rC(4097, c)); // only C
    }
  });

  it('base: the base vocabulary, every model’s rows of those tokens', () => {
    const out = merge('base', 'tokenizer_source: base');
    const got = tensorFloats(out);
    const e = got.get('model.embed_tokens.weight') as Float32Array;
    expect(e.length).toBe(4096 * COLS);
    expectRow(e, 7, (c) => linear3([1, 2, 3].map((f) => f * aRow('model.embed_tokens.weight', 7)(c))));
    expect(openModel(out).tokenizer?.json).toBe(openModel(CODER).tokenizer?.json);
  });

  it('model:<path>: that model’s vocabulary; tokenizer: tokens forces a row, pad_to_multiple_of pads with the mean row', () => {
    const fromC = tensorFloats(merge('model-c', `tokenizer_source: model:${C}`)).get('lm_head.weight') as Float32Array;
    expect(fromC.length).toBe(4098 * COLS);
    expectRow(fromC, 4097, (c) => rC(4097, c));
    const out = merge('forced', `tokenizer:\n  source: union\n  tokens:\n    "<|tool_call|>":\n      source: ${C}\n      force: true\n  pad_to_multiple_of: 64`);
    expect(openModel(out).config.vocab_size).toBe(4160);
    const e = tensorFloats(out).get('model.embed_tokens.weight') as Float32Array;
    expectRow(e, 4097, (c) => rC(4096, c));
    // padding rows: each model's mean over its 4099 token rows, then merged
    const perModel = [1, 2, 3].map((f) => (c: number): number => {
      let s = 0;
      for (let id = 0; id < 4096; id++) s += Math.fround(f * aRow('model.embed_tokens.weight', id)(c));
      return (s + rB(4096, c) + rC(4096, c) + rC(4097, c)) / 4099;
    });
    expectRow(e, 4159, (c) => linear3(perModel.map((p) => p(c))));
  });
});

describe('chat_template:', () => {
  // Outside reference: mergekit's _data/chat_templates/<name>.jinja rendered by Python jinja2 3.1 with
  // trim_blocks and lstrip_blocks (transformers' settings), bos <s>, eos </s>.
  const convo = [{ role: 'system', content: 'S ' }, { role: 'user', content: 'U' }, { role: 'assistant', content: 'A' }, { role: 'user', content: 'U2' }];
  const mergekit: Record<string, string> = {
    chatml: '<|im_start|>system\nS <|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\nA<|im_end|>\n<|im_start|>user\nU2<|im_end|>\n<|im_start|>assistant\n',
    llama3: '<s><|start_header_id|>system<|end_header_id|>\n\nS<|eot_id|>\n<|start_header_id|>user<|end_header_id|>\n\nU<|eot_id|>\n<|start_header_id|>assistant<|end_header_id|>\n\nA<|eot_id|>\n<|start_header_id|>user<|end_header_id|>\n\nU2<|eot_id|>\n<|start_header_id|>assistant<|end_header_id|>\n\n',
    mistral: '<s> [INST] S \n\nU [/INST] A</s> [INST] U2 [/INST]',
    alpaca: 'S\n\n### Instruction:\nU\n\n### Response:\nA\n\n### Instruction:\nU2### Response:\n',
    exaone: '    [|system|]S \n        [|endofturn|]\n\n    [|user|]U\n        \n\n    [|assistant|]A\n        [|endofturn|]\n\n    [|user|]U2\n        \n\n    [|assistant|]\n',
  };
  it('each named template renders as mergekit’s file of that name', () => {
    for (const [name, expected] of Object.entries(mergekit)) {
      const t = new Template(NAMED_CHAT_TEMPLATES[name] ?? '');
      expect(t.render({ messages: convo, add_generation_prompt: true, bos_token: '<s>', eos_token: '</s>' }), name).toBe(expected);
    }
  });
  it('writes the selected template into the output tokenizer (a name, auto, or a literal template)', () => {
    const named = openModel(merge('chat-llama3', 'tokenizer_source: base\nchat_template: llama3'));
    expect(named.tokenizer?.chatTemplate).toBe(NAMED_CHAT_TEMPLATES['llama3']);
    const literal = '{% for m in messages %}{{ m.content }}{% endfor %}';
    expect(openModel(merge('chat-literal', `tokenizer_source: base\nchat_template: "${literal}"`)).tokenizer?.chatTemplate).toBe(literal);
    // auto: the plurality template of the inputs (all three carry tiny-coder-llama's), compared trimmed
    expect(openModel(merge('chat-auto', 'tokenizer_source: base\nchat_template: auto')).tokenizer?.chatTemplate).toBe(openModel(CODER).tokenizer?.chatTemplate?.trim());
  });
});

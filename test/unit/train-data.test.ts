import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/errors.js';
import { readHfDir } from '../../src/formats/hf-dir/read.js';
import { loadTokenizer } from '../../src/tokenizer/index.js';
import { loadDataset, splitRecords } from '../../src/train/data/index.js';
import { fixture, tempDir } from '../helpers.js';

const bundle = readHfDir(fixture('models/tiny-coder-llama'));
const tok = loadTokenizer(bundle.tokenizer!, { modelConfig: bundle.config });
bundle.tensors.close();
const tmp = tempDir('apr-train-data-');
afterAll(() => tmp.cleanup());

function file(name: string, lines: string[]): string {
  const p = join(tmp.dir, name);
  writeFileSync(p, `${lines.join('\n')}\n`);
  return p;
}

const IM_START = 1, IM_END = 2, EOT = 0; // the fixture tokenizer's specials (fixtures README)

describe('instruct data', () => {
  it('renders the ChatML template; the mask covers exactly the response and its <|im_end|>\\n', () => {
    const p = file('inst.jsonl', [JSON.stringify({ instruction: 'Add two numbers', response: 'def add(a, b):\n    return a + b', system: 'You write Python.' })]);
    const d = loadDataset(p, tok, { task: 'instruct', maxSeqLen: 512, valSplit: 0, seed: 1 });
    expect(d.train).toHaveLength(1);
    expect(d.val).toHaveLength(0);
    const e = d.train[0]!;
    const text = tok.decode([...e.tokens]);
    expect(text).toBe('<|im_start|>system\nYou write Python.<|im_end|>\n<|im_start|>user\nAdd two numbers<|im_end|>\n<|im_start|>assistant\ndef add(a, b):\n    return a + b<|im_end|>\n');
    const first = e.mask.indexOf(1);
    expect(tok.decode([...e.tokens.subarray(0, first)])).toBe('<|im_start|>system\nYou write Python.<|im_end|>\n<|im_start|>user\nAdd two numbers<|im_end|>\n<|im_start|>assistant\n');
    expect(tok.decode([...e.tokens.subarray(first)])).toBe('def add(a, b):\n    return a + b<|im_end|>\n');
    expect(e.mask.subarray(first).every((m) => m === 1)).toBe(true);
    expect(e.tokens.filter((t) => t === IM_START)).toHaveLength(3);
    expect(e.tokens[e.tokens.length - 2]).toBe(IM_END);
    expect(e.where).toBe(`${p}:1`);
  });

  it('truncates to max-seq-len and drops records whose response starts beyond it', () => {
    const p = file('trunc.jsonl', [JSON.stringify({ instruction: 'x', response: 'y '.repeat(200) }), JSON.stringify({ instruction: 'word '.repeat(100), response: 'z' })]);
    const d = loadDataset(p, tok, { task: 'instruct', maxSeqLen: 40, valSplit: 0, seed: 1 });
    expect(d.records).toBe(2);
    expect(d.dropped).toBe(1);
    expect(d.train).toHaveLength(1);
    expect(d.train[0]!.tokens).toHaveLength(40);
  });
});

describe('completion data', () => {
  it('encodes the text with <|endoftext|> appended and cuts it into chunks of max-seq-len; first token not a target', () => {
    const text = 'import os\n'.repeat(30);
    const ids = [...tok.encode(text), EOT];
    const p = file('comp.jsonl', [JSON.stringify({ text })]);
    const d = loadDataset(p, tok, { task: 'completion', maxSeqLen: 16, valSplit: 0, seed: 1 });
    expect(d.train.flatMap((e) => [...e.tokens])).toEqual(ids.length % 16 === 1 ? ids.slice(0, -1) : ids);
    expect(d.train.slice(0, -1).every((e) => e.tokens.length === 16)).toBe(true);
    for (const e of d.train) expect([...e.mask]).toEqual([0, ...new Array<number>(e.tokens.length - 1).fill(1)]);
    expect(d.trainTokens).toBe(d.train.reduce((a, e) => a + e.tokens.length - 1, 0));
  });
});

describe('validation split', () => {
  it('is deterministic per seed, disjoint, and holds out round(n·split) records', () => {
    const items = Array.from({ length: 20 }, (_v, i) => i);
    const a = splitRecords(items, 0.2, 42), b = splitRecords(items, 0.2, 42), c = splitRecords(items, 0.2, 43);
    expect(a).toEqual(b);
    expect(a.val).toHaveLength(4);
    expect(a.val).not.toEqual(c.val);
    expect([...a.train, ...a.val].sort((x, y) => x - y)).toEqual(items);
    expect(splitRecords([1, 2], 0.01, 1).val).toHaveLength(1); // at least one held out
    expect(splitRecords([1, 2], 0.99, 1).train).toHaveLength(1); // never all
    expect(splitRecords([1], 0.5, 1).val).toHaveLength(0);
  });
});

describe('bad lines are one-line FormatErrors naming file:line and the field', () => {
  const cases: [string, string[], 'instruct' | 'completion', RegExp][] = [
    ['bad JSON', ['{"instruction":"a","response":"b"}', '{"instruction": oops}'], 'instruct', /bad1\.jsonl:2: json: not valid JSON/],
    ['missing response', ['{"instruction":"a"}'], 'instruct', /bad2\.jsonl:1: response: missing \(expected a string\)/],
    ['wrong type', ['', '{"instruction":"a","response":"b","system":3}'], 'instruct', /bad3\.jsonl:2: system: expected a string, got number/],
    ['not an object', ['[1,2]'], 'completion', /bad4\.jsonl:1: json: expected a JSON object per line/],
    ['missing text', ['{"txt":"a"}'], 'completion', /bad5\.jsonl:1: text: missing/],
  ];
  cases.forEach(([what, lines, task, msg], i) => {
    it(what, () => {
      const p = file(`bad${i + 1}.jsonl`, lines);
      let err: unknown;
      try {
        loadDataset(p, tok, { task, maxSeqLen: 64, valSplit: 0, seed: 1 });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FormatError);
      expect((err as Error).message).toMatch(msg);
      expect((err as Error).message).not.toContain('\n');
    });
  });
  it('an empty file', () => {
    expect(() => loadDataset(file('empty.jsonl', ['']), tok, { task: 'completion', maxSeqLen: 64, valSplit: 0, seed: 1 })).toThrow(/empty\.jsonl: records: no JSON lines/);
  });
});

import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModel } from '../../src/formats/open.js';
import { loadModel } from '../../src/model/index.js';
import type { DistillResult } from '../../src/ops/distill.js';
import { fixture, runCli, tempDir } from '../helpers.js';

const CODER = fixture('models/tiny-coder-llama');
const DRAFT = fixture('models/tiny-draft-llama');
let tmp: ReturnType<typeof tempDir>;
let data: string;

beforeAll(() => {
  tmp = tempDir('apr-distill-cli-');
  data = join(tmp.dir, 'text.jsonl');
  const src = readFileSync(fixture('reference/heldout.py.txt'), 'utf8');
  writeFileSync(data, [0, 1, 2, 3].map((i) => JSON.stringify({ text: src.slice(i * 200, i * 200 + 200) })).join('\n'));
});
afterAll(() => tmp.cleanup());

describe('apr distill (CLI, tiny runs)', () => {
  it('distils tiny-coder-llama into a fresh tiny-draft architecture, writes a loadable APR and a JSON history [ob:distill-writes-loadable]', () => {
    const out = join(tmp.dir, 'student.apr');
    const r = runCli('apr', ['distill', CODER, '--student', `init:${DRAFT}`, '--data', data, '--max-seq-len', '16', '--epochs', '2', '--strategy', 'progressive', '--json', '-o', out]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const res = JSON.parse(r.stdout) as DistillResult;
    expect(res.history).toHaveLength(2);
    for (const h of res.history) {
      expect(Number.isFinite(h.trainLoss) && Number.isFinite(h.valLoss ?? NaN)).toBe(true);
      expect(h.metrics['kl']).toBeGreaterThan(0);
    }
    const student = openModel(out);
    const draft = openModel(DRAFT);
    expect(student.config).toMatchObject({ hidden_size: draft.config.hidden_size, num_layers: draft.config.num_layers, vocab_size: 4096 });
    expect(student.tokenizer?.json).toBe(draft.tokenizer?.json);
    const logits = loadModel(student).logitsAll([1, 2, 3]);
    expect(logits.length).toBe(3 * 4096);
    expect(logits.every(Number.isFinite)).toBe(true);
    draft.tensors.close();
  });

  it('refuses a student whose tokenizer.json vocabulary differs, exit 3 and one line [ob:distill-vocab-refused]', () => {
    const other = join(tmp.dir, 'other-vocab');
    cpSync(DRAFT, other, { recursive: true });
    const tj = join(other, 'tokenizer.json');
    const doc = JSON.parse(readFileSync(tj, 'utf8')) as { model: { vocab: Record<string, number> } };
    const [tok, id] = Object.entries(doc.model.vocab)[1000] ?? ['', 0];
    delete doc.model.vocab[tok];
    doc.model.vocab[`${tok}Z`] = id;
    writeFileSync(tj, JSON.stringify(doc));
    const r = runCli('apr', ['distill', CODER, '--student', other, '--data', data, '-o', join(tmp.dir, 'never.apr')]);
    expect(r.status).toBe(3);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/other-vocab.*tokenizer\.json vocab.*differs/);
    expect(r.stdout).toBe('');
  });
});

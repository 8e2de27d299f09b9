import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModel } from '../../src/formats/open.js';
import { type Session, createSession } from '../../src/model/session.js';
import { runBatch } from '../../src/ops/batch.js';
import { runPrompt } from '../../src/ops/generate.js';
import { evalPerplexity } from '../../src/ops/perplexity.js';
import { tokenizeText } from '../../src/ops/tokenize.js';
import { fixture, runCli, tempDir } from '../helpers.js';

interface Reference {
  prompts: { text: string; ids: number[]; greedy_32: number[]; greedy_32_text: string }[];
  heldout_ppl: { perplexity: number; tokens: number; mean_nll: number };
}
const ref = (model: string): Reference => JSON.parse(readFileSync(fixture(`reference/${model}.reference.json`), 'utf8')) as Reference;

let draft: Session;
let tmp: ReturnType<typeof tempDir>;
beforeAll(() => {
  draft = createSession(openModel(fixture('gguf/tiny-draft-llama-f32.gguf')));
  tmp = tempDir('apr-run-');
});
afterAll(() => tmp.cleanup());

describe('apr run (op-run-v1) against transformers', () => {
  it('greedy output equals the reference greedy_32 for every prompt [ob:run-greedy-reference] [ob:run-text-decodes-ids]', () => {
    const r = ref('tiny-draft-llama');
    for (const p of r.prompts) {
      expect(draft.tokenizer.encode(p.text), p.text).toEqual(p.ids);
      // the reference does not stop at EOS: take the 32 tokens up to any stop token
      const out = runPrompt(draft, { prompt: p.text, maxTokens: 32 });
      const stop = p.greedy_32.findIndex((id) => draft.tokenizer.stopTokenIds.includes(id));
      expect(out.token_ids, p.text).toEqual(stop < 0 ? p.greedy_32 : p.greedy_32.slice(0, stop));
      if (stop < 0) expect(out.text).toBe(p.greedy_32_text);
    }
  });

  it('is deterministic for a seed when sampling [ob:run-deterministic]', () => {
    const opts = { prompt: 'import os\n', maxTokens: 24, temperature: 0.9, topP: 0.95, topK: 40, seed: 1234 };
    const a = runPrompt(draft, opts);
    const b = runPrompt(draft, opts);
    const c = runPrompt(draft, { ...opts, seed: 99 });
    expect(b.token_ids).toEqual(a.token_ids);
    expect(c.token_ids).not.toEqual(a.token_ids);
  });
});

describe('apr run --batch-jsonl (op-run-batch-v1)', () => {
  it('keeps input order, echoes ids and survives a malformed line [ob:batch-order] [ob:batch-survives-bad-line]', async () => {
    const lines = [
      JSON.stringify({ task_id: 'a', prompt: 'def add(a, b):', max_tokens: 8 }),
      '{"task_id": "broken", "prompt": ',
      '',
      JSON.stringify({ custom_id: 7, prompt: 'class Stack:', max_tokens: 8 }),
      JSON.stringify({ task_id: 'bad-type', prompt: 42 }),
    ];
    const out = await runBatch(draft, lines, { prompt: '', maxTokens: 16 }, 'in.jsonl');
    expect(out.map((r) => r.line)).toEqual([1, 2, 4, 5]);
    expect(out[0]?.task_id).toBe('a');
    expect(out[0]?.text).toBe(runPrompt(draft, { prompt: 'def add(a, b):', maxTokens: 8 }).text);
    expect(out[1]?.error).toMatch(/^in\.jsonl:2: invalid JSON/);
    expect(out[2]?.custom_id).toBe(7);
    expect(out[2]?.tokens_generated).toBeLessThanOrEqual(8);
    expect(out[3]).toMatchObject({ task_id: 'bad-type' });
    expect(out[3]?.error).toMatch(/^in\.jsonl:5: prompt:/);
  });
});

describe('apr run --batch-jsonl through the batched decoder (op-run-batch-v1, model-batch-decoder-v1)', () => {
  it('sampled lines decoded 3 at a time equal apr run alone; results flushed in input order [ob:batch-order] [ob:batch-seed-invariance]', async () => {
    const specs = Array.from({ length: 8 }, (_, i) => ({ task_id: `t${i}`, prompt: ['def f(x):', 'import os\n', 'class A:\n    def', '# sum'][i % 4] ?? '', max_tokens: 4 + ((i * 5) % 13), temperature: 0.9, top_p: 0.95, seed: 7 * i }));
    const flushed: string[] = [];
    const out = await runBatch(draft, specs.map((l) => JSON.stringify(l)), { prompt: '', maxTokens: 16 }, 'b.jsonl', (r) => flushed.push(String(r.task_id)), { parallel: 3 });
    expect(flushed).toEqual(specs.map((l) => l.task_id));
    out.forEach((r, i) => {
      const l = specs[i]!;
      expect(r.text, l.task_id).toBe(runPrompt(draft, { prompt: l.prompt, maxTokens: l.max_tokens, temperature: l.temperature, topP: l.top_p, seed: l.seed }).text);
    });
  });

  it('--parallel and --kv-budget reach the engine; a budget below one sequence is a usage error', () => {
    const file = join(tmp.dir, 'p.jsonl');
    writeFileSync(file, `${JSON.stringify({ task_id: 'a', prompt: 'def add(a, b):', max_tokens: 6 })}\n${JSON.stringify({ task_id: 'b', prompt: 'import', max_tokens: 6 })}\n`);
    const model = fixture('gguf/tiny-draft-llama-f32.gguf');
    const ok = runCli('apr', ['run', model, '--batch-jsonl', file, '--parallel', '2', '--kv-budget', '64M']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { task_id: string }).task_id)).toEqual(['a', 'b']);
    const tiny = runCli('apr', ['run', model, '--batch-jsonl', file, '--kv-budget', '1k']);
    expect(tiny.status).toBe(2);
    expect(tiny.stderr).toMatch(/--kv-budget: .*holds no slot/);
    expect(runCli('apr', ['run', model, '--batch-jsonl', file, '--kv-budget', 'lots']).stderr).toMatch(/--kv-budget: expected a size/);
  });
});

describe('apr eval --dataset (op-eval-perplexity-v1)', () => {
  it('reproduces the reference heldout perplexity within 0.05 % [ob:ppl-reference] [ob:ppl-exp-mean]', () => {
    const r = ref('tiny-draft-llama').heldout_ppl;
    const text = readFileSync(fixture('reference/heldout.py.txt'), 'utf8');
    const out = evalPerplexity(draft, 'heldout.py.txt', text, { context: 256, chunks: 32 });
    expect(out.tokens).toBe(r.tokens);
    expect(Math.abs(out.perplexity - r.perplexity) / r.perplexity).toBeLessThanOrEqual(5e-4);
    expect(Math.abs(Math.log(out.perplexity) - out.mean_nll)).toBeLessThanOrEqual(1e-9);
  });
});

describe('apr tokenize (op-tokenize-v1)', () => {
  it('matches every reference encoding [ob:tokenize-reference] [ob:tokenize-in-vocab]', () => {
    const t = JSON.parse(readFileSync(fixture('reference/tokenizer-reference.json'), 'utf8')) as { encode: { text: string; ids: number[]; decoded: string }[] };
    for (const e of t.encode) {
      const r = tokenizeText(draft.tokenizer, e.text);
      expect(r.ids, JSON.stringify(e.text)).toEqual(e.ids);
      expect(r.ids.every((id) => id >= 0 && id < draft.tokenizer.vocabSize)).toBe(true);
    }
  });
});

describe('apr run / eval end to end', () => {
  it('runs the demo model from the command line and prints JSON', () => {
    const r = runCli('apr', ['run', 'models/demo.gguf', 'def fibonacci(n):', '--max-tokens', '16', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { text: string; token_ids: number[]; tokens_generated: number; tok_per_sec: number };
    expect(doc.tokens_generated).toBe(doc.token_ids.length);
    expect(doc.tokens_generated).toBeGreaterThan(0);
    expect(doc.text.length).toBeGreaterThan(0);
    expect(doc.tok_per_sec).toBeGreaterThan(0);
  });

  it('batch mode prints one JSON line per prompt in order and exits 1 when a line failed', () => {
    const file = join(tmp.dir, 'in.jsonl');
    writeFileSync(file, `${JSON.stringify({ task_id: 1, prompt: 'x = ' })}\nnot json\n${JSON.stringify({ task_id: 3, prompt: 'y = ' })}\n`);
    const r = runCli('apr', ['run', fixture('gguf/tiny-draft-llama-f32.gguf'), '--batch-jsonl', file, '--max-tokens', '4']);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { line: number; error?: string; task_id?: number });
    expect(lines.map((l) => l.line)).toEqual([1, 2, 3]);
    expect(lines[1]?.error).toContain(`${file}:2`);
    expect(lines[2]?.task_id).toBe(3);
    expect(r.status).toBe(1);
  });

  it('eval --threshold fails (exit 1) when the perplexity is above it', () => {
    const r = runCli('apr', ['eval', fixture('gguf/tiny-draft-llama-f32.gguf'), '--dataset', fixture('reference/heldout.py.txt'), '--chunks', '2', '--threshold', '1.5', '--json']);
    expect(r.status).toBe(1);
    expect((JSON.parse(r.stdout) as { passed: boolean }).passed).toBe(false);
  });

  it('a missing dataset is a one-line error with exit 3', () => {
    const r = runCli('apr', ['eval', fixture('gguf/tiny-draft-llama-f32.gguf'), '--dataset', '/no/such.txt']);
    expect(r.status).toBe(3);
    expect(r.stderr).toContain('/no/such.txt');
  });
});

/**
 * The model's context (max_position_embeddings, 1024 for the fixtures) bounds prompt + generated tokens, as
 * in llama.cpp: a prompt that leaves no room is an error ("prompt is too long", nothing generated, exit 2);
 * a prompt that fits but leaves less than --max-tokens gets one warning and generation stops at the context.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModel } from '../../src/formats/open.js';
import { type Session, createSession } from '../../src/model/session.js';
import { runPrompt } from '../../src/ops/generate.js';
import { fixture, runCli, tempDir } from '../helpers.js';

const DRAFT = fixture('gguf/tiny-draft-llama-f32.gguf');
const HELDOUT = fixture('reference/heldout.py.txt');
const CTX = 1024;

let session: Session;
let text: string;
/** A prompt of more tokens than the context, and one of 1000 tokens or a few less. */
let long: string;
let near: string;
const tokens = (s: string): number => session.tokenizer.encode(s).length;

beforeAll(() => {
  session = createSession(openModel(DRAFT));
  text = readFileSync(HELDOUT, 'utf8');
  long = text.slice(0, 6000);
  let lo = 0;
  let hi = long.length;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (tokens(text.slice(0, mid)) <= 1000) lo = mid;
    else hi = mid;
  }
  near = text.slice(0, lo);
});
afterAll(() => session.model.dispose());

describe('prompt longer than the context', () => {
  it('apr run: exit 2, one line naming the prompt tokens and the context, nothing generated', () => {
    const n = tokens(long);
    expect(n).toBeGreaterThan(CTX);
    for (const extra of [[], ['--json'], ['--stream']]) {
      const r = runCli('apr', ['run', DRAFT, long, '-n', '4', ...extra]);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toBe(`apr: error: prompt is too long: ${n} tokens, the model's context is ${CTX} tokens; nothing was generated (shorten the prompt)`);
    }
  });

  it('apr run: prompt + --max-tokens past the context warns once and stops at the context', () => {
    const n = tokens(near);
    expect(n).toBeGreaterThan(CTX - 64);
    const r = runCli('apr', ['run', DRAFT, near, '-n', '64', '--json']);
    expect(r.status, r.stderr).toBe(0);
    const warnings = r.stderr.trim().split('\n').filter((l) => l.startsWith('warning:'));
    expect(warnings).toEqual([`warning: prompt (${n} tokens) + --max-tokens 64 exceeds the model's context of ${CTX} tokens; generation stops at the context, after at most ${CTX - n} tokens`]);
    const out = JSON.parse(r.stdout) as { token_ids: number[]; prompt_tokens: number; stop_reason: string };
    expect(out.prompt_tokens).toBe(n);
    expect(out.token_ids.length).toBeLessThanOrEqual(CTX - n);
    expect(out.stop_reason).toBe('length');
    expect(out.token_ids).toEqual(runPrompt(session, { prompt: near, maxTokens: CTX - n }).token_ids);
    const short = runCli('apr', ['run', DRAFT, 'def f(x):', '-n', '4']);
    expect(short.status).toBe(0);
    expect(short.stderr).not.toContain('warning');
  });

  it('apr run --batch-jsonl: the long line gets an error result, the others run (exit 1)', () => {
    const input = `${JSON.stringify({ prompt: long, task_id: 'long' })}\n${JSON.stringify({ prompt: 'def f(x):', task_id: 'short', max_tokens: 4 })}\n`;
    const tmp = tempDir('apr-context-');
    const file = join(tmp.dir, 'prompts.jsonl');
    writeFileSync(file, input);
    try {
      const r = runCli('apr', ['run', DRAFT, '--batch-jsonl', file]);
      expect(r.status, r.stderr).toBe(1);
      const [a, b] = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { task_id: string; error?: string; text?: string });
      expect(a?.error).toContain(`prompt is too long: ${tokens(long)} tokens, the model's context is ${CTX} tokens`);
      expect(b?.task_id).toBe('short');
      expect(typeof b?.text).toBe('string');
    } finally {
      tmp.cleanup();
    }
  });

  it('apr chat: the turn is skipped with one error line, the chat goes on, exit 2 at the end', () => {
    const r = runCli('apr', ['chat', DRAFT, '--batch', '--json', '-n', '4'], { input: `${long.replace(/\n/g, ' ')}\ndef add(a, b):\n` });
    expect(r.status, r.stderr).toBe(2);
    const turns = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { user: string; error?: string; assistant?: string });
    expect(turns).toHaveLength(2);
    expect(turns[0]?.error).toMatch(new RegExp(`^prompt is too long: \\d+ tokens, the model's context is ${CTX} tokens`));
    expect(turns[1]?.user).toBe('def add(a, b):');
    expect(typeof turns[1]?.assistant).toBe('string');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^apr: error: prompt is too long: .*turn skipped/);
  });

  it('apr eval: a --context beyond the model\'s warns like llama-perplexity and goes on', () => {
    const r = runCli('apr', ['eval', DRAFT, '--dataset', HELDOUT, '--context', '2048', '--chunks', '1', '--json']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual([`warning: --context 2048 exceeds the model's context of ${CTX} tokens; positions past ${CTX} were never trained and the perplexity will be worse`]);
    const ok = runCli('apr', ['eval', DRAFT, '--dataset', HELDOUT, '--context', '256', '--chunks', '1', '--json']);
    expect(ok.stderr).toBe('');
  });

  it('run and chat --help say what happens', () => {
    for (const verb of ['run', 'chat']) {
      const r = runCli('apr', [verb, '--help']);
      expect(r.stdout, verb).toContain('prompt is too long');
      expect(r.stdout, verb).toMatch(/generation stops at the\s+context/);
    }
  });
});

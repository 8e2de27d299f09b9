/**
 * `apr chat --batch`: one user turn per stdin line, history kept between turns, `/reset` clears it. Each
 * reply must be what `runPrompt` gives for the same conversation rendered with the chat template (whose
 * rendering is checked against transformers in the tokenizer tests).
 */
import { describe, expect, it } from 'vitest';
import { openModel } from '../../src/formats/open.js';
import { createSession } from '../../src/model/session.js';
import { runPrompt } from '../../src/ops/generate.js';
import { fixture, runCli } from '../helpers.js';

const MODEL = fixture('gguf/tiny-draft-llama-f32.gguf');

describe('apr chat --batch', () => {
  it('keeps history across turns, /reset clears it, and each reply equals runPrompt on the same conversation', () => {
    const run = runCli('apr', ['chat', MODEL, '--batch', '--json', '--max-tokens', '12'], { input: 'def add(a, b):\nand subtract?\n/reset\nand subtract?\n/exit\nnever read\n' });
    expect(run.status, run.stderr).toBe(0);
    const turns = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as { user: string; assistant: string; tokens_generated: number });
    expect(turns.map((t) => t.user)).toEqual(['def add(a, b):', 'and subtract?', 'and subtract?']);

    const session = createSession(openModel(MODEL));
    const first = runPrompt(session, { prompt: 'def add(a, b):', chat: true, maxTokens: 12 });
    expect(turns[0]?.assistant).toBe(first.text);
    const withHistory = runPrompt(session, { prompt: 'and subtract?', chat: true, maxTokens: 12, history: [{ role: 'user', content: 'def add(a, b):' }, { role: 'assistant', content: first.text }] });
    expect(turns[1]?.assistant).toBe(withHistory.text);
    const fresh = runPrompt(session, { prompt: 'and subtract?', chat: true, maxTokens: 12 });
    expect(turns[2]?.assistant).toBe(fresh.text);
    expect(withHistory.text).not.toBe(fresh.text); // the history changed the reply, so the test can tell it was kept
    expect(turns.every((t) => t.tokens_generated > 0 && t.tokens_generated <= 12)).toBe(true);
  });
});

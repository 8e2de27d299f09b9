import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type OpenAI from 'openai';
import type { RunningServer } from '../../src/serve/index.js';
import { runCli } from '../helpers.js';
import { MODEL, MODEL_ID, client, startTestServer } from './serve-helpers.js';

const PROMPT = 'def fibonacci(n):';

/** `apr run`'s greedy text for the prompt (a separate process, as a user runs it). */
function aprRun(prompt: string, maxTokens: number, chat = false): string {
  const r = runCli('apr', ['run', MODEL, prompt, '--max-tokens', String(maxTokens), '--json', ...(chat ? ['--chat'] : [])]);
  if (r.status !== 0) throw new Error(r.stderr);
  return (JSON.parse(r.stdout) as { text: string }).text;
}

let server: RunningServer;
let api: OpenAI;
let runText: string;
let runChatText: string;

beforeAll(async () => {
  runText = aprRun(PROMPT, 32);
  runChatText = aprRun('def add(a, b):', 24, true);
  server = await startTestServer();
  api = client(server);
}, 60_000);
afterAll(() => server.close());

describe('apr serve: the OpenAI API through the official client', () => {
  it('lists the model', async () => {
    const models = await api.models.list();
    expect(models.data.map((m) => m.id)).toEqual([MODEL_ID]);
  });

  it('greedy completions equal apr run, with usage and finish_reason length', async () => {
    const r = await api.completions.create({ model: MODEL_ID, prompt: PROMPT, max_tokens: 32, temperature: 0 });
    expect(r.choices).toHaveLength(1);
    expect(r.choices[0]?.text).toBe(runText);
    expect(r.choices[0]?.finish_reason).toBe('length');
    expect(r.usage).toEqual({ prompt_tokens: 9, completion_tokens: 32, total_tokens: 41 });
  });

  it('greedy chat equals apr run --chat', async () => {
    const r = await api.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'def add(a, b):' }], max_tokens: 24, temperature: 0 });
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0]?.message.role).toBe('assistant');
    expect(r.choices[0]?.message.content).toBe(runChatText);
    expect(r.usage?.completion_tokens).toBeLessThanOrEqual(24);
  });

  it('streams chat as server-sent events: the deltas join to the whole answer', async () => {
    const messages = [{ role: 'system' as const, content: 'You write Python.' }, { role: 'user' as const, content: 'def add(a, b):' }];
    const whole = await api.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 24, temperature: 0 });
    const stream = await api.chat.completions.create({ model: MODEL_ID, messages, max_tokens: 24, temperature: 0, stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(whole.choices[0]?.message.content);
    const finish = chunks.flatMap((c) => c.choices.map((x) => x.finish_reason)).filter((f) => f !== null);
    expect(finish).toEqual([whole.choices[0]?.finish_reason]);
    expect(chunks.at(-1)?.usage).toEqual(whole.usage);
  });

  it('streams completions', async () => {
    const stream = await api.completions.create({ model: MODEL_ID, prompt: PROMPT, max_tokens: 32, temperature: 0, stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.text ?? '';
    expect(text).toBe(runText);
  });

  it('n = 2 gives two choices; the same seed gives the same text', async () => {
    const ask = (seed: number): Promise<OpenAI.Completions.Completion> =>
      api.completions.create({ model: MODEL_ID, prompt: PROMPT, max_tokens: 24, temperature: 0.9, top_p: 0.95, seed, n: 2 });
    const [a, b, c] = await Promise.all([ask(7), ask(7), ask(8)]);
    expect(a.choices.map((x) => x.index)).toEqual([0, 1]);
    expect(b.choices.map((x) => x.text)).toEqual(a.choices.map((x) => x.text));
    expect(c.choices.map((x) => x.text)).not.toEqual(a.choices.map((x) => x.text));
    expect(a.choices[0]?.text).not.toBe(a.choices[1]?.text);
    expect(a.usage?.prompt_tokens).toBe(9);
  });

  it('stops at a stop string, also one spanning tokens, and never streams part of it', async () => {
    const stop = runText.slice(9, 16);
    const cut = runText.indexOf(stop);
    expect(cut).toBeGreaterThan(0);
    const tokens = (await api.completions.create({ model: MODEL_ID, prompt: PROMPT, max_tokens: 32, temperature: 0, logprobs: 0 })).choices[0]?.logprobs?.tokens ?? [];
    expect(tokens.join('')).toBe(runText);
    expect(tokens.some((t) => t.includes(stop))).toBe(false); // the stop string spans tokens
    const r = await api.completions.create({ model: MODEL_ID, prompt: PROMPT, max_tokens: 32, temperature: 0, stop: ['zzz-never', stop] });
    expect(r.choices[0]?.text).toBe(runText.slice(0, cut));
    expect(r.choices[0]?.finish_reason).toBe('stop');
    const stream = await api.completions.create({ model: MODEL_ID, prompt: PROMPT, max_tokens: 32, temperature: 0, stop, stream: true });
    const pieces: string[] = [];
    for await (const c of stream) pieces.push(c.choices[0]?.text ?? '');
    expect(pieces.join('')).toBe(runText.slice(0, cut));
  });

  it('max_tokens ends with finish_reason length', async () => {
    const r = await api.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'import os' }], max_tokens: 3, temperature: 0 });
    expect(r.choices[0]?.finish_reason).toBe('length');
    expect(r.usage?.completion_tokens).toBe(3);
  });

  it('reports log-probabilities (completions: logprobs = N; chat: logprobs + top_logprobs)', async () => {
    const r = await api.completions.create({ model: MODEL_ID, prompt: PROMPT, max_tokens: 8, temperature: 0, logprobs: 3 });
    const lp = r.choices[0]?.logprobs;
    expect(lp?.tokens).toHaveLength(8);
    expect(lp?.tokens?.join('')).toBe(r.choices[0]?.text);
    lp?.token_logprobs?.forEach((v, i) => {
      const top = Object.values(lp.top_logprobs?.[i] ?? {});
      expect(v).toBeLessThanOrEqual(0);
      expect(top.length).toBeGreaterThanOrEqual(1);
      expect(v).toBeCloseTo(Math.max(...top), 9); // greedy: the chosen token is the most likely
    });
    const c = await api.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'def f(x):' }], max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 2 });
    const content = c.choices[0]?.logprobs?.content ?? [];
    expect(content).toHaveLength(c.usage?.completion_tokens ?? -1);
    for (const e of content) {
      expect(e.top_logprobs).toHaveLength(2);
      expect(e.logprob).toBeCloseTo(e.top_logprobs[0]?.logprob ?? NaN, 9);
    }
  });

  it('--chat-template: a Jinja template file replaces the model template', async () => {
    const source = "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}";
    const custom = await startTestServer({ chatTemplate: { source, variables: {} } });
    try {
      const c = client(custom);
      const chat = await c.chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'def add(a, b):' }], max_tokens: 12, temperature: 0 });
      const plain = await c.completions.create({ model: MODEL_ID, prompt: 'user: def add(a, b):\nassistant:', max_tokens: 12, temperature: 0 });
      expect(chat.choices[0]?.message.content).toBe(plain.choices[0]?.text);
      expect(chat.usage?.prompt_tokens).toBe(plain.usage?.prompt_tokens);
    } finally {
      await custom.close();
    }
  });
});

import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../src/serve/index.js';
import { runCli } from '../helpers.js';
import { MODEL, MODEL_ID, client, health, metric, post, scrape, startTestServer, until } from './serve-helpers.js';

const LONG = { model: MODEL_ID, prompt: 'def fibonacci(n):', max_tokens: 1000, temperature: 0, stream: true };

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

async function expectError(r: Response, status: number, param?: string): Promise<ErrorBody> {
  expect(r.status).toBe(status);
  const body = (await r.json()) as ErrorBody;
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(body.error.message.length).toBeGreaterThan(0);
  if (param !== undefined) expect(body.error.param).toBe(param);
  return body;
}

/** Starts a long streaming request and resolves once its first bytes arrived (it holds a slot). */
async function holdSlot(server: RunningServer, ac: AbortController): Promise<void> {
  const r = await post(server, '/v1/completions', LONG, {}, ac.signal);
  const reader = r.body?.getReader();
  await reader?.read();
}

let server: RunningServer;
let keyed: RunningServer;
let tiny: RunningServer;

beforeAll(async () => {
  server = await startTestServer({ contextLength: 64 });
  keyed = await startTestServer({ apiKey: 'sekret' });
  tiny = await startTestServer({ parallel: 1, maxQueue: 1 });
}, 60_000);
afterAll(async () => {
  await Promise.all([server.close(), keyed.close(), tiny.close()]);
});

describe('apr serve: errors are OpenAI-shaped and the server lives on', () => {
  it('400 for malformed JSON, wrong types and bad values; 404 for an unknown model or path', async () => {
    await expectError(await post(server, '/v1/completions', '{"prompt": '), 400);
    await expectError(await post(server, '/v1/completions', '[1, 2]'), 400);
    await expectError(await post(server, '/v1/completions', { prompt: 'x', max_tokens: -1 }), 400, 'max_tokens');
    await expectError(await post(server, '/v1/completions', { prompt: 'x', temperature: 'hot' }), 400, 'temperature');
    await expectError(await post(server, '/v1/chat/completions', { messages: [] }), 400, 'messages');
    await expectError(await post(server, '/v1/chat/completions', { messages: [{ role: 'wizard', content: 'x' }] }), 400, 'messages.0.role');
    await expectError(await post(server, '/v1/completions', { model: 'gpt-9', prompt: 'x' }), 404, 'model');
    await expectError(await fetch(`${server.url}/v1/nothing`), 404);
    expect((await health(server)).status).toBe('ok');
  });

  it('400 for a prompt longer than the context; 413 for a body over 1 MiB', async () => {
    const long = await expectError(await post(server, '/v1/completions', { prompt: 'def f(x): return x\n'.repeat(40) }), 400, 'prompt');
    expect(long.error.code).toBe('context_length_exceeded');
    await expectError(await post(server, '/v1/completions', { prompt: 'x'.repeat(1_100_000) }), 413);
    const ok = await client(server).completions.create({ model: MODEL_ID, prompt: 'import', max_tokens: 2, temperature: 0 });
    expect(ok.choices[0]?.finish_reason).toBe('length');
  });

  it('401 without the right key (but /health needs none); the client with the key is served', async () => {
    await expectError(await post(keyed, '/v1/completions', { prompt: 'x' }), 401);
    await expectError(await post(keyed, '/v1/completions', { prompt: 'x' }, { authorization: 'Bearer wrong' }), 401);
    await expectError(await fetch(`${keyed.url}/metrics`), 401);
    expect((await fetch(`${keyed.url}/health`)).status).toBe(200);
    await expect(client(keyed).models.list()).rejects.toMatchObject({ status: 401 });
    const r = await client(keyed, 'sekret').completions.create({ model: MODEL_ID, prompt: 'x', max_tokens: 1 });
    expect(r.choices).toHaveLength(1);
  });
});

describe('apr serve: bounded queue, cancellation, metrics', () => {
  it('429 over the queue bound; a client abort frees its slot at once', async () => {
    const first = new AbortController();
    await holdSlot(tiny, first);
    const second = new AbortController();
    const waiting = post(tiny, '/v1/completions', { ...LONG, stream: false, max_tokens: 4 }, {}, second.signal);
    await until(async () => (await health(tiny)).queued === 1);
    const busy = await expectError(await post(tiny, '/v1/completions', { prompt: 'x', max_tokens: 1 }), 429);
    expect(busy.error.type).toBe('rate_limit_error');
    first.abort();
    const served = (await (await waiting).json()) as { choices: { finish_reason: string }[] };
    expect(served.choices[0]?.finish_reason).toBe('length');
    await until(async () => (await health(tiny)).active === 0, 2_000);
    const m = await scrape(tiny);
    expect(metric(m, 'apr_requests_total', { endpoint: '/v1/completions', status: '429' })).toBe(1);
    expect(metric(m, 'apr_requests_total', { endpoint: '/v1/completions', status: '499' })).toBe(1);
    expect(metric(m, 'apr_active_sequences')).toBe(0);
    expect(metric(m, 'apr_queue_length')).toBe(0);
  });

  it('an aborted openai stream frees the slot and the next request is served', async () => {
    const stream = await client(tiny).completions.create(LONG as Parameters<ReturnType<typeof client>['completions']['create']>[0] & { stream: true });
    for await (const chunk of stream) {
      expect(chunk.object).toBe('text_completion');
      break; // leaving the loop aborts the request
    }
    await until(async () => (await health(tiny)).active === 0, 2_000);
    const r = await client(tiny).chat.completions.create({ model: MODEL_ID, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
    expect(r.choices).toHaveLength(1);
  });

  it('/metrics is Prometheus text whose counters increase with traffic', async () => {
    const before = await scrape(server);
    for (const name of ['apr_requests_total', 'apr_prompt_tokens_total', 'apr_completion_tokens_total', 'apr_queue_length', 'apr_active_sequences', 'apr_time_to_first_token_seconds_bucket', 'apr_time_per_output_token_seconds_bucket']) {
      expect(before.some((s) => s.name === name), name).toBe(true);
    }
    await client(server).completions.create({ model: MODEL_ID, prompt: 'import os', max_tokens: 5, temperature: 0 });
    const after = await scrape(server);
    const ok = { endpoint: '/v1/completions', status: '200' };
    expect(metric(after, 'apr_requests_total', ok)).toBe(metric(before, 'apr_requests_total', ok) + 1);
    expect(metric(after, 'apr_completion_tokens_total')).toBe(metric(before, 'apr_completion_tokens_total') + 5);
    expect(metric(after, 'apr_prompt_tokens_total')).toBeGreaterThan(metric(before, 'apr_prompt_tokens_total'));
    expect(metric(after, 'apr_time_to_first_token_seconds_count')).toBe(metric(before, 'apr_time_to_first_token_seconds_count') + 1);
    expect(metric(after, 'apr_time_per_output_token_seconds_count')).toBe(metric(before, 'apr_time_per_output_token_seconds_count') + 4);
  });
});

describe('apr serve: the command', () => {
  it('prints its address when listening; SIGTERM lets an in-flight stream finish, then exits 0', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/apr.ts', 'serve', MODEL, '--port', '0', '--parallel', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await until(() => Promise.resolve(/listening on http:\/\/127\.0\.0\.1:\d+/.test(out)), 30_000);
    const url = /listening on (\S+)/.exec(out)?.[1] ?? '';
    const h = (await (await fetch(`${url}/health`)).json()) as { slots: number };
    expect(h.slots).toBe(2);
    const r = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ...LONG, max_tokens: 200 }) });
    const reader = r.body?.pipeThrough(new TextDecoderStream()).getReader();
    let text = (await reader?.read())?.value ?? '';
    child.kill('SIGTERM');
    for (let part = await reader?.read(); part && !part.done; part = await reader?.read()) text += part.value;
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    expect(text).toContain('"finish_reason":"length"');
    expect(await exited).toBe(0);
  }, 45_000);

  it('--help explains the options', () => {
    const r = runCli('apr', ['serve', '--help']);
    expect(r.status).toBe(0);
    for (const flag of ['--host', '--port', '--api-key', '--parallel', '--ctx', '--chat-template', '--max-queue', '/metrics']) expect(r.stdout).toContain(flag);
  });
});

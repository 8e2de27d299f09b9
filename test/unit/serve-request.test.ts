/** Request validation (src/serve/schemas.ts), OpenAI-shaped errors (errors.ts) and SSE framing (sse.ts). */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, badRequest, busy, notFound, toApiError, tooLarge, unauthorized } from '../../src/serve/errors.js';
import { ChatSchema, CompletionSchema, parseBody, stopList } from '../../src/serve/schemas.js';
import { SseWriter } from '../../src/serve/sse.js';

/** The ApiError `f` throws (fails the test when it throws nothing or something else). */
function thrown(f: () => unknown): ApiError {
  try {
    f();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error('expected an ApiError');
}

const chat = { messages: [{ role: 'user', content: 'hi' }] };

describe('parseBody', () => {
  it('accepts a minimal chat and completion body; absent options stay undefined (no invented defaults)', () => {
    const c = parseBody(ChatSchema, chat);
    expect(c.messages).toEqual([{ role: 'user', content: 'hi' }]);
    for (const k of ['max_tokens', 'temperature', 'stream', 'stop', 'n', 'seed'] as const) expect(c[k], k).toBeUndefined();
    const p = parseBody(CompletionSchema, { prompt: [1, 2, 3], max_tokens: 0, stop: null, temperature: 0 });
    expect([p.prompt, p.max_tokens, p.stop, p.temperature]).toEqual([[1, 2, 3], 0, null, 0]);
  });

  it('ignores unknown fields and drops them from the parsed body', () => {
    const c = parseBody(ChatSchema, { ...chat, frequency_penalty: 0.5, tools: [] });
    expect('frequency_penalty' in c || 'tools' in c).toBe(false);
  });

  it('content may be null or a list of text parts; any role outside the four is refused', () => {
    expect(parseBody(ChatSchema, { messages: [{ role: 'assistant', content: null }, { role: 'user', content: [{ type: 'text', text: 'x' }] }] }).messages).toHaveLength(2);
    const e = thrown(() => parseBody(ChatSchema, { messages: [{ role: 'tool', content: 'x' }] }));
    expect([e.status, e.param]).toEqual([400, 'messages.0.role']);
  });

  const bad: [string, typeof ChatSchema | typeof CompletionSchema, Record<string, unknown>, string][] = [
    ['negative max_tokens', ChatSchema, { ...chat, max_tokens: -1 }, 'max_tokens'],
    ['fractional max_tokens', CompletionSchema, { prompt: 'x', max_tokens: 1.5 }, 'max_tokens'],
    ['max_tokens as a string', ChatSchema, { ...chat, max_tokens: '16' }, 'max_tokens'],
    ['temperature above 2', ChatSchema, { ...chat, temperature: 2.5 }, 'temperature'],
    ['top_p of 0', CompletionSchema, { prompt: 'x', top_p: 0 }, 'top_p'],
    ['stream as a string', ChatSchema, { ...chat, stream: 'true' }, 'stream'],
    ['an empty stop string', ChatSchema, { ...chat, stop: '' }, 'stop'],
    ['n of 0', CompletionSchema, { prompt: 'x', n: 0 }, 'n'],
    ['echo true', CompletionSchema, { prompt: 'x', echo: true }, 'echo'],
    ['no messages', ChatSchema, {}, 'messages'],
    ['an empty message list', ChatSchema, { messages: [] }, 'messages'],
    ['an empty prompt list', CompletionSchema, { prompt: [] }, 'prompt'],
    ['a negative token id (the closest union branch names the element)', CompletionSchema, { prompt: [3, -1] }, 'prompt.1'],
    ['content as a number', ChatSchema, { messages: [{ role: 'user', content: 5 }] }, 'messages.0.content'],
  ];
  for (const [what, schema, body, param] of bad) {
    it(`refuses ${what} with an OpenAI-shaped 400 naming '${param}'`, () => {
      const e = thrown(() => parseBody(schema, body));
      expect(e.status).toBe(400);
      const b = e.body();
      expect(Object.keys(b)).toEqual(['error']);
      expect(b.error).toMatchObject({ type: 'invalid_request_error', param, code: 'invalid_value' });
      expect(b.error.message.startsWith(`${param}: `)).toBe(true);
    });
  }

  it('a body that is not a JSON object is a 400 with no param', () => {
    for (const body of [null, [chat], 'text', 3]) {
      const e = thrown(() => parseBody(ChatSchema, body));
      expect(e.body()).toEqual({ error: { message: 'the request body must be a JSON object', type: 'invalid_request_error', param: null, code: null } });
    }
  });

  it('stopList turns the stop option into a list', () => {
    expect([stopList(undefined), stopList(null), stopList('x'), stopList(['a', 'b'])]).toEqual([[], [], ['x'], ['a', 'b']]);
  });
});

describe('API errors', () => {
  it('each helper has its HTTP status, type and code, in the body OpenAI clients read', () => {
    const cases: [ApiError, number, string, string | null][] = [
      [badRequest('m', 'p'), 400, 'invalid_request_error', null],
      [unauthorized(), 401, 'authentication_error', 'invalid_api_key'],
      [notFound('model x'), 404, 'not_found_error', 'not_found'],
      [busy(7), 429, 'rate_limit_error', 'queue_full'],
      [tooLarge(1024), 413, 'invalid_request_error', 'request_too_large'],
    ];
    for (const [e, status, type, code] of cases) {
      expect(e.status).toBe(status);
      expect(e.body()).toEqual({ error: { message: e.message, type, param: e === cases[0]?.[0] ? 'p' : null, code } });
    }
    expect(notFound('model x').message).toBe('model x not found');
    expect(busy(7).message).toContain('7 requests waiting');
    expect(tooLarge(1024).message).toContain('1024 bytes');
  });

  it('toApiError keeps an ApiError and turns anything else into a 500 with its message', () => {
    const e = notFound('x');
    expect(toApiError(e)).toBe(e);
    expect(toApiError(new TypeError('boom')).body()).toEqual({ error: { message: 'boom', type: 'server_error', param: null, code: 'internal_error' } });
    const s = toApiError('plain');
    expect([s.status, s.message]).toEqual([500, 'plain']);
  });
});

describe('SseWriter', () => {
  let server: Server;
  let url = '';
  beforeAll(async () => {
    server = createServer((_req, res) => {
      const sse = new SseWriter(res);
      sse.open();
      sse.send({ id: 1, text: 'a\n\nb' });
      sse.send('x');
      expect(sse.closed).toBe(false);
      sse.done();
      expect(sse.closed).toBe(true);
      sse.send({ late: true });
      sse.done();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('frames each chunk as one data line and a blank line, ends with [DONE], and writes nothing after it', async () => {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    const body = await res.text();
    // a newline inside the payload is escaped by JSON, so it cannot end the event early
    expect(body).toBe('data: {"id":1,"text":"a\\n\\nb"}\n\ndata: "x"\n\ndata: [DONE]\n\n');
    const events = body.split('\n\n').filter((e) => e !== '');
    expect(events.every((e) => e.startsWith('data: ') && !e.includes('\n'))).toBe(true);
  });
});

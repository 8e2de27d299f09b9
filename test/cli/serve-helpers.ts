import OpenAI from 'openai';
import { openModel } from '../../src/formats/open.js';
import { createSession } from '../../src/model/session.js';
import { type RunningServer, type ServeOptions, serveSession } from '../../src/serve/index.js';
import { fixture } from '../helpers.js';

export const MODEL = fixture('gguf/tiny-coder-llama-f32.gguf');
export const MODEL_ID = 'tiny-coder-llama-f32';

/** A server on an ephemeral loopback port over its own session of the fixture model. */
export function startTestServer(opts: ServeOptions = {}): Promise<RunningServer> {
  const session = createSession(openModel(MODEL), { threads: 1 });
  return serveSession(session, { host: '127.0.0.1', port: 0, ...opts });
}

export function client(server: RunningServer, apiKey = 'unused'): OpenAI {
  return new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0, timeout: 30_000 });
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses the Prometheus text exposition format strictly (throws on a malformed line). */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || /^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* /.test(line)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    // values as Go's ParseFloat reads them (Prometheus): numbers, ±Inf and NaN in any case
    const raw = m[3] as string;
    const special: Record<string, number> = { '+inf': Infinity, inf: Infinity, '-inf': -Infinity, nan: NaN };
    const value = special[raw.toLowerCase()] ?? Number(raw);
    if (Number.isNaN(value) && raw.toLowerCase() !== 'nan') throw new Error(`bad value: ${line}`);
    samples.push({ name: m[1] as string, labels, value });
  }
  return samples;
}

/** The sum of a metric's samples whose labels include `labels`. */
export function metric(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0);
}

export async function scrape(server: RunningServer, headers: Record<string, string> = {}): Promise<Sample[]> {
  const r = await fetch(`${server.url}/metrics`, { headers });
  if (r.status !== 200) throw new Error(`/metrics: ${r.status}`);
  return parsePrometheus(await r.text());
}

export async function health(server: RunningServer): Promise<{ status: string; active: number; queued: number; slots: number }> {
  return (await (await fetch(`${server.url}/health`)).json()) as { status: string; active: number; queued: number; slots: number };
}

/** Polls until `cond` holds (at most `ms`). */
export async function until(cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function post(server: RunningServer, path: string, body: string | object, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${server.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

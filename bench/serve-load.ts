/**
 * Load test of `apr serve`: C concurrent streaming clients for S seconds against a server in its own process,
 * then the same requests one at a time (the batching gain).
 *   npx tsx bench/serve-load.ts [--model ../shared/fixtures/gguf/tiny-coder-llama-f32.gguf] [--clients 64]
 *                               [--seconds 60] [--sequential-seconds 15] [--max-tokens 32] [--parallel 16] [--json]
 * Every response is checked: status 200, every event a JSON chunk, a finish_reason, `data: [DONE]` last, the
 * usage chunk's token count. Prints requests/s, aggregate tokens/s, p50/p99 time to first token, the server's
 * resident memory over the run (from /metrics) and the sequential tokens/s. Exit 1 on any failed request.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const model = arg('model', path.resolve(process.cwd(), '../shared/fixtures/gguf/tiny-coder-llama-f32.gguf'));
const clients = Number(arg('clients', '64'));
const seconds = Number(arg('seconds', '60'));
const seqSeconds = Number(arg('sequential-seconds', '15'));
const maxTokens = Number(arg('max-tokens', '32'));
const parallel = arg('parallel', '16');
const PROMPTS = ['def fibonacci(n):', 'import os\n', 'class Stack:', 'def quicksort(xs):', '# read a CSV file\n'];

interface Outcome {
  ok: boolean;
  ttftMs: number;
  tokens: number;
}

interface Tally {
  outcomes: Outcome[];
  ms: number;
}

function startServer(): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/apr.ts', 'serve', model, '--port', '0', '--parallel', parallel, '--max-queue', String(clients * 2)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m?.[1]) resolve({ child, url: m[1] });
    });
    child.on('exit', (code) => reject(new Error(`apr serve exited with ${code}`)));
  });
}

/** Checks one SSE body; returns the completion tokens of its usage chunk, or -1 when malformed. */
function checkEvents(events: string[]): number {
  if (events.at(-1) !== '[DONE]') return -1;
  let finished = false;
  let tokens = -1;
  for (const e of events.slice(0, -1)) {
    const chunk = JSON.parse(e) as { choices?: { finish_reason: string | null }[]; usage?: { completion_tokens: number } };
    if (!Array.isArray(chunk.choices)) return -1;
    if (chunk.choices.some((c) => c.finish_reason === 'stop' || c.finish_reason === 'length')) finished = true;
    if (chunk.usage) tokens = chunk.usage.completion_tokens;
  }
  return finished ? tokens : -1;
}

async function oneRequest(url: string, k: number): Promise<Outcome> {
  const t0 = performance.now();
  const body = { prompt: PROMPTS[k % PROMPTS.length], max_tokens: maxTokens, temperature: 0.8, seed: k, stream: true, stream_options: { include_usage: true } };
  try {
    const r = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (r.status !== 200 || !r.body) return { ok: false, ttftMs: 0, tokens: 0 };
    let text = '';
    let ttftMs = 0;
    for await (const part of r.body.pipeThrough(new TextDecoderStream())) {
      if (ttftMs === 0) ttftMs = performance.now() - t0;
      text += part;
    }
    const events = text.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));
    const tokens = checkEvents(events);
    return { ok: tokens >= 0, ttftMs, tokens: Math.max(tokens, 0) };
  } catch {
    // a network or parse failure counts as a failed request
    return { ok: false, ttftMs: 0, tokens: 0 };
  }
}

async function load(url: string, workers: number, ms: number): Promise<Tally> {
  const outcomes: Outcome[] = [];
  const t0 = performance.now();
  let k = 0;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (performance.now() - t0 < ms) outcomes.push(await oneRequest(url, k++));
  }));
  return { outcomes, ms: performance.now() - t0 };
}

async function rssBytes(url: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^apr_process_resident_memory_bytes (\S+)$/m.exec(text)?.[1] ?? NaN);
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

interface Summary {
  requests: number;
  failed: number;
  requests_per_s: number;
  tokens_per_s: number;
  ttft_p50_ms: number;
  ttft_p99_ms: number;
}

function summary(t: Tally): Summary {
  const ok = t.outcomes.filter((o) => o.ok);
  const tokens = ok.reduce((a, o) => a + o.tokens, 0);
  const ttft = ok.map((o) => o.ttftMs);
  return {
    requests: t.outcomes.length,
    failed: t.outcomes.length - ok.length,
    requests_per_s: (ok.length * 1000) / t.ms,
    tokens_per_s: (tokens * 1000) / t.ms,
    ttft_p50_ms: quantile(ttft, 0.5),
    ttft_p99_ms: quantile(ttft, 0.99),
  };
}

async function main(): Promise<number> {
  const { child, url } = await startServer();
  try {
    const rss: number[] = [await rssBytes(url)];
    const timer = setInterval(() => void rssBytes(url).then((b) => rss.push(b)), 5000);
    const concurrent = summary(await load(url, clients, seconds * 1000));
    clearInterval(timer);
    rss.push(await rssBytes(url));
    const sequential = summary(await load(url, 1, seqSeconds * 1000));
    const mib = (b: number): number => Math.round(b / 2 ** 20);
    const memory = { rss_start_mib: mib(rss[0] ?? NaN), rss_after_warmup_mib: mib(rss[Math.min(2, rss.length - 1)] ?? NaN), rss_max_mib: mib(Math.max(...rss)), rss_end_mib: mib(rss.at(-1) ?? NaN) };
    const result = { model, clients, seconds, max_tokens: maxTokens, parallel: Number(parallel), concurrent, sequential, batching_gain: concurrent.tokens_per_s / sequential.tokens_per_s, memory };
    process.stdout.write(`${process.argv.includes('--json') ? JSON.stringify(result, null, 2) : report(result)}\n`);
    return concurrent.failed + sequential.failed === 0 ? 0 : 1;
  } finally {
    child.kill('SIGTERM');
  }
}

function report(r: { clients: number; concurrent: Summary; sequential: Summary; batching_gain: number; memory: Record<string, number> }): string {
  const c = r.concurrent;
  const s = r.sequential;
  const f = (x: number): string => x.toFixed(1);
  return [
    `${r.clients} streaming clients: ${c.requests} requests, ${c.failed} failed, ${f(c.requests_per_s)} req/s, ${f(c.tokens_per_s)} tok/s aggregate, TTFT p50 ${f(c.ttft_p50_ms)} ms, p99 ${f(c.ttft_p99_ms)} ms`,
    `one at a time: ${s.requests} requests, ${s.failed} failed, ${f(s.tokens_per_s)} tok/s, TTFT p50 ${f(s.ttft_p50_ms)} ms; batching gain ×${r.batching_gain.toFixed(2)}`,
    `server RSS: start ${r.memory['rss_start_mib']} MiB, after warm-up ${r.memory['rss_after_warmup_mib']} MiB, max ${r.memory['rss_max_mib']} MiB, end ${r.memory['rss_end_mib']} MiB`,
  ].join('\n');
}

process.exitCode = await main();

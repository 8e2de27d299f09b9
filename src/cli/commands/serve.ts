import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { openModel } from '../../formats/open.js';
import { createSession } from '../../model/session.js';
import { serveSession } from '../../serve/index.js';
import { specialTokenVariables } from '../../tokenizer/special-tokens.js';
import { CliError } from '../output.js';
import { intOption } from '../program.js';
import { addBatchFlags, type BatchFlags, engineOptions, usageError } from './batch-flags.js';

interface ServeFlags extends BatchFlags {
  host: string;
  port: number;
  apiKey?: string;
  ctx?: number;
  maxQueue: number;
  chatTemplate?: string;
  threads?: number;
  backend?: 'auto' | 'webgpu' | 'cpu';
}

const SERVE_HELP = `
Endpoints (OpenAI's API): GET /v1/models, POST /v1/completions, POST /v1/chat/completions (the model's chat
template, or --chat-template), GET /health (never needs the key), GET /metrics (Prometheus text: requests,
tokens, queue length, active sequences, time-to-first-token and per-token latency histograms).
Request fields: max_tokens (max_completion_tokens), temperature (default 1; 0 = greedy, the same text as
apr run), top_p, top_k, seed (choice i of n uses seed + i), stop (strings, also across tokens), n, stream
(server-sent events ending with data: [DONE]; stream_options.include_usage), logprobs (completions: the
number of alternatives; chat: logprobs + top_logprobs). Answers carry usage and finish_reason stop / length.
Requests from all clients are decoded together (continuous batching, --parallel sequences at a time); up to
--max-queue more wait, beyond that a request gets 429. A client that disconnects has its sequences cancelled
at once. Errors are OpenAI-shaped JSON: 400 bad JSON / fields / a prompt longer than --ctx, 401 without the
key, 404 unknown model or path, 413 a body over 1 MiB, 429 busy. Ctrl-C / SIGTERM lets in-flight requests
finish, then exits 0.

Example:
  apr serve coder.apr --port 8080 --parallel 8 &
  curl -s localhost:8080/v1/chat/completions -H 'content-type: application/json' \\
    -d '{"messages":[{"role":"user","content":"def fib(n):"}],"max_tokens":32,"temperature":0}'`;

function chatTemplate(file: string | undefined, spec: Parameters<typeof specialTokenVariables>[0] | undefined): { source: string; variables: Record<string, string> } | undefined {
  if (file === undefined) return undefined;
  if (!existsSync(file)) throw new CliError(`--chat-template: no such file: ${file}`);
  return { source: readFileSync(file, 'utf8'), variables: spec ? specialTokenVariables(spec) : {} };
}

function checkFlags(f: ServeFlags): void {
  if (f.port < 0 || f.port > 65535) throw new CliError(`--port must be in 0..65535, got ${f.port}`);
  if (f.ctx !== undefined && f.ctx < 2) throw new CliError(`--ctx must be ≥ 2, got ${f.ctx}`);
  if (f.maxQueue < 0) throw new CliError(`--max-queue must be ≥ 0, got ${f.maxQueue}`);
  if (f.threads !== undefined && f.threads < 1) throw new CliError(`--threads must be ≥ 1, got ${f.threads}`);
  if (f.backend !== undefined && !['auto', 'webgpu', 'cpu'].includes(f.backend)) throw new CliError(`--backend must be auto, webgpu or cpu, got '${f.backend}'`);
}

/** Resolves when a SIGINT / SIGTERM has closed the server. */
function closeOnSignal(close: () => Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const stop = (signal: string): void => {
      process.stderr.write(`apr serve: ${signal}: finishing in-flight requests, then exiting\n`);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void close().then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

async function serveAction(path: string, f: ServeFlags): Promise<void> {
  checkFlags(f);
  const engine = engineOptions(f);
  const bundle = openModel(path, { verifyFooter: true });
  const template = chatTemplate(f.chatTemplate, bundle.tokenizer);
  const session = createSession(bundle, { ...(f.threads !== undefined ? { threads: f.threads } : {}), ...(f.backend !== undefined ? { backend: f.backend } : {}) });
  const maxCtx = session.model.config.max_position_embeddings;
  if (f.ctx !== undefined && f.ctx > maxCtx) throw new CliError(`--ctx ${f.ctx} exceeds the model's context of ${maxCtx} positions`);
  const server = await serveSession(session, {
    ...engine,
    host: f.host,
    port: f.port,
    maxQueue: f.maxQueue,
    ...(f.ctx !== undefined ? { contextLength: f.ctx } : {}),
    ...(f.apiKey !== undefined ? { apiKey: f.apiKey } : {}),
    ...(template ? { chatTemplate: template } : {}),
  }).catch(usageError);
  process.stderr.write(`apr serve: ${session.path} on ${session.model.backend}, loaded in ${session.loadMs.toFixed(0)} ms${f.apiKey !== undefined ? ', API key required' : ''}\n`);
  process.stdout.write(`listening on ${server.url}\n`);
  await closeOnSignal(() => server.close());
  session.model.dispose();
}

export function registerServe(program: Command): void {
  const cmd = program
    .command('serve')
    .description('an OpenAI-compatible HTTP server: /v1/completions, /v1/chat/completions (SSE streaming), /v1/models, /health, /metrics')
    .argument('<model>', 'model file or folder (APR, GGUF, SafeTensors, Hugging Face folder)')
    .option('--host <host>', 'address to bind (use 0.0.0.0 to accept other machines)', '127.0.0.1')
    .option('--port <n>', 'TCP port (0 = any free port; the address is printed when listening)', intOption('--port'), 8080)
    .option('--api-key <key>', 'require "Authorization: Bearer <key>" on every endpoint but /health')
    .option('--ctx <n>', 'positions per sequence, prompt + generated tokens (default min(model context, 2048))', intOption('--ctx'))
    .option('--max-queue <n>', 'requests that may wait for a decoding slot; more get 429', intOption('--max-queue'), 64)
    .option('--chat-template <file>', 'Jinja chat template to use instead of the model\'s (messages, add_generation_prompt, bos_token, eos_token)')
    .option('--threads <n>', 'CPU threads for matrix products (default min(cores, 8))', intOption('--threads'))
    .option('--backend <kind>', 'compute backend: auto, webgpu or cpu (default cpu)');
  addBatchFlags(cmd, 'serving').addHelpText('after', SERVE_HELP).action(serveAction);
}

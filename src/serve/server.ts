/**
 * The OpenAI-compatible HTTP server on node:http: routing, the API key, body limits, error bodies, client
 * disconnects (they cancel the request's sequences) and a graceful close (in-flight requests finish first).
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { Tokenizer } from '../tokenizer/index.js';
import type { ChatFormatter } from './chat.js';
import { type EndpointContext, handleChat, handleCompletions } from './endpoints.js';
import type { CompletionEngine } from './engine.js';
import { QueueFullError } from './engine.js';
import { ApiError, badRequest, busy, notFound, toApiError, tooLarge, unauthorized } from './errors.js';
import type { Usage } from './job.js';
import { type ServerMetrics, createMetrics } from './metrics.js';

export interface ServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  apiKey?: string;
  modelId: string;
  aliases?: readonly string[];
  engine: CompletionEngine;
  tokenizer: Tokenizer;
  chat: ChatFormatter;
  /** Largest request body (default 1 MiB); larger ones get 413. */
  maxBodyBytes?: number;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly metrics: ServerMetrics;
  /** Stops accepting connections, lets in-flight requests finish, then closes the engine. */
  close(): Promise<void>;
}

const DEFAULT_MAX_BODY = 1 << 20;

type Handler = (ctx: EndpointContext, raw: unknown, res: ServerResponse, signal: AbortSignal) => Promise<Usage>;

const POST_ROUTES: Readonly<Record<string, Handler>> = { '/v1/completions': handleCompletions, '/v1/chat/completions': handleChat };

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function authorized(req: IncomingMessage, key: string | undefined): boolean {
  if (key === undefined) return true;
  const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
  const given = Buffer.from(m?.[1]?.trim() ?? '');
  const want = Buffer.from(key);
  return given.length === want.length && timingSafeEqual(given, want);
}

function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (Number(req.headers['content-length'] ?? 0) > limit) {
      req.resume();
      return reject(tooLarge(limit));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= limit) chunks.push(c);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > limit) return reject(tooLarge(limit));
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (err) {
        reject(badRequest(`the body is not valid JSON (${(err as Error).message})`, null, 'invalid_json'));
      }
    });
  });
}

class ApiServer {
  readonly metrics: ServerMetrics;
  private readonly ctx: EndpointContext;
  private readonly inFlight = new Set<Promise<void>>();
  readonly http: Server;

  constructor(private readonly opts: ServerOptions) {
    this.metrics = createMetrics(opts.engine);
    this.ctx = { engine: opts.engine, tokenizer: opts.tokenizer, metrics: this.metrics, modelId: opts.modelId, chat: opts.chat, aliases: opts.aliases ?? [] };
    this.http = createServer((req, res) => {
      const p = this.handle(req, res);
      this.inFlight.add(p);
      void p.finally(() => this.inFlight.delete(p));
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    const ac = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ac.abort(new Error('client disconnected'));
    });
    try {
      await this.route(req.method ?? 'GET', path, req, res, ac.signal);
    } catch (err) {
      const e = err instanceof QueueFullError ? busy(err.waiting) : toApiError(err);
      if (e.status === 413) res.setHeader('connection', 'close');
      if (!ac.signal.aborted) sendJson(res, e.status, e.body());
    } finally {
      this.metrics.request(this.endpointLabel(path), ac.signal.aborted ? 499 : res.statusCode);
    }
  }

  private endpointLabel(path: string): string {
    return ['/health', '/metrics', '/v1/models', ...Object.keys(POST_ROUTES)].includes(path) ? path : 'other';
  }

  private async route(method: string, path: string, req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const e = this.opts.engine;
    if (path === '/health' && method === 'GET') return sendJson(res, 200, { status: 'ok', slots: e.slots, active: e.activeCount(), queued: e.queueLength() });
    if (!authorized(req, this.opts.apiKey)) throw unauthorized();
    if (path === '/metrics' && method === 'GET') {
      const text = await this.metrics.text();
      return void res.writeHead(200, { 'content-type': this.metrics.registry.contentType }).end(text);
    }
    if (path === '/v1/models' && method === 'GET') return sendJson(res, 200, { object: 'list', data: [this.modelCard()] });
    if (path === `/v1/models/${this.opts.modelId}` && method === 'GET') return sendJson(res, 200, this.modelCard());
    const handler = POST_ROUTES[path];
    if (handler === undefined) throw notFound(`${method} ${path}`);
    if (method !== 'POST') throw new ApiError(405, `${path} takes POST`, 'invalid_request_error', null, 'method_not_allowed');
    const raw = await readBody(req, this.opts.maxBodyBytes ?? DEFAULT_MAX_BODY);
    const usage = await handler(this.ctx, raw, res, signal);
    this.metrics.tokens(usage.prompt_tokens, usage.completion_tokens);
  }

  private modelCard(): Record<string, unknown> {
    return { id: this.opts.modelId, object: 'model', created: 0, owned_by: 'apr', context_length: this.opts.engine.contextLength };
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
    this.http.closeIdleConnections();
    await Promise.allSettled([...this.inFlight]);
    this.http.closeAllConnections();
    await closed;
    this.opts.engine.close();
  }
}

/** Starts listening; resolves once the port is bound. */
export async function startServer(opts: ServerOptions): Promise<RunningServer> {
  const s = new ApiServer(opts);
  await new Promise<void>((resolve, reject) => {
    s.http.once('error', reject);
    s.http.listen(opts.port, opts.host, () => {
      s.http.off('error', reject);
      resolve();
    });
  });
  const addr = s.http.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return { url: `http://${host}:${addr.port}`, port: addr.port, metrics: s.metrics, close: () => s.close() };
}

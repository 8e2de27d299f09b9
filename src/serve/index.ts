/**
 * `apr serve`: an OpenAI-compatible server over a loaded session. Requests from all clients are decoded
 * together by the continuous-batching engine; see server.ts for the HTTP side.
 */
import { basename, extname } from 'node:path';
import type { Session } from '../model/session.js';
import { type CustomTemplate, createChatFormatter } from './chat.js';
import { type CompletionEngine, type EngineOptions, createBatchCompletionEngine } from './engine.js';
import { type RunningServer, startServer } from './server.js';

export type { RunningServer } from './server.js';
export type { CompletionEngine, EngineRequest, EngineHooks, EngineResult } from './engine.js';

export interface ServeOptions extends EngineOptions {
  host?: string;
  port?: number;
  apiKey?: string;
  /** A Jinja chat template to use instead of the model's. */
  chatTemplate?: CustomTemplate;
  /** The id /v1/models reports (default: the model file's name without its extension). */
  modelId?: string;
  maxBodyBytes?: number;
  /** Another engine than the batched one (tests). */
  engine?: CompletionEngine;
}

/** The id a model file is served under: `tiny-coder-llama-f32` for `../x/tiny-coder-llama-f32.gguf`. */
function modelIdOf(path: string): string {
  const name = basename(path.replace(/[/\\]+$/, ''));
  return name.slice(0, name.length - extname(name).length) || name;
}

/** Starts serving `session` (the engine becomes the model's only user until the server is closed). */
export function serveSession(session: Session, opts: ServeOptions = {}): Promise<RunningServer> {
  const engine = opts.engine ?? createBatchCompletionEngine(session.model, opts);
  return startServer({
    host: opts.host ?? '127.0.0.1',
    port: opts.port ?? 8080,
    ...(opts.apiKey !== undefined ? { apiKey: opts.apiKey } : {}),
    ...(opts.maxBodyBytes !== undefined ? { maxBodyBytes: opts.maxBodyBytes } : {}),
    modelId: opts.modelId ?? modelIdOf(session.path),
    aliases: [session.path],
    engine,
    tokenizer: session.tokenizer,
    chat: createChatFormatter(session.tokenizer, opts.chatTemplate),
  });
}

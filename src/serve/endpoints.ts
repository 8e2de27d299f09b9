/** POST /v1/completions and POST /v1/chat/completions: request to job, results to OpenAI's shapes. */
import type { ServerResponse } from 'node:http';
import type { ChatFormatter } from './chat.js';
import { ApiError, badRequest } from './errors.js';
import type { ChoiceDelta, ChoiceResult, LogprobEntry } from './generation.js';
import { type Meta, type ResponseShape, type ServeContext, type Usage, runJob } from './job.js';
import { ChatSchema, CompletionSchema, type CompletionBody, parseBody } from './schemas.js';

export interface EndpointContext extends ServeContext {
  chat: ChatFormatter;
  /** Names the model answers to besides `modelId` (its path). */
  aliases: readonly string[];
}

function checkModel(ctx: EndpointContext, model: string | undefined): void {
  if (model === undefined || model === ctx.modelId || ctx.aliases.includes(model)) return;
  throw new ApiError(404, `The model '${model}' does not exist; this server serves '${ctx.modelId}'`, 'not_found_error', 'model', 'model_not_found');
}

function promptIds(ctx: EndpointContext, prompt: CompletionBody['prompt']): number[][] {
  if (typeof prompt === 'string') return [ctx.tokenizer.encode(prompt, { addSpecialTokens: true })];
  if (prompt.every((p): p is string => typeof p === 'string')) return prompt.map((p) => ctx.tokenizer.encode(p, { addSpecialTokens: true }));
  const ids = prompt.filter((p): p is number => typeof p === 'number');
  const vocab = ctx.tokenizer.vocabSize;
  if (ids.some((id) => id >= vocab)) throw badRequest(`prompt: token ids must be below the vocabulary size ${vocab}`, 'prompt', 'invalid_value');
  return [ids];
}

/** The legacy completions `logprobs` object; offsets count from `offset` (the text already sent). */
function legacyLogprobs(entries: readonly LogprobEntry[] | undefined, offset: number): unknown {
  if (entries === undefined) return null;
  let at = offset;
  const text_offset = entries.map((e) => {
    const here = at;
    at += e.token.length;
    return here;
  });
  return {
    tokens: entries.map((e) => e.token),
    token_logprobs: entries.map((e) => e.logprob),
    top_logprobs: entries.map((e) => Object.fromEntries(e.top.map((t) => [t.token, t.logprob]))),
    text_offset,
  };
}

function completionShape(withLogprobs: boolean): ResponseShape {
  const offsets = new Map<number, number>();
  const head = (m: Meta): Record<string, unknown> => ({ id: m.id, object: 'text_completion', created: m.created, model: m.model });
  return {
    chunk(m, index, d: ChoiceDelta) {
      const offset = offsets.get(index) ?? 0;
      offsets.set(index, offset + d.logprobs.reduce((a, e) => a + e.token.length, 0));
      return { ...head(m), choices: [{ index, text: d.text, logprobs: withLogprobs ? legacyLogprobs(d.logprobs, offset) : null, finish_reason: null }] };
    },
    finish: (m, index, reason) => ({ ...head(m), choices: [{ index, text: '', logprobs: null, finish_reason: reason }] }),
    usage: (m, usage: Usage) => ({ ...head(m), choices: [], usage }),
    response: (m, choices: readonly ChoiceResult[], usage) => ({
      ...head(m),
      choices: choices.map((c, index) => ({ index, text: c.text, logprobs: legacyLogprobs(c.logprobs, 0), finish_reason: c.finishReason })),
      usage,
    }),
  };
}

function chatLogprobs(entries: readonly LogprobEntry[] | undefined): unknown {
  if (entries === undefined) return null;
  return { content: entries.map((e) => ({ token: e.token, logprob: e.logprob, bytes: e.bytes, top_logprobs: e.top })), refusal: null };
}

function chatShape(withLogprobs: boolean): ResponseShape {
  const head = (m: Meta): Record<string, unknown> => ({ id: m.id, object: 'chat.completion.chunk', created: m.created, model: m.model, system_fingerprint: null });
  return {
    chunk(m, index, d, first) {
      const delta = first ? { role: 'assistant', content: d.text } : { content: d.text };
      return { ...head(m), choices: [{ index, delta, logprobs: withLogprobs ? chatLogprobs(d.logprobs) : null, finish_reason: null }] };
    },
    finish: (m, index, reason) => ({ ...head(m), choices: [{ index, delta: {}, logprobs: null, finish_reason: reason }] }),
    usage: (m, usage) => ({ ...head(m), choices: [], usage }),
    response: (m, choices, usage) => ({
      ...head(m),
      object: 'chat.completion',
      choices: choices.map((c, index) => ({
        index,
        message: { role: 'assistant', content: c.text, refusal: null },
        logprobs: chatLogprobs(c.logprobs),
        finish_reason: c.finishReason,
      })),
      usage,
    }),
  };
}

export function handleCompletions(ctx: EndpointContext, raw: unknown, res: ServerResponse, signal: AbortSignal): Promise<Usage> {
  const body = parseBody(CompletionSchema, raw);
  checkModel(ctx, body.model);
  const topLogprobs = body.logprobs ?? undefined;
  const job = { prompts: promptIds(ctx, body.prompt), body, defaultMaxTokens: 16, topLogprobs, idPrefix: 'cmpl', promptParam: 'prompt' as const };
  return runJob(ctx, job, completionShape(topLogprobs !== undefined), res, signal);
}

export function handleChat(ctx: EndpointContext, raw: unknown, res: ServerResponse, signal: AbortSignal): Promise<Usage> {
  const parsed = parseBody(ChatSchema, raw);
  checkModel(ctx, parsed.model);
  const body = { ...parsed, max_tokens: parsed.max_tokens ?? parsed.max_completion_tokens };
  const topLogprobs = body.logprobs ? (body.top_logprobs ?? 0) : undefined;
  const job = { prompts: [ctx.chat(body.messages)], body, defaultMaxTokens: undefined, topLogprobs, idPrefix: 'chatcmpl', promptParam: 'messages' as const };
  return runJob(ctx, job, chatShape(topLogprobs !== undefined), res, signal);
}

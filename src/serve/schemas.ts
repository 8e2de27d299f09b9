/** Request bodies of the OpenAI API as this server accepts them (zod; unknown keys are ignored). */
import { z } from 'zod';
import { badRequest, type ApiError } from './errors.js';

const stop = z.union([z.string().min(1), z.array(z.string().min(1)).max(16)]).nullish();

const common = {
  model: z.string().optional(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  top_k: z.number().int().min(0).nullish(),
  seed: z.number().int().nullish(),
  stop,
  n: z.number().int().min(1).max(16).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.number().int().min(0).nullish(),
  user: z.string().optional(),
};

export const CompletionSchema = z.object({
  ...common,
  prompt: z.union([z.string(), z.array(z.string()).min(1).max(64), z.array(z.number().int().min(0)).min(1)]),
  logprobs: z.number().int().min(0).max(20).nullish(),
  echo: z.literal(false).nullish(),
});

const textPart = z.object({ type: z.literal('text'), text: z.string() });

const MessageSchema = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(textPart)]).nullish(),
  name: z.string().optional(),
});

export const ChatSchema = z.object({
  ...common,
  messages: z.array(MessageSchema).min(1),
  max_completion_tokens: z.number().int().min(0).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().min(0).max(20).nullish(),
});

export type CompletionBody = z.output<typeof CompletionSchema>;
export type ChatBody = z.output<typeof ChatSchema>;
export type CommonBody = Pick<CompletionBody, keyof typeof common>;

/** Parses a body, or an OpenAI-shaped 400 naming the first bad field. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the request body must be a JSON object');
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const param = issue && issue.path.length > 0 ? issue.path.join('.') : null;
  const err: ApiError = badRequest(`${param ?? 'body'}: ${issue?.message ?? 'invalid request'}`, param, 'invalid_value');
  throw err;
}

/** Stop strings as a list. */
export function stopList(s: CommonBody['stop']): string[] {
  if (s === undefined || s === null) return [];
  return typeof s === 'string' ? [s] : s;
}

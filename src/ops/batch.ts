import { z } from 'zod';
import { defineContract } from '../contract/index.js';
import type { Session } from '../model/session.js';
import { type RunOptions, runPrompt } from './generate.js';

/** One line of a --batch-jsonl file. Unknown keys are kept out of the options (and ignored). */
const BatchLineSchema = z.object({
  prompt: z.string().optional(),
  messages: z.array(z.object({ role: z.string(), content: z.string() })).optional(),
  task_id: z.union([z.string(), z.number()]).optional(),
  custom_id: z.union([z.string(), z.number()]).optional(),
  max_tokens: z.number().int().nonnegative().optional(),
  temperature: z.number().nonnegative().optional(),
  top_k: z.number().int().nonnegative().optional(),
  top_p: z.number().positive().max(1).optional(),
  seed: z.number().int().optional(),
});

type BatchLine = z.output<typeof BatchLineSchema>;

export interface BatchLineResult {
  line: number;
  task_id?: string | number;
  custom_id?: string | number;
  text?: string;
  tokens_generated?: number;
  tok_per_sec?: number;
  inference_ms?: number;
  error?: string;
}

export const batchContract = defineContract<{ lines: readonly string[] }, BatchLineResult[]>({
  id: 'op-run-batch-v1',
  equation: 'run_batch',
  spec: 'batch(L) = [run(l) or error(l) for l in L, blank lines skipped], in input order',
  pre: [['lines given', ({ lines }) => Array.isArray(lines)]],
  post: [
    ['one result per non-blank line, in order', ({ lines }, r) => {
      const expected = lines.map((l, i) => (l.trim() ? i + 1 : 0)).filter(Boolean);
      return r.length === expected.length && r.every((x, i) => x.line === expected[i]);
    }],
    ['each result has text or error', (_i, r) => r.every((x) => (x.text === undefined) !== (x.error === undefined))],
  ],
});

/** The line's task_id / custom_id, echoed on its result even when the rest of the line is invalid. */
function lineIds(parsed: unknown): Pick<BatchLineResult, 'task_id' | 'custom_id'> {
  const ids: Pick<BatchLineResult, 'task_id' | 'custom_id'> = {};
  if (typeof parsed !== 'object' || parsed === null) return ids;
  const p = parsed as Record<string, unknown>;
  const id = (v: unknown): string | number | undefined => (typeof v === 'string' || typeof v === 'number' ? v : undefined);
  const task = id(p['task_id']), custom = id(p['custom_id']);
  if (task !== undefined) ids.task_id = task;
  if (custom !== undefined) ids.custom_id = custom;
  return ids;
}

/** The line's overrides of the batch defaults (chat history, sampling settings). */
function lineOptions(defaults: RunOptions, prompt: string, l: BatchLine): RunOptions {
  const opts: RunOptions = { ...defaults, prompt };
  if (l.messages) {
    opts.history = l.messages.slice(0, -1);
    opts.chat = true;
  }
  if (l.max_tokens !== undefined) opts.maxTokens = l.max_tokens;
  if (l.temperature !== undefined) opts.temperature = l.temperature;
  if (l.top_k !== undefined) opts.topK = l.top_k;
  if (l.top_p !== undefined) opts.topP = l.top_p;
  if (l.seed !== undefined) opts.seed = l.seed;
  return opts;
}

function runLine(session: Session, raw: string, lineNo: number, defaults: RunOptions, file: string): BatchLineResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    return { line: lineNo, error: `${file}:${lineNo}: invalid JSON (${(err as Error).message})` };
  }
  const r = BatchLineSchema.safeParse(parsed);
  const ids = lineIds(parsed);
  if (!r.success) {
    const issue = r.error.issues[0];
    return { line: lineNo, ...ids, error: `${file}:${lineNo}: ${issue?.path.join('.') || 'line'}: ${issue?.message ?? 'invalid'}` };
  }
  const l = r.data;
  const last = l.messages?.at(-1);
  const prompt = l.prompt ?? (last?.role === 'user' ? last.content : undefined);
  if (prompt === undefined) return { line: lineNo, ...ids, error: `${file}:${lineNo}: prompt: expected "prompt" or "messages" ending in a user turn` };
  try {
    const out = runPrompt(session, lineOptions(defaults, prompt, l));
    return { line: lineNo, ...ids, text: out.text, tokens_generated: out.tokens_generated, tok_per_sec: out.tok_per_sec, inference_ms: out.inference_ms };
  } catch (err) {
    return { line: lineNo, ...ids, error: `${file}:${lineNo}: ${(err as Error).message}` };
  }
}

/**
 * `apr run --batch-jsonl`: one result per prompt line, in input order, with the model loaded once. A bad
 * line yields `{error}` for that line and the batch goes on. `onResult` sees each result as it is ready.
 */
export function runBatch(session: Session, lines: readonly string[], defaults: RunOptions, file: string, onResult?: (r: BatchLineResult) => void): BatchLineResult[] {
  return batchContract.run({ lines }, () => {
    const out: BatchLineResult[] = [];
    lines.forEach((raw, i) => {
      if (!raw.trim()) return;
      const r = runLine(session, raw, i + 1, defaults, file);
      out.push(r);
      onResult?.(r);
    });
    return out;
  });
}

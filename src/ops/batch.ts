import { z } from 'zod';
import { defineContract } from '../contract/index.js';
import { BatchEngine, type BatchEngineOptions, type BatchRequest } from '../model/batch-decoder.js';
import { fitContext } from '../model/generate.js';
import type { SamplingOptions } from '../model/sampling.js';
import type { Session } from '../model/session.js';
import { promptTokenIds } from '../tokenizer/index.js';
import type { RunOptions } from './generate.js';

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

/** The line's overrides of the batch defaults (chat history, sampling settings); its warnings name `where`. */
function lineOptions(defaults: RunOptions, prompt: string, l: BatchLine, where: string): RunOptions {
  const opts: RunOptions = { ...defaults, prompt };
  const warn = defaults.onWarning;
  if (warn) opts.onWarning = (message) => warn(`${where}: ${message}`);
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

function samplingOf(o: RunOptions): SamplingOptions {
  const { temperature, topK, topP, minP, repetitionPenalty, seed } = o;
  return { temperature, topK, topP, minP, repetitionPenalty, seed };
}

/** A non-blank line: its ids and either a request for the engine or the error that replaces its result. */
type ParsedLine = { line: number; ids: Pick<BatchLineResult, 'task_id' | 'custom_id'> } & ({ request: BatchRequest } | { error: string });

function parseLine(session: Session, raw: string, lineNo: number, defaults: RunOptions, file: string): ParsedLine {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    return { line: lineNo, ids: {}, error: `${file}:${lineNo}: invalid JSON (${(err as Error).message})` };
  }
  const r = BatchLineSchema.safeParse(parsed);
  const ids = lineIds(parsed);
  if (!r.success) {
    const issue = r.error.issues[0];
    return { line: lineNo, ids, error: `${file}:${lineNo}: ${issue?.path.join('.') || 'line'}: ${issue?.message ?? 'invalid'}` };
  }
  const l = r.data;
  const last = l.messages?.at(-1);
  const prompt = l.prompt ?? (last?.role === 'user' ? last.content : undefined);
  if (prompt === undefined) return { line: lineNo, ids, error: `${file}:${lineNo}: prompt: expected "prompt" or "messages" ending in a user turn` };
  try {
    const opts = lineOptions(defaults, prompt, l, `${file}:${lineNo}`);
    const promptIds = promptTokenIds(session.tokenizer, opts);
    if (promptIds.length === 0) promptIds.push(session.tokenizer.bosTokenId ?? session.tokenizer.eosTokenId ?? 0);
    // as runPrompt: prompt + generated tokens stay within the model's context
    const fit = fitContext(promptIds.length, opts.maxTokens, session.model.config.max_position_embeddings);
    if (fit.warning !== undefined) opts.onWarning?.(fit.warning);
    return { line: lineNo, ids, request: { ...samplingOf(opts), promptIds, maxTokens: fit.maxTokens, stopTokens: session.tokenizer.stopTokenIds } };
  } catch (err) {
    return { line: lineNo, ids, error: `${file}:${lineNo}: ${(err as Error).message}` };
  }
}

async function generateLine(engine: BatchEngine, session: Session, p: ParsedLine, file: string): Promise<BatchLineResult> {
  if ('error' in p) return { line: p.line, ...p.ids, error: p.error };
  try {
    const r = await engine.enqueue(p.request);
    const text = session.tokenizer.decode(r.ids, { skipSpecialTokens: true });
    return { line: p.line, ...p.ids, text, tokens_generated: r.ids.length, tok_per_sec: r.timing.decodeTokPerSec, inference_ms: r.timing.totalMs };
  } catch (err) {
    return { line: p.line, ...p.ids, error: `${file}:${p.line}: ${(err as Error).message}` };
  }
}

/** Positions a slot needs: the longest prompt plus its max tokens. */
function contextFor(parsed: readonly ParsedLine[]): number {
  return parsed.reduce((m, p) => ('request' in p ? Math.max(m, p.request.promptIds.length + p.request.maxTokens) : m), 1);
}

/**
 * `apr run --batch-jsonl`: one result per prompt line, in input order, with the model loaded once. The
 * prompts go through the continuous-batching engine (`engine`: --parallel, --kv-budget), up to `slots` of
 * them decoded together; each sequence's tokens are what `apr run` alone gives for that line. A bad line
 * yields `{error}` for that line and the batch goes on. `onResult` sees each result as soon as it and every
 * result before it are done (so a stream of lines stays in input order).
 */
export async function runBatch(session: Session, lines: readonly string[], defaults: RunOptions, file: string, onResult?: (r: BatchLineResult) => void, engine: BatchEngineOptions = {}): Promise<BatchLineResult[]> {
  const parsed = lines.flatMap((raw, i) => (raw.trim() ? [parseLine(session, raw, i + 1, defaults, file)] : []));
  const results: (BatchLineResult | undefined)[] = parsed.map(() => undefined);
  let flushed = 0;
  const flush = (): void => {
    for (let r = results[flushed]; r !== undefined; r = results[++flushed]) onResult?.(r);
  };
  const eng = new BatchEngine(session.model, { contextLength: contextFor(parsed), ...engine });
  try {
    await Promise.all(parsed.map(async (p, k) => {
      results[k] = await generateLine(eng, session, p, file);
      flush();
    }));
  } finally {
    eng.close();
  }
  return batchContract.run({ lines }, () => results.filter((r): r is BatchLineResult => r !== undefined));
}

/** The eval stage's results JSON in upstream's shape (eval-pass-at-k.sh), made from `apr eval --json`. */
import { z } from 'zod';

const evalJson = z.object({
  model: z.string().nullable().optional(),
  config: z.object({
    n_samples: z.number(),
    temperature: z.number(),
    prompt_strategy: z.string(),
    timeout_ms: z.number(),
    workers: z.number(),
  }).loose(),
  results: z.object({ total: z.number(), passed: z.number(), pass_at_1: z.number(), pass_at_k: z.record(z.string(), z.number()) }).loose(),
  problems: z.array(z.object({
    task_id: z.string(),
    n: z.number(),
    c: z.number(),
    samples: z.array(z.object({ status: z.string() }).loose()).optional(),
  }).loose()),
}).loose();

export interface UpstreamResults {
  benchmark: string;
  model: string;
  timestamp: string | null;
  config: { max_tokens: number; effective_max_tokens: number; temperature: number; num_samples: number; prompt_strategy: string; workers: number; timeout_seconds: number };
  results: { total: number; completed: number; passed: number; errors: number; pass_at_1: number; pass_at_10: number | null; pass_at_k: Record<string, number> };
  problems: { task_id: string; n: number; passed: number }[];
}

/** Percent with two decimals, as upstream reports pass@k. */
const percent = (x: number): number => Math.round(x * 10000) / 100;

/** The time of the run only from SOURCE_DATE_EPOCH (results stay byte-reproducible otherwise). */
function timestamp(): string | null {
  const epoch = process.env['SOURCE_DATE_EPOCH'];
  return epoch !== undefined && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000).toISOString().replace('.000Z', '+00:00') : null;
}

/**
 * Upstream's result shape: pass_at_1 / pass_at_10 in percent (null when not computed), `pass_at_k` with
 * apr eval's own fractions; `passed` counts problems with a passing sample, `errors` problems whose samples
 * all errored; per problem `passed` = passing samples (upstream's TSV column).
 */
export function upstreamResults(stdout: string, benchmark: string, model: string, maxTokens: number): UpstreamResults {
  const r = evalJson.parse(JSON.parse(stdout));
  const errored = r.problems.filter((p) => (p.samples ?? []).length > 0 && (p.samples ?? []).every((s) => s.status === 'error' || s.status === 'timeout'));
  const at10 = r.results.pass_at_k['10'];
  return {
    benchmark,
    model,
    timestamp: timestamp(),
    config: {
      max_tokens: maxTokens,
      effective_max_tokens: maxTokens,
      temperature: r.config.temperature,
      num_samples: r.config.n_samples,
      prompt_strategy: r.config.prompt_strategy,
      workers: r.config.workers,
      timeout_seconds: r.config.timeout_ms / 1000,
    },
    results: {
      total: r.results.total,
      completed: r.problems.length,
      passed: r.problems.filter((p) => p.c > 0).length,
      errors: errored.length,
      pass_at_1: percent(r.results.pass_at_1),
      pass_at_10: at10 === undefined ? null : percent(at10),
      pass_at_k: r.results.pass_at_k,
    },
    problems: r.problems.map((p) => ({ task_id: p.task_id, n: p.n, passed: p.c })),
  };
}

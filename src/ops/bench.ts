import { defineContract } from '../contract/index.js';
import { generate } from '../model/generate.js';
import type { Session } from '../model/session.js';
import { checkSameTokenizer, speculativeGenerate } from '../model/speculative.js';

export interface BenchOptions {
  promptTokens: number;
  genTokens: number;
  iterations: number;
  /** Also time speculative decoding (greedy) with this draft. */
  speculative?: { draft: Session; k: number };
}

export interface BenchSpeculativeFigures {
  tokens_per_second: number;
  /** Plain decode time / speculative decode time for the same tokens. */
  speedup: number;
  acceptance_rate: number;
  /** Speculative greedy ids equal plain greedy ids. */
  outputs_identical: boolean;
}

export interface BenchIteration {
  prefill_tokens_per_second: number;
  tokens_per_second: number;
  time_to_first_token_ms: number;
  decode_ms: number;
  speculative?: BenchSpeculativeFigures;
}

export interface BenchReport {
  benchmark: 'throughput';
  model: string;
  backend: string;
  config: { prompt_tokens: number; gen_tokens: number; iterations: number; speculation_k?: number; draft_model?: string };
  /** Medians over the iterations; peak_rss_mb is the process's maximum resident set. */
  results: {
    tokens_per_second: number;
    prefill_tokens_per_second: number;
    time_to_first_token_ms: number;
    peak_rss_mb: number;
    speculative?: BenchSpeculativeFigures;
  };
  iterations: BenchIteration[];
}

interface Input {
  session: Session;
  opts: BenchOptions;
}

const positiveInt = (n: number): boolean => Number.isInteger(n) && n >= 1;
const nonNegative = (n: number): boolean => Number.isFinite(n) && n >= 0;

export const benchContract = defineContract<Input, BenchReport>({
  id: 'op-bench-v1',
  equation: 'bench_throughput',
  spec: 'tok/s = tokens · 1000 / ms per phase; results = median over iterations; peak_rss = max RSS of the process',
  pre: [
    ['prompt tokens ≥ 1', ({ opts }) => positiveInt(opts.promptTokens)],
    ['gen tokens ≥ 1', ({ opts }) => positiveInt(opts.genTokens)],
    ['iterations ≥ 1', ({ opts }) => positiveInt(opts.iterations)],
    ['speculation k ≥ 1', ({ opts }) => opts.speculative === undefined || positiveInt(opts.speculative.k)],
  ],
  post: [
    ['one record per iteration', ({ opts }, r) => r.iterations.length === opts.iterations],
    ['figures finite and ≥ 0', (_i, r) => [r.results.tokens_per_second, r.results.prefill_tokens_per_second, r.results.time_to_first_token_ms, r.results.peak_rss_mb].every(nonNegative)],
    ['median within the iterations', (_i, r) => r.results.tokens_per_second >= Math.min(...r.iterations.map((i) => i.tokens_per_second)) && r.results.tokens_per_second <= Math.max(...r.iterations.map((i) => i.tokens_per_second))],
  ],
});

const FILLER = 'def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n\n\nclass Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, x):\n        self.items.append(x)\n';

/** A prompt of exactly `n` ids: Python source encoded by the model's tokenizer, repeated as needed. */
function benchPrompt(session: Session, n: number): number[] {
  const unit = session.tokenizer.encode(FILLER, { addSpecialTokens: false });
  if (unit.length === 0) throw new Error('the tokenizer encodes the benchmark prompt to no tokens');
  const ids: number[] = [];
  while (ids.length < n) ids.push(...unit);
  return ids.slice(0, n);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
}

const rate = (tokens: number, ms: number): number => (ms > 0 ? (tokens * 1000) / ms : 0);

function iteration(session: Session, prompt: number[], opts: BenchOptions): BenchIteration {
  // No stop tokens: every iteration generates exactly genTokens.
  const plain = generate(session.model, prompt, { maxTokens: opts.genTokens });
  const t = plain.timing;
  const decodeMs = t.totalMs - t.prefillMs;
  const it: BenchIteration = {
    prefill_tokens_per_second: t.prefillTokPerSec,
    tokens_per_second: t.decodeTokPerSec,
    time_to_first_token_ms: t.timeToFirstTokenMs,
    decode_ms: decodeMs,
  };
  if (!opts.speculative) return it;
  const spec = speculativeGenerate(session.model, opts.speculative.draft.model, prompt, { maxTokens: opts.genTokens, k: opts.speculative.k });
  // Same measure for both: generated tokens over the time after the prefill (the speculative prefill leaves
  // the last prompt token to the first verification pass, so this slightly favours plain decoding).
  return {
    ...it,
    speculative: {
      tokens_per_second: rate(spec.ids.length, spec.timing.decodeMs),
      speedup: spec.timing.decodeMs > 0 ? decodeMs / spec.timing.decodeMs : 0,
      acceptance_rate: spec.stats.acceptanceRate,
      outputs_identical: spec.ids.length === plain.ids.length && spec.ids.every((id, i) => id === plain.ids[i]),
    },
  };
}

function summarise(its: BenchIteration[]): BenchSpeculativeFigures | undefined {
  const specs = its.flatMap((i) => (i.speculative ? [i.speculative] : []));
  if (specs.length === 0) return undefined;
  return {
    tokens_per_second: median(specs.map((s) => s.tokens_per_second)),
    speedup: median(specs.map((s) => s.speedup)),
    acceptance_rate: median(specs.map((s) => s.acceptance_rate)),
    outputs_identical: specs.every((s) => s.outputs_identical),
  };
}

/** `apr bench`: prefill and decode throughput, time to first token and peak memory, over several iterations. */
export function benchThroughput(session: Session, modelPath: string, opts: BenchOptions): BenchReport {
  return benchContract.run({ session, opts }, () => {
    if (opts.speculative) checkSameTokenizer(session.tokenizer, opts.speculative.draft.tokenizer, opts.speculative.draft.path);
    const prompt = benchPrompt(session, opts.promptTokens);
    // Warm-up (JIT, scratch buffers), not recorded.
    generate(session.model, prompt.slice(0, Math.min(prompt.length, 8)), { maxTokens: 2 });
    const its: BenchIteration[] = [];
    for (let i = 0; i < opts.iterations; i++) its.push(iteration(session, prompt, opts));
    const spec = summarise(its);
    return {
      benchmark: 'throughput',
      model: modelPath,
      backend: session.model.backend,
      config: {
        prompt_tokens: opts.promptTokens,
        gen_tokens: opts.genTokens,
        iterations: opts.iterations,
        ...(opts.speculative ? { speculation_k: opts.speculative.k, draft_model: opts.speculative.draft.path } : {}),
      },
      results: {
        tokens_per_second: median(its.map((i) => i.tokens_per_second)),
        prefill_tokens_per_second: median(its.map((i) => i.prefill_tokens_per_second)),
        time_to_first_token_ms: median(its.map((i) => i.time_to_first_token_ms)),
        peak_rss_mb: process.resourceUsage().maxRSS / 1024,
        ...(spec ? { speculative: spec } : {}),
      },
      iterations: its,
    };
  });
}

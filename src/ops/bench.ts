import { defineContract } from '../contract/index.js';
import { decodeWeightBytes, readBandwidth } from '../eval/bandwidth.js';
import { generate } from '../model/generate.js';
import type { Session } from '../model/session.js';
import { checkSameTokenizer, draftPMinFor } from '../model/speculative.js';
import type { ModelBundle } from '../tensor/bundle.js';
import { runPrompt } from './generate.js';
import { runSpeculative } from './speculative.js';

export interface BenchOptions {
  promptTokens: number;
  genTokens: number;
  iterations: number;
  /** Also time speculative decoding (greedy) with this draft, as `apr run --speculative` does. */
  speculative?: { draft: Session; k: number; draftPMin?: number };
  /** The model's bundle: on a CPU backend, report the memory-bandwidth bound on decode (weights per token ÷ read bandwidth). */
  bundle?: ModelBundle;
}

/** Decode against the memory-bandwidth bound, measured as bench/vs-llama.ts does (src/eval/bandwidth.ts). */
export interface BenchDecodeBound {
  weight_mib_per_token: number;
  threads: number;
  read_gb_per_second: number;
  bound_tokens_per_second: number;
  /** Measured decode tok/s ÷ the bound. */
  fraction: number;
}

/**
 * `apr run` against `apr run --speculative` on SPECULATIVE_PROMPT with --max-tokens genTokens: the same
 * code path (runPrompt / runSpeculative), prompt, length and tok/s figure that `apr run --json` prints.
 */
export interface BenchSpeculativeFigures {
  /** Plain `apr run` decode tok/s. */
  plain_tokens_per_second: number;
  /** `apr run --speculative` decode tok/s. */
  tokens_per_second: number;
  /** Speculative tok/s / plain tok/s (what a user sees comparing the two `apr run` lines). */
  speedup: number;
  /** The same ratio from process CPU time (steadier on a loaded machine). */
  cpu_speedup: number;
  acceptance_rate: number;
  /** Tokens produced per batched target pass. */
  tokens_per_round: number;
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
  config: { prompt_tokens: number; gen_tokens: number; iterations: number; speculation_k?: number; draft_p_min?: number; draft_model?: string; speculative_prompt?: string };
  /** Medians over the iterations; peak_rss_mb is the process's maximum resident set. */
  results: {
    tokens_per_second: number;
    prefill_tokens_per_second: number;
    time_to_first_token_ms: number;
    peak_rss_mb: number;
    speculative?: BenchSpeculativeFigures;
    decode_bound?: BenchDecodeBound;
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

/** The prompt of the speculative comparison: the README's and the issue's `apr run` prompt. */
const SPECULATIVE_PROMPT = 'def fibonacci(n):';

function cpuMs<T>(fn: () => T): { r: T; ms: number } {
  const c0 = process.cpuUsage();
  const r = fn();
  const c = process.cpuUsage(c0);
  return { r, ms: (c.user + c.system) / 1000 };
}

/** One plain and one speculative `apr run` of the same prompt and length, greedy. */
function speculativeIteration(session: Session, spec: NonNullable<BenchOptions['speculative']>, maxTokens: number): BenchSpeculativeFigures {
  const opts = { prompt: SPECULATIVE_PROMPT, maxTokens, temperature: 0 };
  const plain = cpuMs(() => runPrompt(session, opts));
  const sp = cpuMs(() => runSpeculative(session, spec.draft, { ...opts, speculationK: spec.k, ...(spec.draftPMin !== undefined ? { draftPMin: spec.draftPMin } : {}) }));
  const p = plain.r;
  const s = sp.r;
  return {
    plain_tokens_per_second: p.tok_per_sec,
    tokens_per_second: s.tok_per_sec,
    speedup: p.tok_per_sec > 0 ? s.tok_per_sec / p.tok_per_sec : 0,
    cpu_speedup: sp.ms > 0 ? plain.ms / sp.ms : 0,
    acceptance_rate: s.acceptance_rate,
    tokens_per_round: s.tokens_per_round,
    outputs_identical: s.token_ids.length === p.token_ids.length && s.token_ids.every((id, i) => id === p.token_ids[i]),
  };
}

function iteration(session: Session, prompt: number[], opts: BenchOptions): BenchIteration {
  // No stop tokens: every iteration generates exactly genTokens.
  const plain = generate(session.model, prompt, { maxTokens: opts.genTokens });
  const t = plain.timing;
  const it: BenchIteration = {
    prefill_tokens_per_second: t.prefillTokPerSec,
    tokens_per_second: t.decodeTokPerSec,
    time_to_first_token_ms: t.timeToFirstTokenMs,
    decode_ms: t.totalMs - t.prefillMs,
  };
  return opts.speculative ? { ...it, speculative: speculativeIteration(session, opts.speculative, opts.genTokens) } : it;
}

function summarise(its: BenchIteration[]): BenchSpeculativeFigures | undefined {
  const specs = its.flatMap((i) => (i.speculative ? [i.speculative] : []));
  if (specs.length === 0) return undefined;
  const med = (f: (s: BenchSpeculativeFigures) => number): number => median(specs.map(f));
  return {
    plain_tokens_per_second: med((s) => s.plain_tokens_per_second),
    tokens_per_second: med((s) => s.tokens_per_second),
    speedup: med((s) => s.speedup),
    cpu_speedup: med((s) => s.cpu_speedup),
    acceptance_rate: med((s) => s.acceptance_rate),
    tokens_per_round: med((s) => s.tokens_per_round),
    outputs_identical: specs.every((s) => s.outputs_identical),
  };
}

/** Warm-up (JIT, scratch buffers) of every timed path, not recorded. */
function warmUp(session: Session, prompt: number[], opts: BenchOptions): void {
  generate(session.model, prompt.slice(0, Math.min(prompt.length, 8)), { maxTokens: 2 });
  if (opts.speculative) speculativeIteration(session, opts.speculative, Math.min(opts.genTokens, 16));
}

function speculativeConfig(spec: BenchOptions['speculative']): Partial<BenchReport['config']> {
  if (!spec) return {};
  return { speculation_k: spec.k, draft_p_min: draftPMinFor({ temperature: 0, ...(spec.draftPMin !== undefined ? { draftPMin: spec.draftPMin } : {}) }), draft_model: spec.draft.path, speculative_prompt: SPECULATIVE_PROMPT };
}

/** The bound at the backend's thread count (its name ends in -<T>t; one thread otherwise). */
function decodeBound(bundle: ModelBundle, backend: string, decode: number): BenchDecodeBound {
  const threads = Number(/-(\d+)t$/.exec(backend)?.[1] ?? 1);
  const bytes = decodeWeightBytes(bundle);
  const bw = readBandwidth(threads);
  const bound = bw / bytes;
  return { weight_mib_per_token: bytes / 2 ** 20, threads, read_gb_per_second: bw / 1e9, bound_tokens_per_second: bound, fraction: decode / bound };
}

/** `apr bench`: prefill and decode throughput, time to first token and peak memory, over several iterations. */
export function benchThroughput(session: Session, modelPath: string, opts: BenchOptions): BenchReport {
  return benchContract.run({ session, opts }, () => {
    if (opts.speculative) checkSameTokenizer(session.tokenizer, opts.speculative.draft.tokenizer, opts.speculative.draft.path);
    const prompt = benchPrompt(session, opts.promptTokens);
    warmUp(session, prompt, opts);
    const its: BenchIteration[] = [];
    for (let i = 0; i < opts.iterations; i++) its.push(iteration(session, prompt, opts));
    const spec = summarise(its);
    const decode = median(its.map((i) => i.tokens_per_second));
    // before the bandwidth probe, whose buffers (256 MiB a thread) would count in the process's peak
    const peakRss = process.resourceUsage().maxRSS / 1024;
    const bound = opts.bundle && session.model.backend.startsWith('cpu') ? decodeBound(opts.bundle, session.model.backend, decode) : undefined;
    return {
      benchmark: 'throughput',
      model: modelPath,
      backend: session.model.backend,
      config: {
        prompt_tokens: opts.promptTokens,
        gen_tokens: opts.genTokens,
        iterations: opts.iterations,
        ...speculativeConfig(opts.speculative),
      },
      results: {
        tokens_per_second: decode,
        prefill_tokens_per_second: median(its.map((i) => i.prefill_tokens_per_second)),
        time_to_first_token_ms: median(its.map((i) => i.time_to_first_token_ms)),
        peak_rss_mb: peakRss,
        ...(spec ? { speculative: spec } : {}),
        ...(bound ? { decode_bound: bound } : {}),
      },
      iterations: its,
    };
  });
}

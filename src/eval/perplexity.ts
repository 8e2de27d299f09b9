import { defineContract } from '../contract/index.js';
import type { Model } from '../model/decoder.js';

export interface PerplexityOptions {
  /** Tokens per window. */
  context: number;
  /** Score at most this many windows (default all). */
  chunks?: number;
  /**
   * Sliding windows that start every `stride` tokens, each scoring only the tokens the previous window did
   * not (transformers' strided perplexity). Default: non-overlapping windows of `context` tokens, whole
   * windows only.
   */
  stride?: number;
  /**
   * Non-overlapping windows only: the first position inside each window whose token is scored (default 1,
   * every token with a prefix). llama.cpp's llama-perplexity scores the second half: context/2 + 1.
   */
  scoreFrom?: number;
}

export interface PerplexityResult {
  perplexity: number;
  mean_nll: number;
  /** Tokens scored. */
  tokens: number;
  /** Windows evaluated. */
  chunks: number;
  context: number;
  stride: number;
}

interface Window {
  begin: number;
  end: number;
  /** First position inside the window whose token is scored (≥ 1). */
  firstScored: number;
}

/** The windows of the protocol: non-overlapping whole windows, or transformers' strided windows. */
function windows(total: number, opts: PerplexityOptions): Window[] {
  const { context } = opts;
  const limit = opts.chunks ?? Infinity;
  const out: Window[] = [];
  if (opts.stride === undefined) {
    const firstScored = opts.scoreFrom ?? 1;
    for (let b = 0; b + context <= total && out.length < limit; b += context) out.push({ begin: b, end: b + context, firstScored });
    return out;
  }
  let prevEnd = 0;
  for (let b = 0; b < total && out.length < limit; b += opts.stride) {
    const end = Math.min(b + context, total);
    const trg = end - prevEnd;
    if (end - b >= 2) out.push({ begin: b, end, firstScored: Math.max(1, end - b - trg) });
    prevEnd = end;
    if (end === total) break;
  }
  return out;
}

/** −log softmax(row)[target] in float64. */
function nll(logits: Float32Array, offset: number, vocab: number, target: number): number {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) if ((logits[offset + i] as number) > max) max = logits[offset + i] as number;
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp((logits[offset + i] as number) - max);
  return max + Math.log(sum) - (logits[offset + target] as number);
}

interface PerplexityInput {
  model: Model;
  ids: ArrayLike<number>;
  opts: PerplexityOptions;
}

export const perplexityContract = defineContract<PerplexityInput, PerplexityResult>({
  id: 'perplexity-v1',
  equation: 'perplexity',
  spec: 'ppl = exp(mean over scored tokens x_i of −log p(x_i | window prefix)), windows of `context` tokens',
  pre: [
    ['context ≥ 2', ({ opts }) => Number.isInteger(opts.context) && opts.context >= 2],
    ['stride in [1, context]', ({ opts }) => opts.stride === undefined || (Number.isInteger(opts.stride) && opts.stride >= 1 && opts.stride <= opts.context)],
    ['chunks ≥ 1', ({ opts }) => opts.chunks === undefined || (Number.isInteger(opts.chunks) && opts.chunks >= 1)],
    ['scoreFrom in [1, context) and only without stride', ({ opts }) => opts.scoreFrom === undefined || (opts.stride === undefined && Number.isInteger(opts.scoreFrom) && opts.scoreFrom >= 1 && opts.scoreFrom < opts.context)],
    ['at least one window', ({ ids, opts }) => ids.length >= (opts.stride === undefined ? opts.context : 2)],
  ],
  post: [
    ['perplexity = exp(mean_nll)', (_i, r) => Math.abs(r.perplexity - Math.exp(r.mean_nll)) <= 1e-9 * r.perplexity],
    ['perplexity ≥ 1', (_i, r) => r.perplexity >= 1],
    ['tokens scored', ({ opts }, r) => r.tokens >= 1 && (opts.stride !== undefined || r.tokens === r.chunks * (opts.context - (opts.scoreFrom ?? 1)))],
  ],
});

/**
 * Perplexity of `ids` under `model`. With `{context: 256, chunks: 32}` this is the protocol of the fixture
 * references: the first 32 non-overlapping windows of 256 tokens, each scoring tokens 1..255 given their
 * prefix inside the window. Log-softmax sums in float64.
 */
export function perplexity(model: Model, ids: ArrayLike<number>, opts: PerplexityOptions): PerplexityResult {
  return perplexityContract.run({ model, ids, opts }, () => {
    const V = model.config.vocab_size;
    const all = Array.from(ids);
    const wins = windows(all.length, opts);
    let total = 0;
    let count = 0;
    for (const w of wins) {
      const tokens = all.slice(w.begin, w.end);
      const logits = model.logitsAll(tokens);
      for (let p = w.firstScored; p < tokens.length; p++) {
        total += nll(logits, (p - 1) * V, V, tokens[p] as number);
        count++;
      }
    }
    const mean = total / count;
    return { perplexity: Math.exp(mean), mean_nll: mean, tokens: count, chunks: wins.length, context: opts.context, stride: opts.stride ?? opts.context };
  });
}

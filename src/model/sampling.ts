import { defineContract } from '../contract/index.js';
import { kthLargest, orderByProbability } from './prob-order.js';
import { Rng } from './rng.js';

export { Rng } from './rng.js';

/**
 * Token sampling, in transformers' order: repetition penalty, then (unless greedy) temperature, top-k,
 * top-p, min-p, each later filter seeing the distribution renormalised over what the earlier ones kept.
 */
export interface SamplingOptions {
  /** 0 (the default) is greedy decoding: the arg-max after the repetition penalty. */
  temperature?: number;
  /** Keep the k most likely tokens (ties with the k-th kept); 0 = off. */
  topK?: number;
  /** Keep the smallest most-likely set whose probability reaches p; 1 = off. */
  topP?: number;
  /** Drop tokens whose probability is below minP × the top probability; 0 = off. */
  minP?: number;
  /** transformers' repetition penalty on every token seen (>1 discourages repeats); 1 = off. */
  repetitionPenalty?: number;
  /** Seed of the deterministic generator used by `createSampler`/`generate`. */
  seed?: number;
}

/** The arg-max; ties go to the lowest index (as torch.argmax). */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  let bestV = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i] as number;
    if (v > bestV) {
      bestV = v;
      best = i;
    }
  }
  return best;
}

/** transformers' RepetitionPenaltyLogitsProcessor, in place: each distinct seen token once, l>0 ? l/p : l·p. */
export function applyRepetitionPenalty(logits: Float32Array, history: ArrayLike<number>, penalty: number): Float32Array {
  // Stryker disable next-line LogicalOperator: with penalty 1 the loop multiplies or divides by 1, with an empty history it does nothing
  if (penalty === 1 || history.length === 0) return logits;
  const seen = new Set<number>();
  for (let i = 0; i < history.length; i++) {
    const id = history[i] as number;
    if (seen.has(id) || id < 0 || id >= logits.length) continue;
    seen.add(id);
    const l = logits[id] as number;
    logits[id] = l > 0 ? l / penalty : l * penalty;
  }
  return logits;
}

/** A sparse distribution: ids sorted by decreasing probability, probabilities summing to 1. */
export interface Candidates {
  ids: Uint32Array;
  probs: Float64Array;
}

function isGreedy(opts: SamplingOptions): boolean {
  return (opts.temperature ?? 0) <= 0;
}

function penalised(logits: Float32Array, opts: SamplingOptions, history: ArrayLike<number>): Float32Array {
  const p = opts.repetitionPenalty ?? 1;
  return p === 1 ? logits : applyRepetitionPenalty(Float32Array.from(logits), history, p);
}

/** Softmax at temperature T, float64. */
function tempered(logits: Float32Array, t: number): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if ((logits[i] as number) > max) max = logits[i] as number;
  const p = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp(((logits[i] as number) - max) / t);
    p[i] = e;
    sum += e;
  }
  // Stryker disable next-line ArithmeticOperator,ConditionalExpression,EqualityOperator: filterCandidates renormalises over the kept tokens and top-k, top-p and min-p compare probabilities with each other, so p scaled by any factor (or left unnormalised) gives the same distribution; only the top-p pre-filter reads p absolutely, and it drops fewer tokens then, which the nucleus cut drops
  for (let i = 0; i < p.length; i++) p[i] = (p[i] as number) / sum;
  return p;
}

/** Tokens that can survive top-k/top-p, sorted by decreasing probability (index breaks ties). */
function sortedCandidates(p: Float64Array, topK: number, topP: number): number[] {
  const ids: number[] = [];
  if (topK > 0 && topK < p.length) {
    const kth = kthLargest(p, topK);
    for (let i = 0; i < p.length; i++) if ((p[i] as number) >= kth && (p[i] as number) > 0) ids.push(i);
  } else {
    // Without top-k, a token with probability ≤ (1 − topP)/V lies in the discarded tail whatever the rest is.
    // Stryker disable next-line ConditionalExpression,EqualityOperator: a floor of 0 keeps tokens the nucleus cut drops anyway (the tokens above the floor already carry mass ≥ topP), and topP = 1 gives a floor of 0 either way
    const floor = topP < 1 ? (1 - topP) / p.length : 0;
    for (let i = 0; i < p.length; i++) if ((p[i] as number) > floor) ids.push(i);
  }
  return orderByProbability(p, ids);
}

/**
 * Top-p cut of `ids` (sorted by probability). After top-k, top-p works on the renormalised survivors (as
 * transformers' warper chain). Without top-k the pre-filter only drops tokens that are in the discarded tail
 * anyway, so the whole distribution (mass 1) is the reference: renormalising over the survivors would wrongly
 * shrink the target.
 */
function nucleus(p: Float64Array, ids: number[], topK: number, topP: number): number[] {
  let mass = 0;
  if (topK > 0 && topK < p.length) for (const id of ids) mass += p[id] as number;
  else for (let i = 0; i < p.length; i++) mass += p[i] as number;
  let cum = 0;
  let keep = 0;
  while (keep < ids.length && (keep === 0 || cum < topP * mass)) cum += p[ids[keep++] as number] as number;
  return ids.slice(0, keep);
}

function filterCandidates(p: Float64Array, opts: SamplingOptions): Candidates {
  const topK = Math.floor(opts.topK ?? 0);
  const topP = opts.topP ?? 1;
  const minP = opts.minP ?? 0;
  let ids = sortedCandidates(p, topK, topP);
  if (topP < 1) ids = nucleus(p, ids, topK, topP);
  // Stryker disable next-line LogicalOperator: with minP = 0 the threshold is 0 and the filter keeps every candidate
  if (minP > 0 && ids.length > 0) {
    const threshold = minP * (p[ids[0] as number] as number);
    ids = ids.filter((id) => (p[id] as number) >= threshold);
  }
  let total = 0;
  const n = ids.length;
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const id = ids[i] as number;
    out[i] = id;
    total += p[id] as number;
  }
  const probs = new Float64Array(n);
  for (let i = 0; i < n; i++) probs[i] = (p[out[i] as number] as number) / total;
  return { ids: out, probs };
}

function candidatesFor(logits: Float32Array, opts: SamplingOptions, history: ArrayLike<number>): Candidates {
  const l = penalised(logits, opts, history);
  if (isGreedy(opts)) return { ids: Uint32Array.of(argmax(l)), probs: Float64Array.of(1) };
  return filterCandidates(tempered(l, opts.temperature ?? 1), opts);
}

interface DistInput {
  logits: Float32Array;
  opts: SamplingOptions;
  history: ArrayLike<number>;
}

const optionClauses = [
  ['logits non-empty', ({ logits }: DistInput) => logits.length >= 1],
  ['temperature ≥ 0', ({ opts }: DistInput) => (opts.temperature ?? 0) >= 0],
  ['topK ≥ 0', ({ opts }: DistInput) => (opts.topK ?? 0) >= 0],
  ['topP in (0, 1]', ({ opts }: DistInput) => (opts.topP ?? 1) > 0 && (opts.topP ?? 1) <= 1],
  ['minP in [0, 1]', ({ opts }: DistInput) => (opts.minP ?? 0) >= 0 && (opts.minP ?? 0) <= 1],
  ['repetitionPenalty > 0', ({ opts }: DistInput) => (opts.repetitionPenalty ?? 1) > 0],
] as const;

export const distributionContract = defineContract<DistInput, Candidates>({
  id: 'sampling-distribution-v1',
  equation: 'sampling_distribution',
  spec: 'q = renorm(minP ∘ topP ∘ topK (softmax(penalty(logits) / T))); greedy (T = 0): q = δ(argmax penalty(logits))',
  pre: optionClauses,
  post: [
    ['probabilities sum to 1', (_i, c) => Math.abs(c.probs.reduce((a, b) => a + b, 0) - 1) <= 1e-9],
    ['sorted by decreasing probability', (_i, c) => c.probs.every((v, i) => i === 0 || v <= (c.probs[i - 1] as number))],
    ['ids in range', ({ logits }, c) => c.ids.length >= 1 && c.ids.every((id) => id < logits.length)],
  ],
});

/** The distribution sampling draws from: candidate ids (most likely first) and their probabilities. */
// Stryker disable next-line ArrayDeclaration: a non-numeric id in the default history never indexes the logits (typed arrays ignore such keys)
export function samplingDistribution(logits: Float32Array, opts: SamplingOptions, history: ArrayLike<number> = []): Candidates {
  return distributionContract.run({ logits, opts, history }, () => candidatesFor(logits, opts, history));
}

/** The same distribution as a dense vector over the vocabulary (zeros outside the candidates). */
// Stryker disable next-line ArrayDeclaration: a non-numeric id in the default history never indexes the logits (typed arrays ignore such keys)
export function tokenProbabilities(logits: Float32Array, opts: SamplingOptions, history: ArrayLike<number> = []): Float64Array {
  const c = samplingDistribution(logits, opts, history);
  const dense = new Float64Array(logits.length);
  c.ids.forEach((id, i) => (dense[id] = c.probs[i] as number));
  return dense;
}

/** Draws from a dense distribution by inverse CDF in index order (one `rng.next()` per call). */
export function sampleFromProbabilities(probs: ArrayLike<number>, rng: Rng): number {
  let total = 0;
  for (let i = 0; i < probs.length; i++) total += probs[i] as number;
  const u = rng.next() * total;
  let cum = 0;
  let last = 0;
  for (let i = 0; i < probs.length; i++) {
    const p = probs[i] as number;
    if (p <= 0) continue;
    last = i;
    cum += p;
    if (u < cum) return i;
  }
  return last;
}

function draw(c: Candidates, rng: Rng): number {
  if (c.ids.length === 1) return c.ids[0] as number;
  const u = rng.next();
  let cum = 0;
  for (let i = 0; i < c.ids.length; i++) {
    cum += c.probs[i] as number;
    if (u < cum) return c.ids[i] as number;
  }
  return c.ids[c.ids.length - 1] as number;
}

interface SampleInput extends DistInput {
  rng: Rng;
}

export const sampleContract = defineContract<SampleInput, number>({
  id: 'sampling-token-v1',
  equation: 'sample_token',
  spec: 'token ~ q (sampling_distribution); greedy: token = argmax(penalty(logits)); one draw from the seeded generator',
  pre: optionClauses,
  post: [
    ['token id in range', ({ logits }, id) => Number.isInteger(id) && id >= 0 && id < logits.length],
    ['greedy picks the arg-max', ({ logits, opts, history }, id) => !isGreedy(opts) || id === argmax(penalised(logits, opts, history))],
  ],
});

/** Picks the next token. Greedy (temperature 0) uses no randomness; otherwise one `rng.next()` per call. */
// Stryker disable next-line ArrayDeclaration: a non-numeric id in the default history never indexes the logits (typed arrays ignore such keys)
export function sampleToken(logits: Float32Array, opts: SamplingOptions, rng: Rng, history: ArrayLike<number> = []): number {
  return sampleContract.run({ logits, opts, history, rng }, () => draw(candidatesFor(logits, opts, history), rng));
}

/** A sampler with its own generator seeded by `opts.seed` (default 0). */
export function createSampler(opts: SamplingOptions): (logits: Float32Array, history?: ArrayLike<number>) => number {
  const rng = new Rng(opts.seed ?? 0);
  // Stryker disable next-line ArrayDeclaration: a non-numeric id in the default history never indexes the logits (typed arrays ignore such keys)
  return (logits, history = []) => sampleToken(logits, opts, rng, history);
}

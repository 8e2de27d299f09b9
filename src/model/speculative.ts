import { FormatError } from '../formats/errors.js';
import type { Tokenizer } from '../tokenizer/index.js';
import type { Model } from './decoder.js';
import { DraftTuner } from './draft-tuner.js';
import type { KVCache } from './kv-cache.js';
import { Rng, type SamplingOptions, sampleFromProbabilities, tokenProbabilities } from './sampling.js';

/**
 * Speculative decoding (Leviathan et al. 2023, "Fast Inference from Transformers via Speculative Decoding";
 * Chen et al. 2023, "Accelerating LLM Decoding with Speculative Sampling"): a small draft model proposes k
 * tokens, the target scores all of them in one batched forward pass, and each proposal x is kept with
 * probability min(1, p(x)/q(x)); the first rejected one is replaced by a draw from norm(max(0, p − q)), and
 * when all k are kept one more token is drawn from the target. The output distribution is exactly the
 * target's (p and q being the distributions after temperature/top-k/top-p/min-p/penalty); with greedy
 * decoding p and q are point masses and the output equals plain greedy decoding. The draft stops proposing
 * early where it is unsure (`draftPMin`, as llama.cpp): on a CPU a batched pass costs well over one token's
 * pass per extra row, so verifying tokens the draft is likely to get wrong costs more than it wins.
 */
export interface SpeculativeOptions extends SamplingOptions {
  /** Most tokens to generate (the stop token, if met, is not counted or returned). */
  maxTokens: number;
  /** Most draft tokens proposed per round (k ≥ 1). */
  k: number;
  /**
   * The draft stops proposing (the round verifies fewer than k tokens, possibly none) once its top token's
   * probability falls below this, as llama.cpp's `--draft-p-min` (default: 0 when `adaptive`, else 0.75).
   * Any value keeps the output distribution exact: the decision depends only on the draft's own state.
   */
  draftPMin?: number;
  /**
   * Greedy only (default on): choose each round how many of the k proposals to verify from measured pass
   * times and acceptance (see DraftTuner). Never changes greedy output; off for sampling, where the number
   * of proposals would change which random draws the seed feeds.
   */
  adaptive?: boolean;
  stopTokens?: readonly number[];
}

export interface SpeculativeStats {
  /** Draft tokens proposed and scored by the target. */
  drafted: number;
  /** Of those, the ones the target accepted. */
  accepted: number;
  /** accepted / drafted (0 when nothing was drafted). */
  acceptanceRate: number;
  /** Verification rounds (batched target passes after the prefill). */
  rounds: number;
  /** Mean tokens produced per target pass (accepted + the corrected/bonus token). */
  tokensPerRound: number;
}

export interface SpeculativeTiming {
  promptTokens: number;
  generatedTokens: number;
  prefillMs: number;
  timeToFirstTokenMs: number;
  /** Wall time after the prefill until the last token. */
  decodeMs: number;
  totalMs: number;
  prefillTokPerSec: number;
  /** Generated tokens per second of decode time (prefill excluded). */
  decodeTokPerSec: number;
}

export interface SpeculativeResult {
  ids: number[];
  stopReason: 'stop' | 'length' | 'callback';
  stopToken?: number;
  stats: SpeculativeStats;
  timing: SpeculativeTiming;
}

/** Outcome of verifying one proposal: kept, or rejected and replaced by `token`. */
export interface AcceptDecision {
  accepted: boolean;
  token: number;
}

/**
 * The accept/reject rule for one proposed token x ~ q: keep it with probability min(1, p(x)/q(x)); otherwise
 * draw the replacement from norm(max(0, p − q)). Uses one `rng.next()` for the test and one for a replacement.
 */
export function acceptOrResample(p: Float64Array, q: Float64Array, x: number, rng: Rng): AcceptDecision {
  const px = p[x] ?? 0;
  const qx = q[x] ?? 0;
  if (px >= qx || rng.next() * qx < px) return { accepted: true, token: x };
  return { accepted: false, token: sampleFromProbabilities(residual(p, q), rng) };
}

/** max(0, p − q), unnormalised (the sampler normalises); p itself if that is all zero (p = q). */
function residual(p: Float64Array, q: Float64Array): Float64Array {
  const r = new Float64Array(p.length);
  let total = 0;
  for (let i = 0; i < p.length; i++) {
    const d = (p[i] as number) - (q[i] ?? 0);
    if (d > 0) {
      r[i] = d;
      total += d;
    }
  }
  return total > 0 ? r : Float64Array.from(p);
}

/** Throws when draft and target cannot share token ids. */
function checkCompatible(target: Model, draft: Model, what = 'draft model'): void {
  if (target.config.vocab_size !== draft.config.vocab_size) {
    throw new Error(`${what}: vocab_size ${draft.config.vocab_size} differs from the target's ${target.config.vocab_size}; draft and target must share the tokenizer`);
  }
}

/** Throws a one-line FormatError unless the draft's tokenizer maps every id to the target's token. */
export function checkSameTokenizer(target: Tokenizer, draft: Tokenizer, draftPath: string): void {
  if (target.vocabSize !== draft.vocabSize) {
    throw new FormatError(draftPath, 'tokenizer', `draft vocabulary has ${draft.vocabSize} tokens, the target's ${target.vocabSize}; draft and target must share the tokenizer`);
  }
  for (let id = 0; id < target.vocabSize; id++) {
    if (target.idToToken(id) !== draft.idToToken(id)) {
      throw new FormatError(draftPath, 'tokenizer', `token ${id} is ${JSON.stringify(draft.idToToken(id))} in the draft but ${JSON.stringify(target.idToToken(id))} in the target; draft and target must share the tokenizer`);
    }
  }
}

/** llama.cpp's default `--draft-p-min`. */
const DEFAULT_DRAFT_P_MIN = 0.75;

interface State {
  readonly seq: number[];
  readonly ids: number[];
  readonly tc: KVCache;
  readonly dc: KVCache;
  readonly rng: Rng;
  readonly tuner: DraftTuner | undefined;
  drafted: number;
  accepted: number;
  rounds: number;
}

/** The draft model's confidence: the largest softmax probability of its raw logits. */
function topProbability(logits: Float32Array): number {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i] as number);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp((logits[i] as number) - max);
  return sum > 0 ? 1 / sum : 0;
}

/**
 * Brings the draft cache to seq[0..len−1) and proposes up to k tokens with their draft distributions,
 * stopping early where the draft is unsure (see `draftPMin`).
 */
function propose(draft: Model, s: State, opts: SpeculativeOptions, k: number): { xs: number[]; qs: Float64Array[]; passes: number } {
  // No proposals: the draft is not run; it catches up on the skipped tokens in one pass next time.
  if (k === 0) return { xs: [], qs: [], passes: 0 };
  const valid = Math.min(s.dc.length, s.seq.length - 1);
  const hist = [...s.seq];
  const pMin = draftPMinFor(opts);
  let logits = draft.forward(s.seq.slice(valid), valid, s.dc);
  const xs: number[] = [];
  const qs: Float64Array[] = [];
  for (let i = 0; i < k; i++) {
    if (pMin > 0 && topProbability(logits) < pMin) break;
    const q = tokenProbabilities(logits, opts, hist);
    const x = sampleFromProbabilities(q, s.rng);
    xs.push(x);
    qs.push(q);
    hist.push(x);
    if (i + 1 < k) logits = draft.forward([x], hist.length - 1, s.dc);
  }
  return { xs, qs, passes: Math.min(xs.length + 1, k) };
}

/** One round: propose, verify in one batched target pass, return the tokens this round produced. */
function round(target: Model, draft: Model, s: State, opts: SpeculativeOptions, k: number): number[] {
  const base = s.seq.length;
  const t0 = performance.now();
  const { xs, qs, passes } = propose(draft, s, opts, k);
  const t1 = performance.now();
  const V = target.config.vocab_size;
  const logits = target.forward([s.seq[base - 1] as number, ...xs], base - 1, s.tc, { allLogits: true });
  s.tuner?.recordDraft(passes, t1 - t0);
  s.tuner?.recordVerify(xs.length + 1, performance.now() - t1);
  const before = { drafted: s.drafted, accepted: s.accepted };
  const hist = [...s.seq];
  const out: number[] = [];
  for (let i = 0; i <= xs.length; i++) {
    const p = tokenProbabilities(logits.subarray(i * V, (i + 1) * V), opts, hist);
    if (i === xs.length) {
      out.push(sampleFromProbabilities(p, s.rng));
      break;
    }
    const d = acceptOrResample(p, qs[i] as Float64Array, xs[i] as number, s.rng);
    out.push(d.token);
    hist.push(d.token);
    s.drafted++;
    if (!d.accepted) break;
    s.accepted++;
  }
  s.tuner?.recordAcceptance(s.drafted - before.drafted, s.accepted - before.accepted);
  s.rounds++;
  return out;
}

/** The k for the next round: never propose past the token budget (a bonus token past it is dropped). */
function roundK(opts: SpeculativeOptions, produced: number): number {
  return Math.max(1, Math.min(opts.k, opts.maxTokens - produced));
}

type PolicyOptions = Pick<SpeculativeOptions, 'draftPMin' | 'adaptive' | 'temperature'>;

/** Whether the DraftTuner chooses each round's proposal count: greedy decoding, unless turned off. */
function adaptive(opts: PolicyOptions): boolean {
  return (opts.temperature ?? 0) === 0 && opts.adaptive !== false;
}

/** The p-min in force: the option, else 0 where the tuner weighs costs (greedy), else llama.cpp's 0.75. */
export function draftPMinFor(opts: PolicyOptions): number {
  return opts.draftPMin ?? (adaptive(opts) ? 0 : DEFAULT_DRAFT_P_MIN);
}

function tunerFor(opts: SpeculativeOptions): DraftTuner | undefined {
  return adaptive(opts) ? new DraftTuner(opts.k) : undefined;
}

function tokPerSec(tokens: number, ms: number): number {
  return ms > 0 ? (tokens * 1000) / ms : 0;
}

/**
 * Generates with `target`, drafting with `draft`. Both must share the tokenizer. Deterministic for a seed;
 * with temperature 0 the ids equal `generate(target, ...)`'s.
 */
export function speculativeGenerate(target: Model, draft: Model, promptIds: ArrayLike<number>, opts: SpeculativeOptions, onToken?: (id: number, index: number) => boolean | void): SpeculativeResult {
  checkCompatible(target, draft);
  if (!Number.isInteger(opts.k) || opts.k < 1) throw new RangeError(`speculation k must be an integer ≥ 1, got ${opts.k}`);
  if (promptIds.length < 1) throw new RangeError('prompt must hold at least one token');
  const pMin = draftPMinFor(opts);
  if (!(pMin >= 0 && pMin <= 1)) throw new RangeError(`draft p-min must be in [0, 1], got ${pMin}`);
  const prompt = Array.from(promptIds);
  const tc = target.createCache(prompt.length + opts.maxTokens + opts.k + 1);
  const dc = draft.createCache(prompt.length + opts.maxTokens + opts.k + 1);
  try {
    return decodeLoop(target, draft, { seq: prompt, ids: [], tc, dc, rng: new Rng(opts.seed ?? 0), tuner: tunerFor(opts), drafted: 0, accepted: 0, rounds: 0 }, opts, onToken);
  } finally {
    tc.dispose();
    dc.dispose();
  }
}

/** Appends a round's tokens to the sequence; says why generation ends, if it does. */
function emit(s: State, toks: readonly number[], stops: ReadonlySet<number>, maxTokens: number, onToken?: (id: number, index: number) => boolean | void): { reason: SpeculativeResult['stopReason']; token?: number } | undefined {
  for (const id of toks) {
    if (stops.has(id)) return { reason: 'stop', token: id };
    s.seq.push(id);
    s.ids.push(id);
    if (onToken?.(id, s.ids.length - 1) === false) return { reason: 'callback' };
    if (s.ids.length >= maxTokens) return { reason: 'length' };
  }
  return undefined;
}

function decodeLoop(target: Model, draft: Model, s: State, opts: SpeculativeOptions, onToken?: (id: number, index: number) => boolean | void): SpeculativeResult {
  const stops = new Set(opts.stopTokens ?? []);
  const promptTokens = s.seq.length;
  const t0 = performance.now();
  // The last prompt token is fed with the first round's proposals, so its logits come from the batched pass.
  if (promptTokens > 1 && opts.maxTokens > 0) draft.forward(s.seq.slice(0, -1), 0, s.dc);
  if (promptTokens > 1 && opts.maxTokens > 0) target.forward(s.seq.slice(0, -1), 0, s.tc);
  const prefillMs = performance.now() - t0;
  let firstMs = 0;
  let stopReason: SpeculativeResult['stopReason'] = 'length';
  let stopToken: number | undefined;
  while (s.ids.length < opts.maxTokens) {
    const k = Math.min(roundK(opts, s.ids.length), s.tuner?.choose() ?? opts.k);
    const base = s.seq.length;
    const toks = round(target, draft, s, opts, k);
    if (s.ids.length === 0) firstMs = performance.now() - t0;
    const end = emit(s, toks, stops, opts.maxTokens, onToken);
    if (end !== undefined) {
      if (end.reason !== 'length') stopReason = end.reason;
      stopToken = end.token;
      break;
    }
    // Keep only cache positions whose tokens survived: the accepted prefix of this round.
    s.tc.truncate(Math.min(s.tc.length, s.seq.length - 1));
    s.dc.truncate(Math.min(s.dc.length, base + toks.length - 1, s.seq.length - 1));
  }
  const totalMs = performance.now() - t0;
  const decodeMs = totalMs - prefillMs;
  const stats: SpeculativeStats = {
    drafted: s.drafted,
    accepted: s.accepted,
    acceptanceRate: s.drafted > 0 ? s.accepted / s.drafted : 0,
    rounds: s.rounds,
    tokensPerRound: s.rounds > 0 ? s.ids.length / s.rounds : 0,
  };
  const timing: SpeculativeTiming = {
    promptTokens,
    generatedTokens: s.ids.length,
    prefillMs,
    timeToFirstTokenMs: firstMs,
    decodeMs,
    totalMs,
    prefillTokPerSec: tokPerSec(promptTokens, prefillMs),
    decodeTokPerSec: tokPerSec(s.ids.length, decodeMs),
  };
  const base = { ids: s.ids, stopReason, stats, timing };
  return stopToken === undefined ? base : { ...base, stopToken };
}

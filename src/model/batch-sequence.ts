import type { GenerateResult, GenerateTiming, OnToken } from './generate.js';
import type { KVCache } from './kv-cache.js';
import { Rng, type SamplingOptions, sampleToken } from './sampling.js';

/** One generation request of a `BatchEngine`. */
export interface BatchRequest extends SamplingOptions {
  /** The prompt's token ids (non-empty). */
  promptIds: readonly number[];
  /** Most tokens to generate (the stop token, if met, is not counted or returned). */
  maxTokens: number;
  /** Generation ends when one of these is sampled. */
  stopTokens?: readonly number[];
  /** Also return each generated token's log-probability under the model (log-softmax of the raw logits). */
  logprobs?: boolean;
}

export interface SubmitOptions {
  /** Called for each generated token (not the stop token); returning false ends the sequence ('callback'). */
  onToken?: OnToken;
  /** Aborting rejects the request with the signal's reason and frees its slot before the next step. */
  signal?: AbortSignal;
}

export interface BatchTiming extends GenerateTiming {
  /** Time between `submit` and the start of the prefill (waiting for a slot). */
  queueMs: number;
}

export interface BatchResult extends Omit<GenerateResult, 'timing'> {
  timing: BatchTiming;
  /** With `logprobs`: log p(ids[i] | prompt, ids[<i]), one per generated id. */
  logprobs?: number[];
}

/** log-softmax of `logits` at `id`, in float64 (max-shifted). */
function tokenLogprob(logits: Float32Array, id: number): number {
  let max = -Infinity;
  // Stryker disable next-line UnaryOperator: j < logits.length, so the fallback is never taken
  for (let j = 0; j < logits.length; j++) max = Math.max(max, logits[j] ?? -Infinity);
  let z = 0;
  // Stryker disable next-line UnaryOperator: j < logits.length, so the fallback is never taken
  for (let j = 0; j < logits.length; j++) z += Math.exp((logits[j] ?? -Infinity) - max);
  return (logits[id] ?? 0) - max - Math.log(z);
}

function tokPerSec(tokens: number, ms: number): number {
  return ms > 0 ? (tokens * 1000) / ms : 0;
}

/**
 * A sequence in flight: its request, generator, history and cache slot. `accept` takes the logits of the
 * sequence's last position and does what one iteration of `generate`'s loop does (sample, stop checks,
 * callback), so a sequence's tokens are those `generate` gives for the same request.
 */
export class Sequence {
  private readonly rng: Rng;
  private readonly stops: Set<number>;
  private readonly history: number[];
  readonly ids: number[] = [];
  private readonly logprobs: number[] | undefined;
  /** The token to feed at the next step (valid while the sequence is live). */
  // Stryker disable next-line UnaryOperator: set by accept() before the first step reads it
  next = -1;
  cache: KVCache | undefined;
  stopReason: GenerateResult['stopReason'] = 'length';
  stopToken: number | undefined;
  private readonly submitted = performance.now();
  private t0 = 0;
  private prefillMs = 0;
  private firstMs = 0;
  private decodeMs = 0;
  private decodeSteps = 0;

  constructor(
    readonly request: BatchRequest,
    readonly opts: SubmitOptions,
    readonly settle: { resolve: (r: BatchResult) => void; reject: (e: unknown) => void },
  ) {
    this.rng = new Rng(request.seed ?? 0);
    // Stryker disable next-line ArrayDeclaration: a string in the stop set never equals a sampled (numeric) id
    this.stops = new Set(request.stopTokens ?? []);
    this.history = Array.from(request.promptIds);
    this.logprobs = request.logprobs ? [] : undefined;
  }

  /** The prompt, as fed to the prefill. */
  get prompt(): readonly number[] {
    return this.request.promptIds;
  }

  startPrefill(): void {
    this.t0 = performance.now();
  }

  endPrefill(): void {
    this.prefillMs = performance.now() - this.t0;
  }

  /** Adds the duration of a batched step this sequence took part in. */
  addStep(ms: number): void {
    this.decodeMs += ms;
    this.decodeSteps++;
  }

  /** Samples the next token from the logits of the last position; true when the sequence is finished. */
  accept(logits: Float32Array): boolean {
    const id = sampleToken(logits, this.request, this.rng, this.history);
    if (this.ids.length === 0) this.firstMs = performance.now() - this.t0;
    if (this.stops.has(id)) {
      this.stopReason = 'stop';
      this.stopToken = id;
      return true;
    }
    this.ids.push(id);
    this.history.push(id);
    this.logprobs?.push(tokenLogprob(logits, id));
    if (this.opts.onToken?.(id, this.ids.length - 1) === false) {
      this.stopReason = 'callback';
      return true;
    }
    if (this.ids.length >= this.request.maxTokens) return true;
    this.next = id;
    return false;
  }

  result(): BatchResult {
    const timing: BatchTiming = {
      promptTokens: this.request.promptIds.length,
      generatedTokens: this.ids.length,
      prefillMs: this.prefillMs,
      decodeMs: this.decodeMs,
      totalMs: this.t0 > 0 ? performance.now() - this.t0 : 0,
      timeToFirstTokenMs: this.firstMs,
      prefillTokPerSec: tokPerSec(this.request.promptIds.length, this.prefillMs),
      decodeTokPerSec: tokPerSec(this.decodeSteps, this.decodeMs),
      queueMs: (this.t0 > 0 ? this.t0 : performance.now()) - this.submitted,
    };
    const r: BatchResult = { ids: this.ids, stopReason: this.stopReason, timing };
    if (this.stopToken !== undefined) r.stopToken = this.stopToken;
    if (this.logprobs) r.logprobs = this.logprobs;
    return r;
  }
}

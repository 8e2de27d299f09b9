import { softmax } from '../../kernels/cpu/softmax.js';
import type { Model } from '../../model/index.js';
import type { CheckContext } from './context.js';
import { probeSequence } from './golden.js';
import { PROBE_TEXT } from './stage-tokenizer.js';
import { Findings, type Stage, type StageOutcome, errorMessage } from './types.js';

/** Softmax rows must sum to 1 within this (float32 probabilities: the rounding error of the sum is ~1e-7). */
const SOFTMAX_TOLERANCE = 1e-5;
/** Cached incremental decode against full recomputation, max |Δ logit|. */
export const CACHE_TOLERANCE = 1e-4;
const PROBE_LENGTH = 16;
const PREFILL = 4;

function probeIds(ctx: CheckContext, vocab: number): number[] {
  try {
    const ids = ctx.tokenizer().encode(PROBE_TEXT, { addSpecialTokens: false }).slice(0, PROBE_LENGTH);
    if (ids.length === PROBE_LENGTH && ids.every((id) => id < vocab)) return ids;
  } catch {
    // no usable tokenizer (stage 4 says why): pseudo-random ids exercise the same arithmetic
  }
  return probeSequence(vocab, PROBE_LENGTH, 7);
}

function finiteAndNormalised(full: Float32Array, ids: readonly number[], V: number, f: Findings): number {
  let bad = -1;
  for (let i = 0; i < full.length && bad < 0; i++) if (!Number.isFinite(full[i])) bad = i;
  if (bad >= 0) {
    f.fail(`logits: non-finite at position ${Math.floor(bad / V)} (token ${ids[Math.floor(bad / V)]}), vocabulary index ${bad % V}`);
    return NaN;
  }
  let worst = 0;
  for (let p = 0; p < ids.length; p++) {
    const row = full.slice(p * V, (p + 1) * V);
    const min = row.reduce((a, b) => Math.min(a, b), Infinity);
    const max = row.reduce((a, b) => Math.max(a, b), -Infinity);
    if (min === max) f.fail(`logits: every logit at position ${p} is ${min} (collapsed LM head)`);
    let sum = 0;
    for (const x of softmax(row)) sum += x;
    worst = Math.max(worst, Math.abs(sum - 1));
  }
  if (worst > SOFTMAX_TOLERANCE) f.fail(`softmax: a row sums to 1 ± ${worst.toExponential(2)} (tolerance ${SOFTMAX_TOLERANCE})`);
  return worst;
}

/** Prefill a few tokens, then one token at a time through the KV cache; compare with the full pass. */
export function cachedAgainstFull(model: Model, full: Float32Array, ids: readonly number[], f: Findings): number {
  const V = model.config.vocab_size;
  const cache = model.createCache(ids.length);
  let worst = 0;
  let where = 0;
  const compare = (got: Float32Array, pos: number): void => {
    for (let i = 0; i < got.length; i++) {
      const d = Math.abs((got[i] as number) - (full[pos * V + i] as number));
      if (!(d <= worst)) {
        worst = Number.isNaN(d) ? Infinity : d;
        where = pos + Math.floor(i / V);
      }
    }
  };
  compare(model.forward(ids.slice(0, PREFILL), 0, cache, { allLogits: true }), 0);
  for (let p = PREFILL; p < ids.length; p++) compare(model.forward([ids[p] as number], p, cache), p);
  if (worst > CACHE_TOLERANCE) f.fail(`KV cache: incremental decode differs from full recomputation by ${worst.toExponential(2)} at position ${where} (tolerance ${CACHE_TOLERANCE})`);
  return worst;
}

export const forwardStage: Stage = {
  id: 9,
  name: 'forward self-test',
  run(ctx): StageOutcome {
    if (!ctx.forward) return { status: 'SKIP', details: 'not run (--no-forward)' };
    const f = new Findings();
    const V = ctx.bundle().config.vocab_size;
    let model: Model;
    try {
      model = ctx.model();
    } catch (err) {
      f.fail(`model does not load: ${errorMessage(err)}`);
      return f.outcome();
    }
    const ids = probeIds(ctx, V);
    try {
      const t0 = performance.now();
      const full = model.logitsAll(ids);
      const tokPerS = ids.length / ((performance.now() - t0) / 1000);
      const softmaxError = finiteAndNormalised(full, ids, V, f);
      if (f.fails.length > 0) return f.outcome();
      const cacheDiff = cachedAgainstFull(model, full, ids, f);
      f.note(`${ids.length} probe tokens: logits finite, softmax rows sum to 1 ± ${softmaxError.toExponential(1)}, cached vs full max |Δ| ${cacheDiff.toExponential(1)}, ${tokPerS.toFixed(0)} tok/s`);
      return f.outcome({ probe_ids: ids, softmax_error: softmaxError, cache_max_abs_diff: cacheDiff, prefill_tok_per_s: tokPerS });
    } catch (err) {
      f.fail(`forward: ${errorMessage(err)}`);
      return f.outcome();
    }
  },
};

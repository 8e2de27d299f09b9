/**
 * Logits parity of a model against a reference (its Hugging Face source) on token windows: max |Δlogit|,
 * top-1 agreement, KL(p_ref ‖ p_model) and the perplexity gap (the tensor comparison is in src/ops/compare-hf.ts).
 */
import type { Model } from '../../model/decoder.js';
import { logSoftmaxRow } from '../../train/losses/kl-distill.js';

export interface LogitsParity {
  windows: number;
  /** Positions compared (every position of every window). */
  positions: number;
  max_abs_logit_diff: number;
  /** Fraction of positions whose argmax agrees. */
  top1_agreement: number;
  /** Mean over positions of KL(p_ref ‖ p_model), nats. */
  mean_kl: number;
  /** Tokens scored for the perplexities (every position with a next token). */
  scored_tokens: number;
  ppl_model: number;
  ppl_reference: number;
  /** 100 · (ppl_model / ppl_reference − 1). */
  ppl_gap_pct: number;
}

interface Sums {
  positions: number;
  maxAbs: number;
  agree: number;
  kl: number;
  scored: number;
  nllModel: number;
  nllRef: number;
}

function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if ((x[i] as number) > (x[best] as number)) best = i;
  return best;
}

/** One position: raw logit difference, argmax, KL(ref ‖ model) and the next token's NLL under both. */
function position(s: Sums, a: Float32Array, b: Float32Array, off: number, V: number, next: number | undefined): void {
  for (let i = 0; i < V; i++) s.maxAbs = Math.max(s.maxAbs, Math.abs((a[off + i] as number) - (b[off + i] as number)));
  const la = logSoftmaxRow(a, off, V);
  const lb = logSoftmaxRow(b, off, V);
  let kl = 0;
  for (let i = 0; i < V; i++) kl += Math.exp(lb[i] as number) * ((lb[i] as number) - (la[i] as number));
  s.kl += kl;
  s.positions++;
  if (argmax(la) === argmax(lb)) s.agree++;
  if (next === undefined) return;
  s.scored++;
  s.nllModel -= la[next] as number;
  s.nllRef -= lb[next] as number;
}

/**
 * Logits parity of `model` against `ref` over token windows (each run from an empty cache). Logits are
 * compared at every position; the perplexities score the tokens at positions ≥ `scoreFrom` of each window
 * (default 1, every token with a prefix; llama.cpp's llama-perplexity scores context/2 + 1 onwards).
 */
export function logitsParity(model: Model, ref: Model, windows: readonly (readonly number[])[], scoreFrom = 1): LogitsParity {
  const V = ref.config.vocab_size;
  const s: Sums = { positions: 0, maxAbs: 0, agree: 0, kl: 0, scored: 0, nllModel: 0, nllRef: 0 };
  for (const ids of windows) {
    const a = model.logitsAll(ids);
    const b = ref.logitsAll(ids);
    for (let p = 0; p < ids.length; p++) position(s, a, b, p * V, V, p + 1 >= scoreFrom ? ids[p + 1] : undefined);
  }
  const pplModel = Math.exp(s.nllModel / Math.max(1, s.scored));
  const pplRef = Math.exp(s.nllRef / Math.max(1, s.scored));
  return {
    windows: windows.length, positions: s.positions, max_abs_logit_diff: s.maxAbs, top1_agreement: s.agree / Math.max(1, s.positions),
    mean_kl: s.kl / Math.max(1, s.positions), scored_tokens: s.scored, ppl_model: pplModel, ppl_reference: pplRef, ppl_gap_pct: 100 * (pplModel / pplRef - 1),
  };
}

/** Non-overlapping windows of `context` tokens (at most `chunks`); a text shorter than one window is one window. */
export function textWindows(ids: readonly number[], context: number, chunks: number): number[][] {
  const out: number[][] = [];
  for (let b = 0; b + context <= ids.length && out.length < chunks; b += context) out.push(ids.slice(b, b + context));
  if (out.length === 0 && ids.length >= 2) out.push([...ids]);
  return out;
}

import { z } from 'zod';
import { type Model, loadModel } from '../../model/index.js';
import type { ModelBundle } from '../../tensor/bundle.js';
import { Sha256Digest, sha256Digest } from '../../tensor/digest.js';
import { type Tokenizer, loadTokenizer } from '../../tokenizer/index.js';

/**
 * The golden fingerprint: for a few fixed token sequences, the logsumexp of the logits at every position,
 * and at the last position the top-5 ids with their logits and the mean and standard deviation of all
 * logits. Recorded at import (metadata key `golden`) and replayed by `apr check` stage 10: a wrong
 * rope_theta, swapped layers or a damaged weight move these numbers by far more than the tolerance, while
 * the same weights under the same code reproduce them bit for bit.
 */
export const GOLDEN_VERSION = 1;

/**
 * |Δ| ≤ abs + rel·|recorded|. The same weights under the same code reproduce the numbers bit for bit; the
 * SIMD and portable CPU backends differ by ≤ 3e-6 (measured on tiny-coder-llama, f32 and Q4_K_M), so the
 * margin over backend noise is ~300×. A 1 % change of rope_theta moves a logit by 3e-3 (3× the tolerance),
 * a 10 % change by 3e-2, an F16 rounding of the weights by 3e-3, Q8_0 by 6e-2.
 */
export const GOLDEN_TOLERANCE = { abs: 2e-4, rel: 1e-4 } as const;

/** The text probe (when the model has a tokenizer); its ids are stored, so replay never re-tokenizes. */
const GOLDEN_TEXT = 'import os\n\ndef read_lines(path):\n    with open(path) as f:';

const ProbeSchema = z.object({
  text: z.string().optional(),
  ids: z.array(z.number().int().nonnegative()).min(1),
  lse: z.array(z.number()),
  top5_ids: z.array(z.number().int().nonnegative()),
  top5_logits: z.array(z.number()),
  mean: z.number(),
  std: z.number(),
});

export const GoldenSchema = z.object({
  version: z.literal(GOLDEN_VERSION),
  probes: z.array(ProbeSchema).min(1),
  weights_digest: z.string().optional(),
  tolerance: z.object({ abs: z.number(), rel: z.number() }).optional(),
});

export type GoldenProbe = z.infer<typeof ProbeSchema>;
export type GoldenFingerprint = z.infer<typeof GoldenSchema>;

/** A deterministic pseudo-random id sequence in [0, vocab) (LCG, so it needs no tokenizer). */
export function probeSequence(vocab: number, length: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out.push(s % vocab);
  }
  return out;
}

/** The probe sequences: the text probe's ids (or a pseudo-random stand-in) and two pseudo-random ones. */
function goldenProbes(vocab: number, tokenizer?: Tokenizer): { text?: string; ids: number[] }[] {
  const probes: { text?: string; ids: number[] }[] = [];
  const textIds = tokenizer?.encode(GOLDEN_TEXT, { addSpecialTokens: false }).slice(0, 16);
  if (textIds && textIds.length >= 4 && textIds.every((id) => id < vocab)) probes.push({ text: GOLDEN_TEXT, ids: textIds });
  else probes.push({ ids: probeSequence(vocab, 16, 1) });
  probes.push({ ids: probeSequence(vocab, 12, 2) }, { ids: probeSequence(vocab, 8, 3) });
  return probes;
}

function logSumExp(x: Float32Array, begin: number, end: number): number {
  let max = -Infinity;
  for (let i = begin; i < end; i++) max = Math.max(max, x[i] as number);
  let sum = 0;
  for (let i = begin; i < end; i++) sum += Math.exp((x[i] as number) - max);
  return max + Math.log(sum);
}

function top5(row: Float32Array): number[] {
  const best: number[] = [];
  for (let i = 0; i < row.length; i++) {
    if (best.length === 5 && (row[i] as number) <= (row[best[4] as number] as number)) continue;
    best.push(i);
    best.sort((a, b) => (row[b] as number) - (row[a] as number) || a - b);
    if (best.length > 5) best.pop();
  }
  return best;
}

/** The fingerprint numbers of logits [n, V] of one probe. */
function measureLogits(logits: Float32Array, n: number, V: number): Omit<GoldenProbe, 'text' | 'ids'> {
  const lse = Array.from({ length: n }, (_x, p) => logSumExp(logits, p * V, (p + 1) * V));
  const last = logits.subarray((n - 1) * V, n * V);
  const ids5 = top5(last);
  let sum = 0, sumSq = 0;
  for (const x of last) {
    sum += x;
    sumSq += x * x;
  }
  const mean = sum / V;
  return { lse, top5_ids: ids5, top5_logits: ids5.map((i) => last[i] as number), mean, std: Math.sqrt(Math.max(0, sumSq / V - mean * mean)) };
}

/** The fingerprint numbers of one probe under `model`. */
function measureProbe(model: Model, ids: readonly number[]): Omit<GoldenProbe, 'text' | 'ids'> {
  return measureLogits(model.logitsAll(ids), ids.length, model.config.vocab_size);
}

/** `goldenFingerprint(model, tokenizer?)`: the fingerprint of a loaded model. */
export function goldenFingerprint(model: Model, tokenizer?: Tokenizer, weightsDigest?: string): GoldenFingerprint {
  const probes = goldenProbes(model.config.vocab_size, tokenizer).map((p) => ({ ...p, ...measureProbe(model, p.ids) }));
  return { version: GOLDEN_VERSION, probes, ...(weightsDigest ? { weights_digest: weightsDigest } : {}), tolerance: { ...GOLDEN_TOLERANCE } };
}

/** One digest over every tensor's name, dtype, shape and byte digest (sorted by name): binds a golden to its weights. */
export function weightsDigest(bundle: ModelBundle, digests: ReadonlyMap<string, string>): string {
  const d = new Sha256Digest();
  for (const name of [...bundle.tensors.names()].sort()) {
    const t = bundle.tensors.get(name);
    d.update(new TextEncoder().encode(`${name}\t${t?.dtype ?? '?'}\t${(t?.shape ?? []).join('x')}\t${digests.get(name) ?? '?'}\n`));
  }
  return d.digest();
}

/** Per-tensor digests of a bundle's bytes, one tensor in memory at a time. */
function bundleDigests(bundle: ModelBundle): Map<string, string> {
  const out = new Map<string, string>();
  for (const name of bundle.tensors.names()) {
    const t = bundle.tensors.get(name);
    if (t) out.set(name, sha256Digest(t.read()));
  }
  return out;
}

/**
 * The golden record `apr import` stores under metadata key `golden`: loads the model once, runs the probes
 * and binds the result to the weights' digests. Any later op that changes weights must record a new one
 * (or drop the key): a stale golden fails stage 10.
 */
export function fingerprintForImport(bundle: ModelBundle): Record<string, unknown> {
  let tokenizer: Tokenizer | undefined;
  try {
    tokenizer = bundle.tokenizer ? loadTokenizer(bundle.tokenizer, { modelConfig: bundle.config }) : undefined;
  } catch {
    tokenizer = undefined;
  }
  const digest = weightsDigest(bundle, bundleDigests(bundle));
  const model = loadModel(bundle);
  try {
    return { ...goldenFingerprint(model, tokenizer, digest) };
  } finally {
    model.dispose();
  }
}

export interface GoldenDeviation {
  /** Largest |Δ| / (abs + rel·|recorded|): > 1 fails. */
  ratio: number;
  where: string;
}

function tolerance(ref: number): number {
  return GOLDEN_TOLERANCE.abs + GOLDEN_TOLERANCE.rel * Math.abs(ref);
}

/** |Δ| in units of the tolerance; a non-finite value is infinitely far. */
function ratio(got: number, ref: number): number {
  return Number.isFinite(got) ? Math.abs(got - ref) / tolerance(ref) : Infinity;
}

function describe(what: string, got: number, ref: number): string {
  return `${what}: ${got.toFixed(5)} vs recorded ${ref.toFixed(5)} (|Δ| ${Math.abs(got - ref).toExponential(2)}, tolerance ${tolerance(ref).toExponential(2)})`;
}

/** Replays the recorded probes on `model` and returns the worst deviation. */
export function compareFingerprint(golden: GoldenFingerprint, model: Model): GoldenDeviation {
  let dev: GoldenDeviation = { ratio: 0, where: '' };
  const note = (r: number, what: string, got: number, ref: number): void => {
    if (r > dev.ratio) dev = { ratio: r, where: describe(what, got, ref) };
  };
  const V = model.config.vocab_size;
  golden.probes.forEach((p, k) => {
    const logits = model.logitsAll(p.ids);
    const m = measureLogits(logits, p.ids.length, V);
    p.lse.forEach((ref, pos) => note(ratio(m.lse[pos] ?? NaN, ref), `probe ${k} position ${pos} logsumexp`, m.lse[pos] ?? NaN, ref));
    const last = logits.subarray((p.ids.length - 1) * V);
    p.top5_ids.forEach((id, j) => {
      const ref = p.top5_logits[j] ?? NaN;
      const got = id < V ? (last[id] as number) : NaN;
      note(ratio(got, ref), `probe ${k} last-position logit of token ${id}`, got, ref);
    });
    note(ratio(m.mean, p.mean), `probe ${k} mean logit`, m.mean, p.mean);
    note(ratio(m.std, p.std), `probe ${k} logit std`, m.std, p.std);
  });
  return dev;
}

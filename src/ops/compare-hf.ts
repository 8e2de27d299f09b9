import { existsSync, readFileSync } from 'node:fs';
import { defineContract } from '../contract/index.js';
import { FormatError } from '../formats/errors.js';
import { openModel } from '../formats/open.js';
import { type LogitsParity, logitsParity, textWindows } from '../eval/qa/hf-parity.js';
import { createSession } from '../model/session.js';
import type { ModelBundle } from '../tensor/bundle.js';
import { toFloat32 } from '../tensor/codecs/index.js';
import type { Tokenizer } from '../tokenizer/index.js';
import { compareVectors } from './diff.js';

/** Upstream's gate: a perplexity gap over 5 % (either way) means the conversion or the inference is wrong. */
const HF_PARITY_MAX_GAP_PCT = 5;

export interface CompareHfOptions {
  model: string;
  /** The Hugging Face source folder (the reference). */
  hf: string;
  /** A .txt file (scored in windows of `context` tokens) or JSON Lines / a JSON array of prompts. */
  prompts?: string;
  /** Tokens per window (default 256). */
  context?: number;
  /** At most this many windows of a text file (default 16). */
  chunks?: number;
  /** Score perplexity from this position of each window (default 1; llama.cpp's protocol: context/2 + 1). */
  scoreFrom?: number;
}

export interface TensorParity {
  name: string;
  /** dtype in the model (the reference is dequantized to float32 as well). */
  dtype: string;
  max_abs_diff: number;
  cosine: number;
  /** ‖a − b‖₂ / ‖b‖₂ (b the reference). */
  rel_error: number;
}

export interface TensorParityReport {
  tensors: TensorParity[];
  only_in_model: string[];
  only_in_reference: string[];
  shape_mismatch: string[];
}

/** ‖a − b‖₂ / ‖b‖₂ in float64 (0 when both are zero, ∞ when only b is). */
function relativeError(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    const y = b[i] as number;
    const d = (a[i] as number) - y;
    num += d * d;
    den += y * y;
  }
  if (den === 0) return num === 0 ? 0 : Infinity;
  return Math.sqrt(num / den);
}

const sameShape = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** Every tensor the two bundles share, dequantized one pair at a time. */
function tensorParity(model: ModelBundle, ref: ModelBundle): TensorParityReport {
  const report: TensorParityReport = { tensors: [], only_in_model: [], only_in_reference: [], shape_mismatch: [] };
  const refNames = new Set(ref.tensors.names());
  for (const name of model.tensors.names()) {
    const t = model.tensors.get(name);
    const r = refNames.has(name) ? ref.tensors.get(name) : undefined;
    refNames.delete(name);
    if (!t) continue;
    if (!r) report.only_in_model.push(name);
    else if (!sameShape(t.shape, r.shape)) report.shape_mismatch.push(name);
    else {
      const a = toFloat32(t.dtype, t.shape, t.read());
      const b = toFloat32(r.dtype, r.shape, r.read());
      const { maxAbs, cosine } = compareVectors(a, b);
      report.tensors.push({ name, dtype: t.dtype, max_abs_diff: maxAbs, cosine, rel_error: relativeError(a, b) });
    }
  }
  report.only_in_reference = [...refNames].sort();
  return report;
}

export interface CompareHfResult {
  model: string;
  hf: string;
  tensors: {
    compared: number;
    dtypes: Record<string, number>;
    max_abs_diff: number;
    min_cosine: number;
    max_rel_error: number;
    mean_rel_error: number;
    worst: TensorParity[];
    only_in_model: string[];
    only_in_hf: string[];
    shape_mismatch: string[];
    all: TensorParity[];
  };
  logits: LogitsParity;
  max_gap_pct: number;
  pass: boolean;
}

/** Built-in prompts when no --prompts file is given. */
const DEFAULT_PROMPTS = [
  'def fibonacci(n):\n    if n < 2:\n        return n\n    return fibonacci(n - 1) + fibonacci(n - 2)\n',
  'import os\nimport sys\n\n\ndef main(argv):\n    for name in os.listdir(argv[1]):\n        print(name)\n',
  'class Stack:\n    def __init__(self):\n        self.items = []\n\n    def push(self, item):\n        self.items.append(item)\n',
];

function promptTexts(file: string): string[] {
  const raw = readFileSync(file, 'utf8');
  if (file.endsWith('.json')) {
    const parsed: unknown = JSON.parse(raw);
    if (!Array.isArray(parsed)) throw new FormatError(file, 'prompts', 'expected a JSON array of strings or {"text"} objects');
    return parsed.map((p: unknown) => promptText(file, p));
  }
  return raw.split('\n').filter((l) => l.trim() !== '').map((l) => promptText(file, JSON.parse(l) as unknown));
}

function promptText(file: string, p: unknown): string {
  if (typeof p === 'string') return p;
  const rec = (p ?? {}) as Record<string, unknown>;
  const text = rec['text'] ?? rec['prompt'];
  if (typeof text !== 'string') throw new FormatError(file, 'prompts', 'each prompt must be a string or carry a "text" (or "prompt") string');
  return text;
}

/** The token windows of the prompts: a text file in windows of `context`, else one window per prompt. */
function windowsFor(tokenizer: Tokenizer, opts: CompareHfOptions): number[][] {
  const context = opts.context ?? 256;
  const encode = (t: string): number[] => tokenizer.encode(t, { addSpecialTokens: false });
  if (opts.prompts?.endsWith('.txt')) return textWindows(encode(readFileSync(opts.prompts, 'utf8')), context, opts.chunks ?? 16);
  const texts = opts.prompts ? promptTexts(opts.prompts) : DEFAULT_PROMPTS;
  const windows = texts.map((t) => encode(t).slice(0, context)).filter((w) => w.length >= 2);
  if (windows.length === 0) throw new FormatError(opts.prompts ?? 'prompts', 'prompts', 'no prompt of at least two tokens');
  return windows;
}

function summarizeTensors(t: ReturnType<typeof tensorParity>): CompareHfResult['tensors'] {
  const dtypes: Record<string, number> = {};
  for (const x of t.tensors) dtypes[x.dtype] = (dtypes[x.dtype] ?? 0) + 1;
  const n = t.tensors.length;
  const worst = [...t.tensors].sort((a, b) => b.rel_error - a.rel_error).slice(0, 5);
  return {
    compared: n, dtypes,
    max_abs_diff: Math.max(0, ...t.tensors.map((x) => x.max_abs_diff)),
    min_cosine: Math.min(1, ...t.tensors.map((x) => x.cosine)),
    max_rel_error: Math.max(0, ...t.tensors.map((x) => x.rel_error)),
    mean_rel_error: n > 0 ? t.tensors.reduce((s, x) => s + x.rel_error, 0) / n : 0,
    worst, only_in_model: t.only_in_model, only_in_hf: t.only_in_reference, shape_mismatch: t.shape_mismatch, all: t.tensors,
  };
}

function compareTensors(model: string, hf: string): CompareHfResult['tensors'] {
  const a = openModel(model, { verifyFooter: true });
  const b = openModel(hf);
  try {
    return summarizeTensors(tensorParity(a, b));
  } finally {
    a.tensors.close();
    b.tensors.close();
  }
}

function compareLogitsOn(opts: CompareHfOptions): LogitsParity {
  const ref = createSession(openModel(opts.hf), { backend: 'cpu' });
  const cand = createSession(openModel(opts.model, { verifyFooter: true }), { backend: 'cpu' });
  try {
    if (cand.model.config.vocab_size !== ref.model.config.vocab_size) {
      throw new FormatError(opts.model, 'vocab_size', `${cand.model.config.vocab_size} differs from the reference's ${ref.model.config.vocab_size}`);
    }
    return logitsParity(cand.model, ref.model, windowsFor(ref.tokenizer, opts), opts.scoreFrom ?? 1);
  } finally {
    cand.model.dispose();
    ref.model.dispose();
  }
}

export const compareHfContract = defineContract<CompareHfOptions, CompareHfResult>({
  id: 'op-compare-hf-v1',
  equation: 'compare_hf',
  spec: 'gap = 100·(PPL_model / PPL_hf − 1) on the same windows; pass ⇔ |gap| ≤ 5 ∧ no tensor name/shape mismatch; KL(p_hf ‖ p_model) ≥ 0; top-1 agreement ∈ [0, 1]',
  pre: [
    ['model and hf exist', ({ model, hf }) => existsSync(model) && existsSync(hf)],
    ['context ≥ 2 when given', ({ context }) => context === undefined || (Number.isInteger(context) && context >= 2)],
    ['chunks ≥ 1 when given', ({ chunks }) => chunks === undefined || (Number.isInteger(chunks) && chunks >= 1)],
    ['scoreFrom in [1, context) when given', ({ scoreFrom, context }) => scoreFrom === undefined || (Number.isInteger(scoreFrom) && scoreFrom >= 1 && scoreFrom < (context ?? 256))],
  ],
  post: [
    ['pass ⇔ gap within the bound and names/shapes agree', (_i, r) => r.pass === (Math.abs(r.logits.ppl_gap_pct) <= r.max_gap_pct && r.tensors.shape_mismatch.length === 0 && r.tensors.only_in_hf.length === 0)],
    ['KL ≥ 0 up to rounding', (_i, r) => r.logits.mean_kl >= -1e-9],
    ['top-1 agreement in [0, 1]', (_i, r) => r.logits.top1_agreement >= 0 && r.logits.top1_agreement <= 1],
    ['every common tensor compared', (_i, r) => r.tensors.compared === r.tensors.all.length],
  ],
});

/**
 * `apr compare-hf`: parity of a converted, quantized, merged or pruned model against its Hugging Face source
 * folder: every shared tensor dequantized and compared (max |a−b|, cosine, relative error), and the logits
 * of both models on the same token windows (max |Δlogit|, top-1 agreement, KL, perplexity gap).
 */
export function compareHf(opts: CompareHfOptions): CompareHfResult {
  if (!existsSync(opts.model)) throw new FormatError(opts.model, 'path', 'no such file or directory');
  if (!existsSync(opts.hf)) throw new FormatError(opts.hf, 'path', 'no such file or directory');
  if (opts.prompts !== undefined && !existsSync(opts.prompts)) throw new FormatError(opts.prompts, 'path', 'no such file or directory');
  return compareHfContract.run(opts, () => {
    const tensors = compareTensors(opts.model, opts.hf);
    const logits = compareLogitsOn(opts);
    const pass = Math.abs(logits.ppl_gap_pct) <= HF_PARITY_MAX_GAP_PCT && tensors.shape_mismatch.length === 0 && tensors.only_in_hf.length === 0;
    return { model: opts.model, hf: opts.hf, tensors, logits, max_gap_pct: HF_PARITY_MAX_GAP_PCT, pass };
  });
}

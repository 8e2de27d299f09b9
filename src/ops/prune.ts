import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineContract } from '../contract/index.js';
import { FormatError } from '../formats/errors.js';
import { type OutputFormat, openModel, outputFormatFor, writeModel } from '../formats/open.js';
import { pathLabel, provenanceEntry } from '../formats/provenance.js';
import { sourceDigest } from '../formats/source-digest.js';
import type { ArchConfig, ModelBundle } from '../tensor/bundle.js';
import { elementCount } from '../tensor/dtype.js';
import type { TensorStore } from '../tensor/store.js';
import { loadTokenizer } from '../tokenizer/index.js';
import { calibrationSet, calibrationTexts } from '../train/prune/calibration.js';
import { depthStore, parseLayers, planDepth } from '../train/prune/depth.js';
import { type NmPattern, parsePattern } from '../train/prune/select.js';
import { type ActivationStats, type StatsNeeds, collectStats } from '../train/prune/stats.js';
import { type StructuredUnit, planStructured, structuredStore } from '../train/prune/structured.js';
import { type TensorPruneReport, type UnstructuredMethod, prunableNames, prunedStore } from '../train/prune/unstructured.js';
import { sparsityTolerance } from '../train/prune/unstructured-types.js';
import { TOOL_VERSION } from './version.js';

export const PRUNE_METHODS = ['magnitude', 'wanda', 'sparsegpt', 'structured', 'depth'] as const;
export type PruneMethod = (typeof PRUNE_METHODS)[number];

export interface PruneOptions {
  input: string;
  /** Required unless `analyze`. */
  output?: string;
  method: PruneMethod;
  /** Fraction of weights (unstructured), units (structured) or layers (depth) to remove. */
  targetRatio?: number;
  /** N:M semi-structured sparsity, e.g. "2:4" (magnitude, wanda, sparsegpt). */
  pattern?: string;
  /** Calibration text (.txt) or JSON Lines with a "text" field. */
  calibration?: string;
  samples?: number;
  seqLen?: number;
  seed?: number;
  /** magnitude: compare per output row (default) or over the whole tensor. */
  granularity?: 'row' | 'tensor';
  /** structured: remove KV-head groups or MLP channels (default). */
  unit?: StructuredUnit;
  /** depth: layers to drop, e.g. "3-4". */
  layers?: string;
  includeEmbeddings?: boolean;
  /** Report what would be removed; write nothing. */
  analyze?: boolean;
  format?: string;
  onProgress?: (stage: string, done: number, total: number) => void;
}

export interface PruneResult {
  input: string;
  output?: string;
  format?: OutputFormat;
  method: PruneMethod;
  target_ratio: number;
  pattern?: string;
  analyze: boolean;
  /** Per pruned tensor (unstructured methods). */
  tensors: TensorPruneReport[];
  /** Zeros / elements over the pruned tensors. */
  overall_sparsity?: number;
  removed?: { layers?: number[]; heads?: number[][]; channels?: number[][] };
  block_influence?: number[];
  config_changes: Record<string, [number, number]>;
  parameters_before: number;
  parameters_after: number;
  calibration?: { source: string; samples: number; seq_len: number; source_tokens: number; overlapping: boolean; seconds: number };
  bytes?: number;
  peak_rss_bytes: number;
  seconds: number;
}

const UNSTRUCTURED = new Set<PruneMethod>(['magnitude', 'wanda', 'sparsegpt']);

function sparsityOk(o: PruneOptions, r: PruneResult): boolean {
  if (!UNSTRUCTURED.has(o.method)) return true;
  if (o.pattern) return r.tensors.every((t) => t.sparsity >= r.target_ratio - sparsityTolerance(t.elements));
  return r.tensors.every((t) => Math.abs(t.sparsity - r.target_ratio) <= sparsityTolerance(t.elements));
}

export const pruneContract = defineContract<PruneOptions, PruneResult>({
  id: 'prune-v1',
  equation: 'prune',
  spec: 'prune(M, method, r) = M′: unstructured methods zero a fraction r (±0.1 %) of every pruned projection weight; structured and depth remove units/layers and keep shapes consistent',
  pre: [
    ['known method', ({ method }) => (PRUNE_METHODS as readonly string[]).includes(method)],
    ['target ratio in [0, 1)', ({ targetRatio }) => targetRatio === undefined || (targetRatio >= 0 && targetRatio < 1)],
    ['an output unless analyzing', ({ output, analyze }) => analyze === true || output !== undefined],
  ],
  post: [['each pruned tensor within 0.1 % of the target sparsity', sparsityOk]],
});

function optionError(field: string, message: string): FormatError {
  return new FormatError('apr prune', field, message);
}

function ratioOf(o: PruneOptions, pattern: NmPattern | undefined): number {
  if (pattern) {
    const r = pattern.n / pattern.m;
    if (o.targetRatio !== undefined && Math.abs(o.targetRatio - r) > 1e-9) throw optionError('--target-ratio', `${o.targetRatio} contradicts --pattern ${o.pattern} (${r})`);
    return r;
  }
  if (o.targetRatio === undefined) {
    if (o.method === 'depth' && o.layers) return 0;
    throw optionError('--target-ratio', 'required');
  }
  return o.targetRatio;
}

function needsOf(o: PruneOptions): StatsNeeds | undefined {
  if (o.method === 'wanda') return { norms: true, hessians: false, blockInfluence: false };
  if (o.method === 'sparsegpt') return { norms: false, hessians: true, blockInfluence: false };
  if (o.method === 'structured' && o.calibration) return { norms: true, hessians: false, blockInfluence: false };
  if (o.method === 'depth' && !o.layers) return { norms: false, hessians: false, blockInfluence: true };
  return undefined;
}

function calibrate(o: PruneOptions, bundle: ModelBundle, needs: StatsNeeds): { stats: ActivationStats; info: NonNullable<PruneResult['calibration']> } {
  if (!o.calibration) throw optionError('--calibration', `${o.method}${o.method === 'depth' ? ' without --layers' : ''} needs calibration text`);
  if (!bundle.tokenizer) throw new FormatError(o.input, 'tokenizer', 'the model carries no tokenizer to encode the calibration text');
  const t0 = performance.now();
  const tokenizer = loadTokenizer(bundle.tokenizer, { source: `${o.input}: tokenizer`, modelConfig: bundle.config });
  const set = calibrationSet(o.calibration, calibrationTexts(o.calibration), (t) => tokenizer.encode(t, { addSpecialTokens: false }), { samples: o.samples ?? 128, seqLen: o.seqLen ?? 128, seed: o.seed ?? 0 });
  const stats = collectStats(bundle, set.samples, needs, (d, n) => o.onProgress?.('calibration', d, n));
  const info = { source: o.calibration, samples: set.samples.length, seq_len: o.seqLen ?? 128, source_tokens: set.sourceTokens, overlapping: set.overlapping, seconds: (performance.now() - t0) / 1000 };
  return { stats, info };
}

function parameterCount(store: TensorStore): number {
  return store.names().reduce((s, n) => s + elementCount(store.get(n)?.shape ?? []), 0);
}

function configChanges(a: ArchConfig, b: ArchConfig): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const k of ['num_layers', 'num_heads', 'num_kv_heads', 'intermediate_size'] as const) if (a[k] !== b[k]) out[k] = [a[k], b[k]];
  return out;
}

interface Built {
  store: TensorStore;
  config: ArchConfig;
  reports: TensorPruneReport[];
  extra: Pick<PruneResult, 'removed' | 'block_influence'>;
}

function build(o: PruneOptions, bundle: ModelBundle, ratio: number, pattern: NmPattern | undefined, stats: ActivationStats | undefined): Built {
  const reports: TensorPruneReport[] = [];
  if (UNSTRUCTURED.has(o.method)) {
    const total = prunableNames(bundle, o.includeEmbeddings ?? false).length;
    const onTensor = (r: TensorPruneReport): void => {
      reports.push(r);
      o.onProgress?.('prune', reports.length, total);
    };
    const store = prunedStore(bundle, { method: o.method as UnstructuredMethod, ratio, pattern, group: o.granularity ?? 'row', includeEmbeddings: o.includeEmbeddings ?? false, stats }, onTensor);
    return { store, config: bundle.config, reports, extra: {} };
  }
  if (o.method === 'structured') {
    const plan = planStructured({ bundle, unit: o.unit ?? 'channels', ratio, stats });
    return { store: structuredStore(bundle, plan), config: plan.config, reports, extra: { removed: plan.unit === 'heads' ? { heads: plan.removed } : { channels: plan.removed } } };
  }
  let layers: number[] | undefined;
  try {
    layers = o.layers ? parseLayers(o.layers, bundle.config.num_layers) : undefined;
  } catch (err) {
    throw optionError('--layers', (err as Error).message.replace(/^--layers: /, ''));
  }
  const plan = planDepth({ bundle, layers, ratio, stats });
  return { store: depthStore(bundle, plan), config: plan.config, reports, extra: { removed: { layers: plan.removed }, ...(plan.blockInfluence ? { block_influence: plan.blockInfluence } : {}) } };
}

function checkOptions(o: PruneOptions): NmPattern | undefined {
  if (!(PRUNE_METHODS as readonly string[]).includes(o.method)) throw optionError('--method', `unknown method '${String(o.method)}' (expected ${PRUNE_METHODS.join(', ')})`);
  if (!o.analyze && !o.output) throw optionError('--output', 'required unless --analyze');
  if (o.output && existsSync(o.output) && existsSync(o.input) && realpathSync(o.output) === realpathSync(o.input)) throw optionError('--output', 'is the input');
  if (o.output && resolve(o.output) === resolve(o.input)) throw optionError('--output', 'is the input');
  if (o.pattern && !UNSTRUCTURED.has(o.method)) throw optionError('--pattern', `applies to magnitude, wanda and sparsegpt, not ${o.method}`);
  try {
    return o.pattern ? parsePattern(o.pattern) : undefined;
  } catch (err) {
    throw optionError('--pattern', (err as Error).message);
  }
}

type Calibration = ReturnType<typeof calibrate>;

/** Writes the pruned model (or, with --analyze, only computes it); returns the format and bytes written. */
function emit(o: PruneOptions, bundle: ModelBundle, built: Built, ratio: number, cal: Calibration | undefined): { format?: OutputFormat; bytes?: number } {
  if (o.analyze || !o.output) {
    if (UNSTRUCTURED.has(o.method)) for (const n of built.store.names()) built.store.get(n)?.read();
    return {};
  }
  const { golden: _stale, ...metadata } = bundle.metadata; // a fingerprint of the unpruned weights
  const out: ModelBundle = { ...bundle, metadata, config: built.config, tensors: built.store, source: { path: o.output, format: 'memory' } };
  const format = outputFormatFor(o.output, o.format);
  // the calibration file is named by file name and identified by its digest (the model's comes first)
  const calFiles = cal && o.calibration !== undefined ? [o.calibration] : [];
  const calibration = cal ? { ...(calFiles[0] !== undefined ? { calibration: pathLabel(calFiles[0]) } : {}), samples: cal.info.samples, seq_len: cal.info.seq_len, seed: o.seed ?? 0 } : {};
  const options = { method: o.method, target_ratio: ratio, ...(o.pattern ? { pattern: o.pattern } : {}), ...calibration, ...(o.layers ? { layers: o.layers } : {}), ...(o.unit ? { unit: o.unit } : {}) };
  const provenance = provenanceEntry({ op: 'prune', options, inputDigests: [o.input, ...calFiles].map(sourceDigest), toolVersion: TOOL_VERSION });
  return { format, bytes: writeModel(out, o.output, format, provenance) };
}

function overallSparsity(reports: readonly TensorPruneReport[]): Pick<PruneResult, 'overall_sparsity'> {
  const zeros = reports.reduce((s, r) => s + r.zeros_after, 0);
  const elements = reports.reduce((s, r) => s + r.elements, 0);
  return elements > 0 ? { overall_sparsity: zeros / elements } : {};
}

function runPrune(o: PruneOptions): PruneResult {
  const t0 = performance.now();
  const pattern = checkOptions(o);
  const ratio = ratioOf(o, pattern);
  let peak = process.memoryUsage.rss();
  const bundle = openModel(o.input);
  try {
    const needs = needsOf(o);
    const cal = needs ? calibrate(o, bundle, needs) : undefined;
    peak = Math.max(peak, process.memoryUsage.rss());
    const built = build(o, bundle, ratio, pattern, cal?.stats);
    const { format, bytes } = emit(o, bundle, built, ratio, cal);
    peak = Math.max(peak, process.memoryUsage.rss());
    return {
      input: o.input, ...(format ? { output: o.output, format } : {}), method: o.method, target_ratio: ratio, ...(o.pattern ? { pattern: o.pattern } : {}),
      analyze: o.analyze === true, tensors: built.reports, ...overallSparsity(built.reports), ...built.extra,
      config_changes: configChanges(bundle.config, built.config), parameters_before: parameterCount(bundle.tensors), parameters_after: parameterCount(built.store),
      ...(cal ? { calibration: cal.info } : {}), ...(bytes !== undefined ? { bytes } : {}), peak_rss_bytes: peak, seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    bundle.tensors.close();
  }
}

/** `apr prune`: magnitude, Wanda, SparseGPT (optionally N:M), structured (heads/channels) or depth pruning. */
export function pruneModel(opts: PruneOptions): PruneResult {
  return pruneContract.run(opts, () => runPrune(opts));
}

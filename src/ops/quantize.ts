/**
 * `apr quantize`: a model → the same model with its weights in a scheme's dtypes (llama.cpp's block types
 * and tensor selection, NF4, aprender's APR_Q8/APR_Q4, F16/BF16), streamed tensor by tensor, atomically.
 */
import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineContract } from '../contract/index.js';
import { imatrixFromText } from '../eval/imatrix.js';
import { fingerprintForImport } from '../eval/integrity/golden.js';
import { FormatError } from '../formats/errors.js';
import { readImatrix } from '../formats/imatrix/read.js';
import { type Imatrix, type ImatrixWeights, imatrixWeights, weightsFor } from '../formats/imatrix/types.js';
import { type OutputFormat, openModel, outputFormatFor, writeModel } from '../formats/open.js';
import { provenanceEntry } from '../formats/provenance.js';
import { sourceDigest } from '../formats/source-digest.js';
import type { ModelBundle } from '../tensor/bundle.js';
import { DTYPES, byteSize } from '../tensor/dtype.js';
import { requiresImatrix } from '../tensor/quant/imatrix-rules.js';
import { type ImportanceLookup, type PlanEntry, type QuantPlan, planBundle, quantizedBundle } from '../tensor/quant/model.js';
import { SCHEMES, type SchemeName, isSchemeName } from '../tensor/quant/recipes.js';
import { DEFAULT_IMATRIX_CTX } from './imatrix.js';
import { TOOL_VERSION } from './version.js';

export interface QuantizePlanOptions {
  input: string;
  scheme: string;
  /** llama-quantize --pure: no mixture rules, every quantizable tensor in the scheme's base type. */
  pure?: boolean;
  /** llama-quantize --imatrix: an importance matrix file (llama.cpp GGUF or legacy .dat). */
  imatrix?: string;
  /** Compute the importance matrix on the fly from this calibration text (as `apr imatrix` does). */
  imatrixData?: string;
  /** Tokens per chunk and chunks for `imatrixData` (default 512 and every whole chunk). */
  imatrixCtx?: number;
  imatrixChunks?: number;
}

export interface QuantizeOptions extends QuantizePlanOptions {
  output: string;
  /** apr | gguf | safetensors (only f16/bf16); default from the output extension, else apr. */
  format?: string;
  /** Called after each tensor is quantized (for a progress bar). */
  onTensor?: (name: string, done: number, total: number) => void;
}

export interface QuantizePlanResult extends QuantPlan {
  input: string;
}

/** The importance matrix a quantization used. */
export interface QuantizeImatrixInfo {
  /** The imatrix file, or the calibration text it was computed from. */
  source: string;
  computed: boolean;
  /** Entries (weights, by GGUF name), as llama-quantize's quantize.imatrix.entries_count. */
  entries: number;
  chunks: number;
  dataset?: string;
  /** Tensors quantized with importance weights. */
  weighted: number;
}

export interface QuantizeResult extends QuantizePlanResult {
  output: string;
  imatrix?: QuantizeImatrixInfo;
  format: OutputFormat;
  /** Size of the written file (or folder). */
  fileBytes: number;
  seconds: number;
  /** Source megabytes (1e6) of the converted tensors per second, reading + quantizing + writing. */
  mbPerSecond: number;
  inputDigest: string;
  /** Whether the source (and so the output) carries a tokenizer. */
  tokenizer: boolean;
}

function schemeOf(input: string, scheme: string): SchemeName {
  if (!isSchemeName(scheme)) throw new FormatError(input, '--scheme', `unknown scheme '${scheme}' (expected ${Object.keys(SCHEMES).join(', ')})`);
  return scheme;
}

function samePath(a: string, b: string): boolean {
  if (!existsSync(b)) return resolve(a) === resolve(b);
  return realpathSync(a) === realpathSync(b);
}

function planIsConsistent(r: QuantPlan): boolean {
  let bytes = 0, params = 0;
  for (const e of r.entries) {
    if (e.bytes !== byteSize(e.to, e.shape)) return false;
    if (e.shape.length <= 1 && e.to !== 'F32') return false;
    bytes += e.bytes;
    params += e.shape.reduce((a, b) => a * b, 1);
  }
  return bytes === r.bytes && params === r.parameters && Math.abs(r.bitsPerWeight - (params ? (8 * bytes) / params : 0)) < 1e-9;
}

export const quantizePlanContract = defineContract<QuantizePlanOptions, QuantizePlanResult>({
  id: 'op-quantize-v1',
  equation: 'quantize_plan',
  spec: 'plan(m, s) = [(t, type_s(t), bytes(type_s(t), shape t))]; size = Σ bytes; bpw = 8·size / Σ elements',
  pre: [['input exists', ({ input }) => existsSync(input)]],
  post: [['sizes and bits per weight add up; 1-D tensors F32', (_i, r) => planIsConsistent(r)]],
});

function writtenAsPlanned(output: string, entries: readonly PlanEntry[], hadTokenizer: boolean): boolean {
  const written = openModel(output, { verifyFooter: true });
  try {
    const names = new Set(written.tensors.names());
    const tiedHead = written.config.tie_word_embeddings ? 'lm_head.weight' : undefined;
    const asPlanned = entries.every((e) => e.name === tiedHead || (names.has(e.name) && written.tensors.get(e.name)?.dtype === e.to));
    return asPlanned && (written.tokenizer !== undefined) === hadTokenizer;
  } finally {
    written.tensors.close();
  }
}

export const quantizeContract = defineContract<QuantizeOptions, QuantizeResult>({
  id: 'op-quantize-v1',
  equation: 'quantize',
  spec: 'quantize(m, s[, X]) = m′ with names(m′) = names(m), dtype(m′_t) = type_s(t), m′_t = q_type(m_t[, X_t]) for every t (X_t: the imatrix weights of t); tokenizer and config kept',
  pre: [
    ['input exists', ({ input }) => existsSync(input)],
    ['output is not the input', ({ input, output }) => !samePath(input, output)],
  ],
  post: [
    ['every tensor written in its planned dtype, tokenizer kept', (_i, r) => writtenAsPlanned(r.output, r.entries, r.tokenizer)],
    ['plan adds up', (_i, r) => planIsConsistent(r)],
  ],
});

/** `apr quantize --plan`: every tensor's target dtype, the size and bits per weight, without writing. */
export function planQuantization(opts: QuantizePlanOptions): QuantizePlanResult {
  return quantizePlanContract.run(opts, () => {
    const scheme = schemeOf(opts.input, opts.scheme);
    const bundle = openModel(opts.input);
    try {
      const imatrix = opts.imatrix !== undefined || opts.imatrixData !== undefined;
      return { input: opts.input, ...planBundle(bundle, scheme, { pure: opts.pure ?? false, imatrix }) };
    } finally {
      bundle.tensors.close();
    }
  });
}

/**
 * The output's metadata: the source's, without its logits fingerprint (recorded for other weights; a new one
 * is recorded after writing), with GGUF's general.file_type set to the scheme's (writeGgufBundle keeps it
 * when it agrees with the main dtype).
 */
function outputMetadata(bundle: ModelBundle, ftype: number | undefined, format: OutputFormat, im?: QuantizeImatrixInfo): ModelBundle {
  const { golden: _stale, ...metadata } = bundle.metadata;
  const gguf = metadata['gguf'];
  if (ftype === undefined || (format !== 'gguf' && (typeof gguf !== 'object' || gguf === null))) return { ...bundle, metadata };
  const types = metadata['gguf_types'];
  const kv = { 'general.file_type': ftype, ...imatrixKeys(im) };
  return {
    ...bundle,
    metadata: {
      ...metadata,
      gguf: { ...(typeof gguf === 'object' && gguf !== null ? gguf : {}), ...kv },
      gguf_types: { ...(typeof types === 'object' && types !== null ? types : {}), ...Object.fromEntries(Object.entries(kv).map(([k, v]) => [k, typeof v === 'number' ? 'u32' : 'string'])) },
    },
  };
}

/** The quantize.imatrix.* keys llama-quantize writes (file, first dataset, entries, chunks when > 0). */
function imatrixKeys(im: QuantizeImatrixInfo | undefined): Record<string, string | number> {
  if (!im) return {};
  return {
    'quantize.imatrix.file': im.source.slice(0, 127),
    ...(im.dataset !== undefined ? { 'quantize.imatrix.dataset': im.dataset.slice(0, 127) } : {}),
    'quantize.imatrix.entries_count': im.entries,
    ...(im.chunks > 0 ? { 'quantize.imatrix.chunks_count': im.chunks } : {}),
  };
}

/** The imatrix the options name (a file, or computed from a calibration text), checked as llama-quantize checks it. */
function loadImatrix(opts: QuantizeOptions, source: ModelBundle): { m: Imatrix; weights: ImatrixWeights; from: string } | undefined {
  if (opts.imatrix !== undefined && opts.imatrixData !== undefined) throw new FormatError(opts.input, '--imatrix', 'give --imatrix or --imatrix-data, not both');
  let m: Imatrix;
  const from = opts.imatrix ?? opts.imatrixData;
  if (opts.imatrix !== undefined) {
    if (!existsSync(opts.imatrix)) throw new FormatError(opts.imatrix, '--imatrix', 'file not found');
    m = readImatrix(opts.imatrix);
    if (m.format === 'gguf' && !m.hasMetadata) throw new FormatError(opts.imatrix, 'imatrix.chunk_count', 'missing imatrix metadata (imatrix.datasets, chunk_count, chunk_size), which llama-quantize requires');
  } else if (opts.imatrixData !== undefined) {
    m = imatrixFromText(source, opts.imatrixData, { ctx: opts.imatrixCtx ?? DEFAULT_IMATRIX_CTX, ...(opts.imatrixChunks !== undefined ? { chunks: opts.imatrixChunks } : {}) });
  } else return undefined;
  const weights = imatrixWeights(m);
  for (const [name, w] of weights) if (!w.every(Number.isFinite)) throw new FormatError(from ?? '', `entry '${name}'`, 'the importance matrix holds a non-finite value');
  return { m, weights, from: from ?? '' };
}

const TOKEN_EMBD = /^(token_embd|per_layer_token_embd|model\.embed_tokens)\.weight$/;

/**
 * Each converted tensor's importance weights, looked up by name as llama-quantize does: none when the imatrix
 * has no entry; an error when the entry's size is not the row length (except token_embd, which is skipped);
 * an error when the target type needs an imatrix and there is none for the tensor (tensor_requires_imatrix).
 */
function importanceTable(plan: QuantPlan, loaded: { weights: ImatrixWeights; from: string } | undefined, input: string): Map<string, Float32Array> {
  const table = new Map<string, Float32Array>();
  for (const e of plan.entries.filter((x) => x.to !== x.from)) {
    const cols = e.shape[e.shape.length - 1] ?? 0;
    const w = loaded ? weightsFor(loaded.weights, e.name) : undefined;
    if (w && w.length !== cols && !TOKEN_EMBD.test(e.name)) throw new FormatError(loaded?.from ?? input, `entry '${e.name}'`, `${w.length} importance weights, but the tensor's rows have ${cols} values`);
    if (w && w.length === cols) table.set(e.name, w);
    else if (requiresImatrix(e.name, e.to, plan.ftype)) throw new FormatError(input, '--imatrix', `scheme ${plan.scheme} quantizes ${e.name} to ${e.to}, which needs an importance matrix${loaded ? ' entry for it' : ' (give --imatrix or --imatrix-data)'}`);
  }
  return table;
}

/**
 * Records the quantized weights' logits fingerprint in an APR output (as `apr import` does), rewriting the
 * file from itself; returns the new size, or undefined when the model cannot be run (then no golden is kept).
 */
function recordGolden(path: string): number | undefined {
  const written = openModel(path);
  try {
    let golden: Record<string, unknown>;
    try {
      golden = fingerprintForImport(written);
    } catch {
      return undefined;
    }
    return writeModel({ ...written, metadata: { ...written.metadata, golden } }, path, 'apr');
  } finally {
    written.tensors.close();
  }
}

function checkFormat(input: string, plan: QuantPlan, format: OutputFormat): void {
  const own = plan.entries.find((e) => DTYPES[e.to].id >= 128);
  if (own && format !== 'apr') throw new FormatError(input, '--format', `scheme ${plan.scheme} gives ${own.to} tensors, which only APR stores (write .apr)`);
}

function imatrixInfo(loaded: ReturnType<typeof loadImatrix>, opts: QuantizeOptions, weighted: number): QuantizeImatrixInfo | undefined {
  if (!loaded) return undefined;
  const { m, from } = loaded;
  return { source: from, computed: opts.imatrixData !== undefined, entries: m.entries.size, chunks: m.chunkCount, ...(m.datasets[0] !== undefined ? { dataset: m.datasets[0] } : {}), weighted };
}

function run(opts: QuantizeOptions): QuantizeResult {
  const scheme = schemeOf(opts.input, opts.scheme);
  const format = opts.format ? outputFormatFor(opts.output, opts.format) : opts.output.endsWith('.gguf') ? 'gguf' : 'apr';
  const source = openModel(opts.input);
  try {
    const loaded = loadImatrix(opts, source);
    const plan = planBundle(source, scheme, { pure: opts.pure ?? false, imatrix: loaded !== undefined });
    checkFormat(opts.input, plan, format);
    const table = importanceTable(plan, loaded, opts.input);
    const imatrix = imatrixInfo(loaded, opts, table.size);
    const inputDigest = sourceDigest(opts.input);
    const provenance = provenanceEntry({
      op: 'quantize',
      options: { scheme, pure: opts.pure ?? false, format, from: source.source.format, ...(imatrix ? { imatrix: { source: imatrix.source, computed: imatrix.computed, entries: imatrix.entries, chunks: imatrix.chunks } } : {}) },
      inputDigests: [inputDigest],
      toolVersion: TOOL_VERSION,
    });
    let done = 0;
    const lookup: ImportanceLookup = (name) => table.get(name);
    const out = quantizedBundle(outputMetadata(source, plan.ftype, format, imatrix), plan, (name) => opts.onTensor?.(name, ++done, plan.entries.length), lookup);
    const t0 = performance.now();
    const written = writeModel(out, opts.output, format, provenance);
    const fileBytes = (format === 'apr' ? recordGolden(opts.output) : undefined) ?? written;
    const seconds = (performance.now() - t0) / 1000;
    return { input: opts.input, ...plan, output: opts.output, format, fileBytes, seconds, mbPerSecond: plan.sourceBytes / 1e6 / seconds, inputDigest, tokenizer: source.tokenizer !== undefined, ...(imatrix ? { imatrix } : {}) };
  } finally {
    source.tensors.close();
  }
}

/** `apr quantize`: writes `opts.output` with every tensor in the dtype the scheme gives it. */
export function quantizeModel(opts: QuantizeOptions): QuantizeResult {
  return quantizeContract.run(opts, () => run(opts));
}

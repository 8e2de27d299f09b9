/**
 * `apr quantize`: a model → the same model with its weights in a scheme's dtypes (llama.cpp's block types
 * and tensor selection, NF4, aprender's APR_Q8/APR_Q4, F16/BF16), streamed tensor by tensor, atomically.
 */
import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineContract } from '../contract/index.js';
import { fingerprintForImport } from '../eval/integrity/golden.js';
import { FormatError } from '../formats/errors.js';
import { type OutputFormat, openModel, outputFormatFor, writeModel } from '../formats/open.js';
import { provenanceEntry } from '../formats/provenance.js';
import { sourceDigest } from '../formats/source-digest.js';
import type { ModelBundle } from '../tensor/bundle.js';
import { DTYPES, byteSize } from '../tensor/dtype.js';
import { type PlanEntry, type QuantPlan, planBundle, quantizedBundle } from '../tensor/quant/model.js';
import { SCHEMES, type SchemeName, isSchemeName } from '../tensor/quant/recipes.js';
import { TOOL_VERSION } from './version.js';

export interface QuantizePlanOptions {
  input: string;
  scheme: string;
  /** llama-quantize --pure: no mixture rules, every quantizable tensor in the scheme's base type. */
  pure?: boolean;
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

export interface QuantizeResult extends QuantizePlanResult {
  output: string;
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
  spec: 'quantize(m, s) = m′ with names(m′) = names(m), dtype(m′_t) = type_s(t), m′_t = q_type(m_t) for every t; tokenizer and config kept',
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
      return { input: opts.input, ...planBundle(bundle, scheme, { pure: opts.pure ?? false }) };
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
function outputMetadata(bundle: ModelBundle, ftype: number | undefined, format: OutputFormat): ModelBundle {
  const { golden: _stale, ...metadata } = bundle.metadata;
  const gguf = metadata['gguf'];
  if (ftype === undefined || (format !== 'gguf' && (typeof gguf !== 'object' || gguf === null))) return { ...bundle, metadata };
  const types = metadata['gguf_types'];
  return {
    ...bundle,
    metadata: {
      ...metadata,
      gguf: { ...(typeof gguf === 'object' && gguf !== null ? gguf : {}), 'general.file_type': ftype },
      gguf_types: { ...(typeof types === 'object' && types !== null ? types : {}), 'general.file_type': 'u32' },
    },
  };
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

function run(opts: QuantizeOptions): QuantizeResult {
  const scheme = schemeOf(opts.input, opts.scheme);
  const format = opts.format ? outputFormatFor(opts.output, opts.format) : opts.output.endsWith('.gguf') ? 'gguf' : 'apr';
  const source = openModel(opts.input);
  try {
    const plan = planBundle(source, scheme, { pure: opts.pure ?? false });
    checkFormat(opts.input, plan, format);
    const inputDigest = sourceDigest(opts.input);
    const provenance = provenanceEntry({
      op: 'quantize',
      options: { scheme, pure: opts.pure ?? false, format, from: source.source.format },
      inputDigests: [inputDigest],
      toolVersion: TOOL_VERSION,
    });
    let done = 0;
    const out = quantizedBundle(outputMetadata(source, plan.ftype, format), plan, (name) => opts.onTensor?.(name, ++done, plan.entries.length));
    const t0 = performance.now();
    const written = writeModel(out, opts.output, format, provenance);
    const fileBytes = (format === 'apr' ? recordGolden(opts.output) : undefined) ?? written;
    const seconds = (performance.now() - t0) / 1000;
    return { input: opts.input, ...plan, output: opts.output, format, fileBytes, seconds, mbPerSecond: plan.sourceBytes / 1e6 / seconds, inputDigest, tokenizer: source.tokenizer !== undefined };
  } finally {
    source.tensors.close();
  }
}

/** `apr quantize`: writes `opts.output` with every tensor in the dtype the scheme gives it. */
export function quantizeModel(opts: QuantizeOptions): QuantizeResult {
  return quantizeContract.run(opts, () => run(opts));
}

import { existsSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { defineContract } from '../contract/index.js';
import { FormatError } from '../formats/errors.js';
import { type OutputFormat, openModel, outputFormatFor, writeModel } from '../formats/open.js';
import { provenanceEntry } from '../formats/provenance.js';
import { sourceDigest } from '../formats/source-digest.js';
import type { ArchConfig, ModelBundle } from '../tensor/bundle.js';
import { elementCount } from '../tensor/dtype.js';
import { fingerprintForImport } from '../eval/integrity/golden.js';
import { TOOL_VERSION } from './version.js';

export interface ConvertOptions {
  input: string;
  output: string;
  /** apr | gguf | safetensors; default from the output extension (import defaults to apr). */
  format?: string;
  /** Override the detected architecture. */
  arch?: ArchConfig['architecture'];
  /** Store a golden logits fingerprint in APR output (default true; it loads the whole model once). */
  golden?: boolean;
}

export interface ConvertResult {
  input: string;
  output: string;
  format: OutputFormat;
  architecture: string;
  tensors: number;
  parameters: number;
  bytes: number;
  inputDigest: string;
}

function samePath(a: string, b: string): boolean {
  if (!existsSync(b)) return resolve(a) === resolve(b);
  return realpathSync(a) === realpathSync(b);
}

export const convertContract = defineContract<ConvertOptions, ConvertResult>({
  id: 'op-convert-v1',
  equation: 'convert',
  spec: 'convert(m, fmt) = m′ with names(m′) = names(m), shape and bytes of every tensor equal (lossless container change)',
  pre: [
    ['input exists', ({ input }) => existsSync(input)],
    ['output is not the input', ({ input, output }) => !samePath(input, output)],
  ],
  post: [
    ['every tensor written', ({ output }, r) => {
      const written = openModel(output, { verifyFooter: true });
      try {
        return written.tensors.names().length === r.tensors;
      } finally {
        written.tensors.close();
      }
    }],
  ],
});

function withArch(bundle: ModelBundle, arch: ArchConfig['architecture'] | undefined): ModelBundle {
  return arch ? { ...bundle, config: { ...bundle.config, architecture: arch } } : bundle;
}

function convert(op: 'import' | 'export', opts: ConvertOptions, defaultFormat: OutputFormat): ConvertResult {
  const format = opts.format ? outputFormatFor(opts.output, opts.format) : opts.output.endsWith('.gguf') || opts.output.endsWith('.apr') ? outputFormatFor(opts.output) : defaultFormat;
  const bundle = withArch(openModel(opts.input), opts.arch);
  try {
    const inputDigest = sourceDigest(opts.input);
    const provenance = provenanceEntry({
      op,
      options: { format, ...(opts.arch ? { arch: opts.arch } : {}), from: bundle.source.format },
      inputDigests: [inputDigest],
      toolVersion: TOOL_VERSION,
    });
    const names = bundle.tensors.names();
    let parameters = 0;
    for (const n of names) parameters += elementCount(bundle.tensors.get(n)?.shape ?? []);
    // APR files carry a golden logits fingerprint so `apr check` stage 10 can tell later that they still compute the same function.
    const out = format === 'apr' && opts.golden !== false ? { ...bundle, metadata: { ...bundle.metadata, golden: fingerprintForImport(bundle) } } : bundle;
    const bytes = writeModel(out, opts.output, format, provenance);
    return { input: opts.input, output: opts.output, format, architecture: bundle.config.architecture, tensors: names.length, parameters, bytes, inputDigest };
  } finally {
    bundle.tensors.close();
  }
}

/** `apr import`: any supported model → APR (or another format), lossless, streaming, atomic. */
export function importModel(opts: ConvertOptions): ConvertResult {
  return convertContract.run(opts, () => convert('import', opts, 'apr'));
}

/** `apr export`: any supported model → GGUF or a SafeTensors HF folder, lossless, streaming, atomic. */
export function exportModel(opts: ConvertOptions): ConvertResult {
  if (!opts.format && !opts.output.endsWith('.gguf')) throw new FormatError(opts.output, '--format', 'give --format gguf|safetensors|apr');
  return convertContract.run(opts, () => convert('export', opts, 'safetensors'));
}

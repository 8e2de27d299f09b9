/**
 * `apr imatrix`: llama-imatrix's importance matrix of a model over a calibration text (Σx² per input column of
 * every layer matmul weight, and the token counts), written in llama.cpp's GGUF or legacy `.dat` format so
 * that llama-quantize --imatrix and apr quantize --imatrix read it.
 */
import { existsSync } from 'node:fs';
import { defineContract } from '../contract/index.js';
import { imatrixFromText } from '../eval/imatrix.js';
import { FormatError } from '../formats/errors.js';
import { readImatrix } from '../formats/imatrix/read.js';
import { type ImatrixFormat, imatrixWeights } from '../formats/imatrix/types.js';
import { writeImatrix } from '../formats/imatrix/write.js';
import { openModel } from '../formats/open.js';

export interface ImatrixOptions {
  input: string;
  /** Calibration text (llama-imatrix -f). */
  data: string;
  output: string;
  /** Tokens per chunk (llama-imatrix -c; default 512, as llama-imatrix). */
  ctx?: number;
  /** At most this many chunks (--chunks; default all). */
  chunks?: number;
  /** gguf (llama-imatrix's default) or dat (--output-format dat); default dat for a .dat output, else gguf. */
  format?: string;
  onChunk?: (done: number, total: number) => void;
}

export interface ImatrixResult {
  input: string;
  output: string;
  format: ImatrixFormat;
  dataset: string;
  /** Tokens of the calibration text. */
  textTokens: number;
  chunks: number;
  ctx: number;
  /** Weights with an entry (by GGUF name). */
  entries: number;
  /** Whether every chunk started with BOS. */
  bos: boolean;
  seconds: number;
}

export const DEFAULT_IMATRIX_CTX = 512;

function formatOf(output: string, format: string | undefined): ImatrixFormat {
  if (format === undefined) return output.endsWith('.dat') ? 'dat' : 'gguf';
  if (format !== 'gguf' && format !== 'dat') throw new FormatError(output, '--format', `expected gguf or dat, got '${format}'`);
  return format;
}

/** The written file reads back with one entry per collected weight and weights that are finite and ≥ 0. */
function readsBack(r: ImatrixResult): boolean {
  const m = readImatrix(r.output);
  const weights = [...imatrixWeights(m).values()];
  return m.entries.size === r.entries && m.format === r.format && weights.every((w) => w.every((v) => v >= 0 && Number.isFinite(v)));
}

export const imatrixContract = defineContract<ImatrixOptions, ImatrixResult>({
  id: 'op-imatrix-v1',
  equation: 'imatrix',
  spec: 'imatrix(m, text) = {w: (Σ_chunks Σ_rows x_j², count_w)} for every layer matmul weight w, in llama.cpp\'s imatrix format',
  pre: [
    ['input exists', ({ input }) => existsSync(input)],
    ['calibration text exists', ({ data }) => existsSync(data)],
    ['ctx ≥ 1 when given', ({ ctx }) => ctx === undefined || (Number.isInteger(ctx) && ctx >= 1)],
    ['chunks ≥ 1 when given', ({ chunks }) => chunks === undefined || (Number.isInteger(chunks) && chunks >= 1)],
  ],
  post: [['the file reads back: one entry per weight, finite non-negative weights', (_i, r) => readsBack(r)]],
});

/** Computes the importance matrix of `opts.input` over `opts.data` and writes it to `opts.output`. */
export function computeImatrixFile(opts: ImatrixOptions): ImatrixResult {
  return imatrixContract.run(opts, () => {
    const format = formatOf(opts.output, opts.format);
    const t0 = performance.now();
    const bundle = openModel(opts.input);
    try {
      const ctx = opts.ctx ?? DEFAULT_IMATRIX_CTX;
      const m = imatrixFromText(bundle, opts.data, { ctx, ...(opts.chunks !== undefined ? { chunks: opts.chunks } : {}), ...(opts.onChunk ? { onChunk: opts.onChunk } : {}) });
      writeImatrix(opts.output, m, format);
      const seconds = (performance.now() - t0) / 1000;
      return { input: opts.input, output: opts.output, format, dataset: opts.data, textTokens: m.textTokens, chunks: m.chunkCount, ctx, entries: m.entries.size, bos: m.bos, seconds };
    } finally {
      bundle.tensors.close();
    }
  });
}

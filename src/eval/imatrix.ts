/**
 * Computing an importance matrix as llama-imatrix does (tools/imatrix/imatrix.cpp, commit 80fb11a): the text
 * is tokenized whole (BOS first when the tokenizer adds one), cut into non-overlapping chunks of `ctx`
 * tokens, and each chunk is run from an empty cache (its first token replaced by BOS when the tokenizer
 * adds one). For every matrix multiplication by a layer weight (`blk.*`: q/k/v, attn_output, ffn_gate,
 * ffn_up, ffn_down; output.weight is not collected, as without --process-output) every input row x adds
 * x_j² to column j's sum, in float32 in token order, and one to the weight's count. All tokens of a chunk
 * are collected (the first-half skip of llama-imatrix applies only to its perplexity estimate).
 */
import { existsSync, readFileSync } from 'node:fs';
import { defineContract } from '../contract/index.js';
import { FormatError } from '../formats/errors.js';
import type { Imatrix, ImatrixEntry } from '../formats/imatrix/types.js';
import type { CollectedImatrix } from '../formats/imatrix/write.js';
import { hfNameFromGguf } from '../formats/gguf/names.js';
import type { ActivationSite } from '../model/decoder.js';
import { loadModel } from '../model/load.js';
import type { ModelBundle } from '../tensor/bundle.js';
import { type Tokenizer, loadTokenizer } from '../tokenizer/index.js';

const f = Math.fround;

export interface ImatrixComputeOptions {
  /** Tokens per chunk (llama-imatrix -c). */
  ctx: number;
  /** Use at most this many chunks (--chunks); default every whole chunk of the text. */
  chunks?: number;
  /** The dataset name recorded in the file (llama-imatrix records the -f path). */
  dataset: string;
  onChunk?: (done: number, total: number) => void;
}

export interface ImatrixComputeResult extends CollectedImatrix {
  /** Tokens of the whole text. */
  textTokens: number;
  /** Whether each chunk began with BOS. */
  bos: boolean;
}

/** The GGUF names of the weights whose input is each observer site (llama.cpp's tensor names). */
const SITE_WEIGHTS: Readonly<Record<Exclude<ActivationSite, 'residual'>, readonly string[]>> = {
  attn_in: ['attn_q', 'attn_k', 'attn_v', 'attn_qkv'],
  o_in: ['attn_output'],
  mlp_in: ['ffn_gate', 'ffn_up'],
  down_in: ['ffn_down'],
};

/** The weights of `bundle` that read site `site` of layer l, by GGUF name. */
function weightsAt(bundle: ModelBundle, layer: number, site: Exclude<ActivationSite, 'residual'>): string[] {
  return SITE_WEIGHTS[site]
    .map((part) => `blk.${layer}.${part}.weight`)
    .filter((g) => bundle.tensors.get(g) !== undefined || bundle.tensors.get(hfNameFromGguf(g) ?? g) !== undefined);
}

/** Σx² per column and rows seen, for one observer site, accumulated in float32 as llama-imatrix does. */
interface SiteSums {
  sums: Float32Array;
  count: number;
}

function accumulate(acc: SiteSums, rows: Float32Array, n: number, dim: number): void {
  const s = acc.sums;
  for (let r = 0; r < n; r++) {
    const o = r * dim;
    for (let j = 0; j < dim; j++) {
      const v = rows[o + j] ?? 0;
      s[j] = f((s[j] ?? 0) + f(v * v));
    }
  }
  acc.count += n;
}

/** The chunks llama-imatrix evaluates: whole `ctx`-token slices from the start, at most `chunks`, BOS-led when `bos`. */
export function imatrixChunks(ids: readonly number[], ctx: number, chunks: number | undefined, bosId: number | undefined): number[][] {
  if (ids.length < 2 * ctx) throw new RangeError(`the text tokenizes to ${ids.length} tokens; a context of ${ctx} needs at least ${2 * ctx}`);
  const n = Math.min(chunks ?? Infinity, Math.floor(ids.length / ctx));
  const out: number[][] = [];
  for (let i = 0; i < n; i++) {
    const chunk = ids.slice(i * ctx, (i + 1) * ctx);
    if (bosId !== undefined) chunk[0] = bosId;
    out.push(chunk);
  }
  return out;
}

/** The BOS id when the tokenizer adds one to an encoded text (llama_vocab_get_add_bos), else undefined. */
function addedBos(tokenizer: Tokenizer): number | undefined {
  const bos = tokenizer.bosTokenId;
  return bos !== undefined && tokenizer.encode('', { addSpecialTokens: true })[0] === bos ? bos : undefined;
}

function entriesOf(bundle: ModelBundle, sites: Map<string, SiteSums>): Map<string, ImatrixEntry> {
  const entries = new Map<string, ImatrixEntry>();
  for (const [key, acc] of sites) {
    const [layer, site] = key.split(':') as [string, Exclude<ActivationSite, 'residual'>];
    for (const g of weightsAt(bundle, Number(layer), site)) entries.set(g, { sums: Float32Array.from(acc.sums), counts: [acc.count] });
  }
  return entries;
}

interface ComputeInput {
  bundle: ModelBundle;
  tokenizer: Tokenizer;
  text: string;
  opts: ImatrixComputeOptions;
}

function countsAgree(r: ImatrixComputeResult): boolean {
  return [...r.entries.values()].every((e) => e.counts.length === 1 && e.counts[0] === r.chunkCount * r.chunkSize && e.sums.every((v) => v >= 0 && Number.isFinite(v)));
}

export const imatrixComputeContract = defineContract<ComputeInput, ImatrixComputeResult>({
  id: 'op-imatrix-v1',
  equation: 'imatrix_sums',
  spec: 'S_w[j] = Σ over the input rows x of weight w in the chunks of Σ x_j² (float32, token order); count_w = chunks·ctx',
  pre: [
    ['ctx ≥ 1', ({ opts }) => Number.isInteger(opts.ctx) && opts.ctx >= 1],
    ['chunks ≥ 1 when given', ({ opts }) => opts.chunks === undefined || (Number.isInteger(opts.chunks) && opts.chunks >= 1)],
  ],
  post: [['every count = chunks × ctx; every sum finite and ≥ 0', (_i, r) => countsAgree(r)]],
});

/** Runs the model over the chunks of `text` and returns the raw sums and counts llama-imatrix would save. */
export function computeImatrix(bundle: ModelBundle, tokenizer: Tokenizer, text: string, opts: ImatrixComputeOptions): ImatrixComputeResult {
  return imatrixComputeContract.run({ bundle, tokenizer, text, opts }, () => {
    const ids = tokenizer.encode(text, { addSpecialTokens: true });
    const bos = addedBos(tokenizer);
    const chunks = imatrixChunks(ids, opts.ctx, opts.chunks, bos);
    const sites = new Map<string, SiteSums>();
    const model = loadModel(bundle, {
      observer: (layer, site, rows, n, dim) => {
        if (site === 'residual') return;
        const key = `${layer}:${site}`;
        let acc = sites.get(key);
        if (!acc) sites.set(key, (acc = { sums: new Float32Array(dim), count: 0 }));
        accumulate(acc, rows, n, dim);
      },
    });
    try {
      const cache = model.createCache(opts.ctx);
      chunks.forEach((c, i) => {
        model.forward(c, 0, cache);
        opts.onChunk?.(i + 1, chunks.length);
      });
    } finally {
      model.dispose();
    }
    return { entries: entriesOf(bundle, sites), datasets: [opts.dataset], chunkCount: chunks.length, chunkSize: opts.ctx, textTokens: ids.length, bos: bos !== undefined };
  });
}

/** The bundle's tokenizer (the file and field named when it has none). */
export function bundleTokenizer(bundle: ModelBundle): Tokenizer {
  if (!bundle.tokenizer) throw new FormatError(bundle.source.path, 'tokenizer', 'the model carries no tokenizer (needed to tokenize the calibration text)');
  return loadTokenizer(bundle.tokenizer, { source: `${bundle.source.path}: tokenizer`, modelConfig: bundle.config });
}

/** Reads the calibration text `dataPath` and computes the importance matrix of `bundle` over it (GGUF semantics). */
export function imatrixFromText(bundle: ModelBundle, dataPath: string, opts: Omit<ImatrixComputeOptions, 'dataset'>): Imatrix & ImatrixComputeResult {
  if (!existsSync(dataPath)) throw new FormatError(dataPath, 'calibration text', 'file not found');
  const text = readFileSync(dataPath, 'utf8');
  const tokenizer = bundleTokenizer(bundle);
  let r: ImatrixComputeResult;
  try {
    r = computeImatrix(bundle, tokenizer, text, { ...opts, dataset: dataPath });
  } catch (e) {
    if (e instanceof RangeError) throw new FormatError(dataPath, 'text', e.message);
    throw e;
  }
  return { ...r, format: 'gguf', hasMetadata: true };
}

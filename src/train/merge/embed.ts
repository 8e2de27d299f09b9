import { MergeConfigError, type TokenEmbedding } from './config.js';
import type { VocabPlan } from './vocab.js';

/**
 * Each model's embedding (or LM head) rows rearranged to the output vocabulary before the merge method runs
 * (mergekit/tokenizer/embed.py `PermutedEmbeddings`). A model keeps its own row for every token it has; for a
 * token it lacks it gets a fallback row:
 *
 * - the row named in `tokenizer.tokens` (a model's row for that token, another token's row, or zeros);
 * - else, when only one model has the token, that model's row;
 * - else, when the base model has it, the base's row;
 * - else the mean of the rows of the models that have it (zeros when none has it).
 * A `force`d token takes its configured row in every model. Padding rows (pad_to_multiple_of) get the mean
 * of the token rows. Means are accumulated in float64 and rounded once to float32.
 */
export interface EmbedRequest {
  plan: VocabPlan;
  /** Each model's tensor [rows_m, cols] by model key; the base's included when there is a base. */
  tensors: ReadonlyMap<string, Float32Array>;
  cols: number;
  base: string | undefined;
  /** `tokenizer.tokens`, with model references as model keys. */
  tokens: ReadonlyMap<string, TokenEmbedding>;
  configPath: string;
}

function rowOf(t: Float32Array, row: number, cols: number): Float32Array {
  return t.subarray(row * cols, (row + 1) * cols);
}

function permOf(req: EmbedRequest, model: string): Int32Array {
  const p = req.plan.perms.get(model);
  if (!p) throw new MergeConfigError(req.configPath, 'tokenizer', `${model} is not one of the merged models`);
  return p;
}

function tensorOf(req: EmbedRequest, model: string, field: string): Float32Array {
  const t = req.tensors.get(model);
  if (!t) throw new MergeConfigError(req.configPath, field, `${model} does not supply this tensor to the merge`);
  return t;
}

/** mergekit's assign_embedding_sources: a configured source per token, or the set of ids to average. */
function assignSources(req: EmbedRequest, models: readonly string[]): { configs: Map<string, TokenEmbedding>; average: Set<number> } {
  const configs = new Map(req.tokens);
  const average = new Set<number>();
  for (const [tok, id] of req.plan.entries) {
    if (configs.has(tok)) continue;
    const present = models.filter((m) => (permOf(req, m)[id] as number) >= 0);
    const only = present.length === 1 ? present[0] : undefined;
    if (only !== undefined) configs.set(tok, { source: { kind: 'model', model: only }, force: false });
    else if (present.length === 0) configs.set(tok, { source: { kind: 'zero' }, force: false });
    else if (req.base !== undefined && (permOf(req, req.base)[id] as number) >= 0) configs.set(tok, { source: { kind: 'model', model: req.base }, force: false });
    else average.add(id);
  }
  return { configs, average };
}

function meanRow(rows: readonly Float32Array[], cols: number): Float32Array {
  const acc = new Float64Array(cols);
  for (const r of rows) for (let j = 0; j < cols; j++) acc[j] = (acc[j] as number) + (r[j] as number);
  const out = new Float32Array(cols);
  if (rows.length > 0) for (let j = 0; j < cols; j++) out[j] = (acc[j] as number) / rows.length;
  return out;
}

/** compute_default_embedding: the configured row of one token. */
function configuredRow(req: EmbedRequest, tok: string, id: number, cfg: TokenEmbedding): Float32Array {
  const field = `tokenizer.tokens.${tok}.source`;
  const src = cfg.source;
  if (src.kind === 'zero') return new Float32Array(req.cols);
  const t = tensorOf(req, src.model, field);
  if (src.kind === 'model') {
    const row = permOf(req, src.model)[id] as number;
    if (row < 0) throw new MergeConfigError(req.configPath, field, `token ${JSON.stringify(tok)} is not in ${src.model}`);
    return rowOf(t, row, req.cols);
  }
  const row = src.tokenId ?? req.plan.originals.get(src.model)?.get(src.token ?? '');
  if (row === undefined) throw new MergeConfigError(req.configPath, field, `token ${JSON.stringify(src.token)} is not in ${src.model}`);
  if (row * req.cols >= t.length) throw new MergeConfigError(req.configPath, field, `token id ${row} is out of range for ${src.model}`);
  return rowOf(t, row, req.cols);
}

/** Fallback rows by output id. */
function defaultRows(req: EmbedRequest, models: readonly string[]): { rows: Map<number, Float32Array>; configs: Map<string, TokenEmbedding> } {
  const { configs, average } = assignSources(req, models);
  const rows = new Map<number, Float32Array>();
  for (const [tok, id] of req.plan.entries) {
    if (average.has(id)) {
      const have = models.filter((m) => (permOf(req, m)[id] as number) >= 0);
      rows.set(id, meanRow(have.map((m) => rowOf(tensorOf(req, m, 'tokenizer'), permOf(req, m)[id] as number, req.cols)), req.cols));
      continue;
    }
    const cfg = configs.get(tok);
    if (cfg) rows.set(id, configuredRow(req, tok, id, cfg));
  }
  return { rows, configs };
}

/** Every model's tensor with `plan.rows` rows in output-vocabulary order, by model key. */
export function permutedEmbeddings(req: EmbedRequest): Map<string, Float32Array> {
  const models = [...req.tensors.keys()];
  const { rows: fallback, configs } = defaultRows(req, models);
  const { cols } = req;
  const out = new Map<string, Float32Array>();
  for (const m of models) {
    const own = tensorOf(req, m, 'tokenizer');
    const p = permOf(req, m);
    const e = new Float32Array(req.plan.rows * cols);
    const filled = new Uint8Array(req.plan.rows);
    for (const [tok, id] of req.plan.entries) {
      const src = p[id] as number;
      const row = src >= 0 && !(configs.get(tok)?.force ?? false) ? rowOf(own, src, cols) : fallback.get(id);
      if (row) e.set(row, id * cols);
      filled[id] = 1;
    }
    if (req.plan.entries.length < req.plan.rows) {
      const mean = meanRow(req.plan.entries.map(([, id]) => rowOf(e, id, cols)), cols);
      for (let id = 0; id < req.plan.rows; id++) if (!filled[id]) e.set(mean, id * cols);
    }
    out.set(m, e);
  }
  return out;
}

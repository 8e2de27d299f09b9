import { dirname, join } from 'node:path';
import { FormatError } from '../../formats/errors.js';
import { KvReader, archConfigFromGguf } from '../../formats/gguf/arch-config.js';
import { type GgufTensorInfo, type GgufValue, readGguf } from '../../formats/gguf/index.js';
import { readGgufKv } from './gguf-kv.js';
import { archConfigFromHf } from '../../formats/hf-dir/config-map.js';
import { readJsonFile } from '../../formats/hf-dir/read.js';
import type { AprIndexEntry } from '../../formats/apr/layout.js';
import { decodeMetadata } from '../../formats/apr/metadata.js';
import { parseHeader, parseIndex, parseMetadata } from '../../formats/apr/parse.js';
import type { ArchConfig } from '../../tensor/bundle.js';
import { elementCount } from '../../tensor/dtype.js';
import { type CheckContext, headerRepairedSource } from './context.js';
import { STAGE, ownerStage } from './ownership.js';
import { Findings, type Stage, type StageOutcome, errorMessage } from './types.js';

const ids = (v: number | number[] | null | undefined): number[] => (v === null || v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** Relations between the hyper-parameters that every Llama/Qwen2 decoder needs. */
function configChecks(c: ArchConfig, f: Findings): void {
  if (c.hidden_size % c.num_heads !== 0) f.fail(`num_heads: ${c.num_heads} does not divide hidden_size ${c.hidden_size}`);
  if (c.num_heads % c.num_kv_heads !== 0) f.fail(`num_kv_heads: ${c.num_kv_heads} does not divide num_heads ${c.num_heads} (GQA groups must be whole)`);
  if (c.head_dim % 2 !== 0) f.fail(`head_dim: ${c.head_dim} is odd (RoPE rotates pairs of dimensions)`);
  if (c.num_heads * c.head_dim !== c.hidden_size) f.note(`num_heads × head_dim = ${c.num_heads * c.head_dim} ≠ hidden_size ${c.hidden_size} (explicit head_dim)`);
  if (c.rms_norm_eps > 1e-2) f.warn(`rms_norm_eps: ${c.rms_norm_eps} is implausibly large (usually 1e-6..1e-5)`);
  if (c.max_position_embeddings < 16) f.warn(`max_position_embeddings: ${c.max_position_embeddings} is implausibly small`);
  for (const [key, v] of [['bos_token_id', c.bos_token_id], ['eos_token_id', c.eos_token_id]] as const) {
    for (const id of ids(v)) if (id >= c.vocab_size) f.fail(`${key}: ${id} is outside the vocabulary [0, ${c.vocab_size})`);
  }
}

function describe(c: ArchConfig): string {
  const gqa = c.num_kv_heads === c.num_heads ? 'MHA' : `GQA ${c.num_heads / c.num_kv_heads}:1`;
  return `${c.architecture}: ${c.num_layers} layers, hidden ${c.hidden_size}, ${c.num_heads} heads × ${c.head_dim} with ${c.num_kv_heads} KV heads (${gqa}), FFN ${c.intermediate_size}, vocab ${c.vocab_size}, context ${c.max_position_embeddings}, ${c.tie_word_embeddings ? 'tied' : 'untied'} embeddings`;
}

const NON_CONFIG_KEYS = ['integrity', 'provenance', 'tokenizer.json', 'tokenizer_config', 'chat_template', 'generation_config'];

/**
 * The stored counts the writer derives from the index. Files from this toolkit (they carry `integrity`)
 * must agree exactly; for other writers (aprender) whose counting rules may differ, a mismatch is a warning.
 */
function aprCounts(meta: Record<string, unknown>, entries: readonly AprIndexEntry[], f: Findings): void {
  const report = 'integrity' in meta ? (m: string): void => f.fail(m) : (m: string): void => f.warn(m);
  const params = entries.reduce((n, e) => n + elementCount(e.shape), 0);
  const bytes = entries.reduce((n, e) => n + e.size, 0);
  if ('param_count' in meta && meta['param_count'] !== params) report(`metadata.param_count: ${JSON.stringify(meta['param_count'])}, the index holds ${params} parameters`);
  if ('total_size' in meta && meta['total_size'] !== bytes) report(`metadata.total_size: ${JSON.stringify(meta['total_size'])}, the index holds ${bytes} bytes`);
}

/** APR: the metadata JSON itself (read even when the index is broken), decoded as the reader does. */
function aprConfig(ctx: CheckContext, f: Findings): ArchConfig | undefined {
  const src = headerRepairedSource(ctx.path);
  try {
    const header = parseHeader(src);
    const meta = parseMetadata(src, header);
    let entries: AprIndexEntry[] = [];
    try {
      entries = parseIndex(src, header).entries;
    } catch {
      f.note('index unreadable (stage 3)');
    }
    const configOnly = Object.fromEntries(Object.entries(meta).filter(([k]) => !NON_CONFIG_KEYS.includes(k)));
    const config = decodeMetadata(src.name, configOnly, entries.map((e) => e.name)).config;
    const modelType = meta['model_type'];
    if (typeof modelType === 'string' && modelType.toLowerCase() !== config.architecture) f.fail(`metadata.model_type: '${modelType}' disagrees with architecture '${config.architecture}'`);
    if (entries.length > 0) aprCounts(meta, entries, f);
    return config;
  } catch (err) {
    const containerFault = err instanceof FormatError && (err.field.startsWith('header') || err.field === 'file');
    if (containerFault) f.fail(`not checked: ${errorMessage(err)} (stage 1)`);
    else f.fail(errorMessage(err));
    return undefined;
  } finally {
    src.close();
  }
}

/** GGUF: the `<arch>.*` keys as the reader maps them (without opening the tensors, which may be at fault). */
function ggufConfig(ctx: CheckContext, f: Findings): ArchConfig {
  let kv: Map<string, GgufValue>;
  let tensors: GgufTensorInfo[] = [];
  try {
    const g = readGguf(ctx.path);
    g.close();
    kv = g.kv;
    tensors = g.tensors;
  } catch (err) {
    if (ownerStage('gguf', err) === STAGE.metadata) throw err;
    kv = readGgufKv(ctx.path);
    f.note(`tensor directory unreadable (stage ${ownerStage('gguf', err)}): tied head and biases not derived`);
  }
  const tokens = kv.get('tokenizer.ggml.tokens');
  return archConfigFromGguf(new KvReader(ctx.path, kv), tensors, tokens?.type === 'array' ? tokens.value.length : undefined);
}

/** HF folder or safetensors file: config.json beside the weights. */
function hfConfig(ctx: CheckContext): ArchConfig {
  const path = ctx.format === 'hf-dir' ? join(ctx.path, 'config.json') : join(dirname(ctx.path), 'config.json');
  return archConfigFromHf(path, readJsonFile(path));
}

function configOf(ctx: CheckContext, f: Findings): ArchConfig | undefined {
  if (ctx.format === 'apr') return aprConfig(ctx, f);
  try {
    return ctx.format === 'gguf' ? ggufConfig(ctx, f) : hfConfig(ctx);
  } catch (err) {
    const owner = ownerStage(ctx.format, err);
    f.fail(owner === STAGE.metadata ? errorMessage(err) : `not checked: ${errorMessage(err)} (stage ${owner})`);
    return undefined;
  }
}

export const metadataStage: Stage = {
  id: 2,
  name: 'metadata',
  run(ctx): StageOutcome {
    const f = new Findings();
    const config = configOf(ctx, f);
    if (config) {
      configChecks(config, f);
      f.notes.unshift(describe(config));
    }
    return f.outcome();
  },
};

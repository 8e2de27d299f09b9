import { z } from 'zod';
import { type ArchConfig, ArchConfigSchema, type ModelBundle, type ProvenanceEntry, type TokenizerSpec } from '../../tensor/bundle.js';
import { isDigest } from '../../tensor/digest.js';
import { FormatError } from '../errors.js';
import { APRENDER_TOKENIZER_KEYS, aprenderTokenizerKeys } from './aprender-tokenizer.js';

/**
 * The metadata JSON. Architecture fields sit at the top level under aprender's names (its `AprV2Metadata`),
 * next to `model_type`, `param_count` and `total_size`; the tokenizer is embedded whole (`tokenizer.json`
 * holds the exact text, plus `tokenizer_config`, `chat_template`, `generation_config`); `integrity` maps each
 * tensor to `sha256:<hex>` of its stored bytes; `provenance` lists the operations applied. Any other
 * top-level key is `ModelBundle.metadata` (aprender's flattened `custom` map).
 */
const CONFIG_KEYS = Object.keys(ArchConfigSchema.shape) as (keyof ArchConfig)[];
const TOKENIZER_KEYS = ['tokenizer.json', 'tokenizer_config', 'chat_template', 'generation_config'] as const;

/** Top-level keys that belong to the bundle's own fields rather than to `ModelBundle.metadata`. */
function ownedKeys(hasTokenizer: boolean): Set<string> {
  const keys = new Set<string>([...CONFIG_KEYS, 'model_type', 'param_count', 'total_size', 'integrity', 'provenance']);
  if (hasTokenizer) for (const k of [...TOKENIZER_KEYS, ...APRENDER_TOKENIZER_KEYS]) keys.add(k);
  return keys;
}

/** Keys aprender deserialises into typed fields: a value of another type would make it reject the file. */
const APRENDER_STRINGS = ['name', 'description', 'author', 'license', 'version', 'source', 'original_format', 'created_at', 'chat_format'];
const APRENDER_UINTS = ['rope_type', 'num_experts', 'num_experts_per_tok', 'moe_intermediate_size'];

export interface MetadataInput {
  bundle: ModelBundle;
  integrity: Record<string, string>;
  provenance: ProvenanceEntry[];
  paramCount: number;
  totalSize: number;
  aprenderKeys: boolean;
}

function checkAprenderTypes(extra: Record<string, unknown>): void {
  for (const k of APRENDER_STRINGS) {
    if (k in extra && typeof extra[k] !== 'string') throw new Error(`APR metadata key '${k}' must be a string (aprender reads it as one)`);
  }
  for (const k of APRENDER_UINTS) {
    const v = extra[k];
    if (k in extra && !(Number.isSafeInteger(v) && (v as number) >= 0)) throw new Error(`APR metadata key '${k}' must be a non-negative integer (aprender reads it as one)`);
  }
}

function tokenizerFields(tok: TokenizerSpec | undefined, config: ArchConfig, aprenderKeys: boolean): Record<string, unknown> {
  if (!tok) return {};
  const out: Record<string, unknown> = {};
  if (tok.chatTemplate !== undefined) out['chat_template'] = tok.chatTemplate;
  out['tokenizer.json'] = tok.json;
  if (tok.config !== undefined) out['tokenizer_config'] = tok.config;
  if (tok.generationConfig !== undefined) out['generation_config'] = tok.generationConfig;
  return aprenderKeys ? { ...out, ...aprenderTokenizerKeys(tok.json, config.bos_token_id, config.eos_token_id) } : out;
}

/** The metadata object in a fixed key order (the writer's output is deterministic). */
export function buildMetadata(input: MetadataInput): Record<string, unknown> {
  const { bundle } = input;
  const parsed = ArchConfigSchema.safeParse(bundle.config);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // Stryker disable next-line MethodExpression,OptionalChaining: a failed safeParse always has an issue with a non-empty message, so trim() never changes the text
    throw new Error(`APR: invalid config: ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim());
  }
  const config = parsed.data;
  const skip = ownedKeys(bundle.tokenizer !== undefined);
  const extra = Object.fromEntries(
    Object.keys(bundle.metadata)
      .filter((k) => !skip.has(k))
      .sort()
      .map((k) => [k, bundle.metadata[k]]),
  );
  checkAprenderTypes(extra);
  const configFields = Object.fromEntries(CONFIG_KEYS.filter((k) => config[k] !== undefined).map((k) => [k, config[k]]));
  return {
    model_type: config.architecture,
    ...configFields,
    param_count: input.paramCount,
    total_size: input.totalSize,
    ...tokenizerFields(bundle.tokenizer, config, input.aprenderKeys),
    ...extra,
    integrity: input.integrity,
    provenance: input.provenance,
  };
}

/** `value` as a JSON number, or an error naming the key when it does not fit one exactly. */
function exactNumber(key: string, value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) throw new Error(`APR metadata key '${key}': ${value} does not fit a JSON number exactly`);
  return Number(value);
}

/** Compact UTF-8 JSON. bigint becomes a number (when exact, in a BigInt64Array too) and typed arrays become arrays. */
export function encodeMetadata(meta: Record<string, unknown>): Uint8Array {
  const text = JSON.stringify(meta, (key, value: unknown) => {
    if (typeof value === 'bigint') return exactNumber(key, value);
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) return Array.from(value as unknown as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? exactNumber(key, x) : x));
    return value;
  });
  return new TextEncoder().encode(text);
}

const ProvenanceSchema = z.array(
  z.object({ op: z.string(), options: z.record(z.string(), z.unknown()), inputDigests: z.array(z.string()), toolVersion: z.string(), time: z.string().optional() }),
);

export interface DecodedMetadata {
  config: ArchConfig;
  tokenizer?: TokenizerSpec;
  integrity?: Record<string, string>;
  provenance: ProvenanceEntry[];
  extra: Record<string, unknown>;
}

function zodField(file: string, prefix: string, error: z.ZodError): FormatError {
  const issue = error.issues[0];
  // Stryker disable next-line OptionalChaining: a failed safeParse always has at least one issue
  const path = issue?.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('') ?? '';
  // Stryker disable next-line OptionalChaining: a failed safeParse always has at least one issue
  return new FormatError(file, `${prefix}${path}`, issue?.message ?? 'invalid');
}

/** Architecture config; fields older aprender files may omit are derived as aprender's runtime does. */
function decodeConfig(file: string, meta: Record<string, unknown>, names: ReadonlySet<string>): ArchConfig {
  const picked: Record<string, unknown> = Object.fromEntries(CONFIG_KEYS.filter((k) => k in meta).map((k) => [k, meta[k]]));
  if (typeof picked['architecture'] === 'string') picked['architecture'] = picked['architecture'].toLowerCase();
  const hidden = picked['hidden_size'];
  const heads = picked['num_heads'];
  picked['num_kv_heads'] ??= heads;
  // Stryker disable next-line LogicalOperator: the guard fails only when hidden_size or num_heads is invalid, which zod reports before head_dim (only the first issue is shown)
  if (typeof hidden === 'number' && typeof heads === 'number' && heads > 0) picked['head_dim'] ??= Math.floor(hidden / heads);
  picked['rope_theta'] ??= 10000;
  picked['rms_norm_eps'] ??= 1e-6;
  picked['max_position_embeddings'] ??= 2048;
  picked['tie_word_embeddings'] ??= meta['tied_embeddings'] === true || !names.has('lm_head.weight');
  picked['attention_bias'] ??= names.has('model.layers.0.self_attn.q_proj.bias');
  const parsed = ArchConfigSchema.safeParse(picked);
  if (!parsed.success) throw zodField(file, 'metadata', parsed.error);
  return parsed.data;
}

function objectField(file: string, meta: Record<string, unknown>, key: string): Record<string, unknown> | undefined {
  const v = meta[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FormatError(file, `metadata.${key}`, 'expected a JSON object');
  return v as Record<string, unknown>;
}

function decodeTokenizer(file: string, meta: Record<string, unknown>): TokenizerSpec | undefined {
  const json = meta['tokenizer.json'];
  if (json === undefined) return undefined;
  if (typeof json !== 'string') throw new FormatError(file, 'metadata.tokenizer.json', 'expected the tokenizer.json text as a string');
  const spec: TokenizerSpec = { json };
  const config = objectField(file, meta, 'tokenizer_config');
  if (config) spec.config = config;
  const tmpl = meta['chat_template'];
  if (tmpl !== undefined && typeof tmpl !== 'string') throw new FormatError(file, 'metadata.chat_template', 'expected a string');
  if (tmpl !== undefined) spec.chatTemplate = tmpl;
  const gen = objectField(file, meta, 'generation_config');
  if (gen) spec.generationConfig = gen;
  return spec;
}

function decodeIntegrity(file: string, meta: Record<string, unknown>, names: readonly string[]): Record<string, string> | undefined {
  const integrity = objectField(file, meta, 'integrity');
  if (!integrity) return undefined;
  const known = new Set(names);
  for (const [name, digest] of Object.entries(integrity)) {
    if (!known.has(name)) throw new FormatError(file, `metadata.integrity.${name}`, 'digest for a tensor that is not in the index');
    if (!isDigest(digest)) throw new FormatError(file, `metadata.integrity.${name}`, `expected "sha256:<64 hex>", found ${JSON.stringify(digest)}`);
  }
  for (const name of names) if (!(name in integrity)) throw new FormatError(file, `metadata.integrity.${name}`, 'missing digest');
  return integrity as Record<string, string>;
}

/** Splits the metadata object into the bundle's parts, checking each. */
export function decodeMetadata(file: string, meta: Record<string, unknown>, names: readonly string[]): DecodedMetadata {
  const config = decodeConfig(file, meta, new Set(names));
  const tokenizer = decodeTokenizer(file, meta);
  const integrity = decodeIntegrity(file, meta, names);
  const prov = ProvenanceSchema.safeParse(meta['provenance'] ?? []);
  if (!prov.success) throw zodField(file, 'metadata.provenance', prov.error);
  const consumed = ownedKeys(tokenizer !== undefined);
  const extra = Object.fromEntries(Object.entries(meta).filter(([k]) => !consumed.has(k)));
  return { config, provenance: prov.data, extra, ...(tokenizer ? { tokenizer } : {}), ...(integrity ? { integrity } : {}) };
}

import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { FormatError } from '../../formats/errors.js';
import type { Params, Setting } from './settings.js';

export type { Params, Setting } from './settings.js';

/**
 * A merge configuration, read from mergekit's own YAML (mergekit/config.py `MergeConfiguration`):
 *
 *   models: [{ model: path, parameters: { weight: 0.5, density: [1, 0.5] } }, ...]     # or
 *   slices: [{ sources: [{ model: path, layer_range: [0, 4], parameters: {...} }], base_model, parameters }]
 *   merge_method: ties            base_model: path          parameters: { t: [{ filter: self_attn, value: [0, 1] }, { value: 0.5 }] }
 *   dtype: bfloat16               out_dtype: float16        tokenizer_source: union | base | model:<path> | <path>
 *   tokenizer: { source, tokens: { <tok>: { source, force } }, pad_to_multiple_of }      chat_template: auto | chatml | <jinja>
 */
export class MergeConfigError extends FormatError {
  constructor(file: string, field: string, message: string) {
    super(file, field, message);
    this.name = 'MergeConfigError';
  }
}

const NumericString = z.string().regex(/^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/).transform(Number);
const ScalarSchema = z.union([z.number(), z.boolean(), NumericString]);
/** Gradient anchors are floats in mergekit (pydantic turns true/false into 1/0). */
const GradientSchema = z.array(z.union([z.number(), z.boolean().transform((b) => (b ? 1 : 0)), NumericString])).min(1);
const ConditionSchema = z.object({ filter: z.string().nullish().transform((f) => f ?? undefined), value: z.union([ScalarSchema, GradientSchema]) }).strict();
const SettingSchema = z.union([ScalarSchema, GradientSchema, z.array(ConditionSchema).min(1)]);
const ParamsSchema = z.record(z.string(), SettingSchema).nullish();
const ModelRef = z.string().min(1);
const LayerRange = z.tuple([z.int().nonnegative(), z.int().nonnegative()]).refine(([a, b]) => a < b, 'expected [start, end] with start < end');

const SliceSchema = z
  .object({
    sources: z.array(z.object({ model: ModelRef, layer_range: LayerRange, parameters: ParamsSchema }).strict()).min(1),
    base_model: ModelRef.nullish(),
    residual_weight: z.number().nullish(),
    parameters: ParamsSchema,
  })
  .strict();

const EmbeddingSourceSchema = z.union([
  ModelRef,
  z.object({ kind: z.literal('zero') }).strict(),
  z
    .object({ kind: z.literal('model_token'), model: ModelRef, token_id: z.int().nonnegative().nullish(), token: z.string().nullish() })
    .strict()
    .refine((s) => (s.token_id == null) !== (s.token == null), 'give exactly one of token_id or token'),
]);

const TokenizerSchema = z
  .object({
    source: ModelRef.default('union'),
    tokens: z.record(z.string(), z.object({ source: EmbeddingSourceSchema, force: z.boolean().default(false) }).strict()).nullish(),
    pad_to_multiple_of: z.int().positive().nullish(),
  })
  .strict();

const ConfigSchema = z.object({
  models: z.array(z.object({ model: ModelRef, parameters: ParamsSchema }).strict()).min(1).nullish(),
  slices: z.array(SliceSchema).min(1).nullish(),
  merge_method: z.string().min(1),
  base_model: ModelRef.nullish(),
  parameters: ParamsSchema,
  dtype: z.string().nullish(),
  out_dtype: z.string().nullish(),
  tokenizer_source: ModelRef.nullish(),
  tokenizer: TokenizerSchema.nullish(),
  chat_template: z.string().min(1).nullish(),
});
type ConfigDoc = z.infer<typeof ConfigSchema>;
const KNOWN_FIELDS = new Set([...Object.keys(ConfigSchema.shape), 'modules']);

export interface MergeConfigModel {
  model: string;
  parameters: Params;
}

export interface SliceSourceConfig {
  model: string;
  /** [start, end): input layers start .. end−1. */
  layerRange: readonly [number, number];
  parameters: Params;
}

export interface SliceConfig {
  sources: SliceSourceConfig[];
  baseModel?: string;
  parameters: Params;
}

/** The output vocabulary: the base model's, the union of every model's, or one model's tokenizer. */
export type TokenizerSource = 'union' | 'base' | { model: string };

export type TokenEmbeddingSource = { kind: 'model'; model: string } | { kind: 'zero' } | { kind: 'model_token'; model: string; tokenId?: number; token?: string };

export interface TokenEmbedding {
  source: TokenEmbeddingSource;
  force: boolean;
}

export interface TokenizerConfig {
  source: TokenizerSource;
  /** Per-token embedding sources (`tokenizer.tokens`); tokens not in the vocabulary are added. */
  tokens: ReadonlyMap<string, TokenEmbedding>;
  padToMultipleOf?: number;
}

export interface MergeConfig {
  /** The YAML file (for error messages). */
  path: string;
  mergeMethod: string;
  baseModel?: string;
  /** `models:` (whole models) — exactly one of models and slices is set. */
  models?: MergeConfigModel[];
  slices?: SliceConfig[];
  parameters: Params;
  /** f32 | f16 | bf16, from `out_dtype` or `dtype`. */
  dtype?: 'f32' | 'f16' | 'bf16';
  tokenizer?: TokenizerConfig;
  /** `auto`, a template name (alpaca, chatml, exaone, llama3, mistral) or a Jinja template. */
  chatTemplate?: string;
}

const DTYPE_NAMES: Record<string, 'f32' | 'f16' | 'bf16'> = {
  float32: 'f32', fp32: 'f32', f32: 'f32', float16: 'f16', fp16: 'f16', f16: 'f16', half: 'f16', bfloat16: 'bf16', bf16: 'bf16',
};

/** Resolves a model reference: as given (relative to the working directory) when it exists, else next to the config. */
function modelPath(ref: string, configPath: string): string {
  if (isAbsolute(ref) || existsSync(ref)) return ref;
  const near = resolve(dirname(configPath), ref);
  if (existsSync(near)) return near;
  // mergekit's `model+lora` reference: resolve both halves the same way
  const parts = ref.split('+');
  if (parts.length === 2 && parts.every((p) => p !== '')) return parts.map((p) => modelPath(p, configPath)).join('+');
  return ref;
}

function dtypeOf(path: string, doc: ConfigDoc): MergeConfig['dtype'] {
  const field = doc.out_dtype != null ? 'out_dtype' : 'dtype';
  const name = doc.out_dtype ?? doc.dtype;
  if (name == null) return undefined;
  const d = DTYPE_NAMES[name.toLowerCase().replace(/^torch\./, '')];
  if (!d) throw new MergeConfigError(path, field, `'${name}' is not float32, float16 or bfloat16`);
  return d;
}

const params = (p: Record<string, Setting> | null | undefined): Params => p ?? {};

function tokenizerSource(ref: string, path: string): TokenizerSource {
  if (ref === 'union' || ref === 'base') return ref;
  return { model: modelPath(ref.startsWith('model:') ? ref.slice('model:'.length) : ref, path) };
}

function embeddingSource(s: z.infer<typeof EmbeddingSourceSchema>, path: string): TokenEmbeddingSource {
  if (typeof s === 'string') return { kind: 'model', model: modelPath(s, path) };
  if (s.kind === 'zero') return { kind: 'zero' };
  return { kind: 'model_token', model: modelPath(s.model, path), ...(s.token_id != null ? { tokenId: s.token_id } : {}), ...(s.token != null ? { token: s.token } : {}) };
}

function tokenizerConfig(doc: ConfigDoc, path: string): TokenizerConfig | undefined {
  if (doc.tokenizer != null && doc.tokenizer_source != null) throw new MergeConfigError(path, 'tokenizer', 'give tokenizer or tokenizer_source, not both');
  if (doc.tokenizer_source != null) return { source: tokenizerSource(doc.tokenizer_source, path), tokens: new Map() };
  const t = doc.tokenizer;
  if (t == null) return undefined;
  const tokens = new Map<string, TokenEmbedding>();
  for (const [tok, cfg] of Object.entries(t.tokens ?? {})) tokens.set(tok, { force: cfg.force, source: embeddingSource(cfg.source, path) });
  return { source: tokenizerSource(t.source, path), tokens, ...(t.pad_to_multiple_of != null ? { padToMultipleOf: t.pad_to_multiple_of } : {}) };
}

function slicesOf(doc: ConfigDoc, path: string): SliceConfig[] | undefined {
  return doc.slices?.map((s) => ({
    sources: s.sources.map((src) => ({ model: modelPath(src.model, path), layerRange: src.layer_range, parameters: params(src.parameters) })),
    ...(s.base_model != null ? { baseModel: modelPath(s.base_model, path) } : {}),
    parameters: params(s.parameters),
  }));
}

function issueMessage(issue: z.core.$ZodIssue): string {
  const inParams = issue.path.some((p) => p === 'parameters');
  if (inParams && issue.code === 'invalid_union') return 'expected a number, a boolean, a list of numbers (a gradient) or a list of {filter, value}';
  return issue.message;
}

function validated(doc: unknown, path: string): ConfigDoc {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new MergeConfigError(path, 'config', 'expected a YAML mapping (models/slices, merge_method, ...)');
  const unknown = Object.keys(doc).find((k) => !KNOWN_FIELDS.has(k));
  if (unknown !== undefined) throw new MergeConfigError(path, unknown, `unknown field (expected ${[...KNOWN_FIELDS].join(', ')})`);
  if (Object.hasOwn(doc, 'modules')) throw new MergeConfigError(path, 'modules', 'per-module configurations are not supported (single-module models: use models: or slices:)');
  const parsed = ConfigSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new MergeConfigError(path, issue?.path.join('.') || 'config', issue ? issueMessage(issue) : 'invalid merge configuration');
  }
  const c = parsed.data;
  if ((c.models == null) === (c.slices == null)) throw new MergeConfigError(path, c.models == null ? 'models' : 'slices', 'give exactly one of models: or slices:');
  return c;
}

/** Parses mergekit YAML text; errors name the file and the field. */
export function parseMergeConfig(text: string, path: string): MergeConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new MergeConfigError(path, 'yaml', (err as Error).message.split('\n')[0] ?? 'invalid YAML');
  }
  const c = validated(doc, path);
  const dtype = dtypeOf(path, c);
  const slices = slicesOf(c, path);
  const tokenizer = tokenizerConfig(c, path);
  return {
    path,
    mergeMethod: c.merge_method,
    ...(c.base_model != null ? { baseModel: modelPath(c.base_model, path) } : {}),
    ...(c.models != null ? { models: c.models.map((m) => ({ model: modelPath(m.model, path), parameters: params(m.parameters) })) } : {}),
    ...(slices ? { slices } : {}),
    parameters: params(c.parameters),
    ...(dtype ? { dtype } : {}),
    ...(tokenizer ? { tokenizer } : {}),
    ...(c.chat_template != null ? { chatTemplate: c.chat_template } : {}),
  };
}

export function readMergeConfig(path: string): MergeConfig {
  if (!existsSync(path)) throw new MergeConfigError(path, '--config', 'no such file');
  return parseMergeConfig(readFileSync(path, 'utf8'), path);
}

import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { FormatError } from '../../formats/errors.js';

/**
 * A merge configuration in mergekit's YAML shape:
 *
 *   models: [{ model: path, parameters: { weight: 0.5, density: [1, 0.5] } }, ...]
 *   base_model: path
 *   merge_method: ties
 *   parameters: { normalize: true, t: [{ filter: self_attn, value: [0, 1] }, { value: 0.5 }] }
 *   dtype: bfloat16
 *
 * A parameter is a scalar, a gradient (a list of numbers interpolated over the layers), or a list of
 * `{filter, value}` conditions matched against the tensor name (first match wins), as in mergekit.
 */
type Scalar = number | boolean | string;
export type Setting = Scalar | readonly Scalar[] | readonly { filter?: string | undefined; value: Setting }[];

const ScalarSchema = z.union([z.number(), z.boolean(), z.string()]);
const SettingSchema: z.ZodType<Setting> = z.lazy(() =>
  z.union([ScalarSchema, z.array(ScalarSchema), z.array(z.object({ filter: z.string().optional(), value: SettingSchema }).strict())]),
);
const ParamsSchema = z.record(z.string(), SettingSchema);

const ConfigSchema = z
  .object({
    models: z.array(z.object({ model: z.string().min(1), parameters: ParamsSchema.optional() }).strict()).min(1),
    merge_method: z.string().min(1),
    base_model: z.string().min(1).optional(),
    parameters: ParamsSchema.optional(),
    dtype: z.string().optional(),
    out_dtype: z.string().optional(),
    tokenizer_source: z.literal('base').optional(),
  })
  .strict();

export interface MergeConfigModel {
  model: string;
  parameters: Record<string, Setting>;
}

export interface MergeConfig {
  mergeMethod: string;
  baseModel?: string;
  models: MergeConfigModel[];
  parameters: Record<string, Setting>;
  /** f32 | f16 | bf16, from `out_dtype` or `dtype`. */
  dtype?: 'f32' | 'f16' | 'bf16';
}

const DTYPE_NAMES: Record<string, 'f32' | 'f16' | 'bf16'> = {
  float32: 'f32', fp32: 'f32', f32: 'f32', float16: 'f16', fp16: 'f16', f16: 'f16', half: 'f16', bfloat16: 'bf16', bf16: 'bf16',
};

const UNSUPPORTED: Record<string, string> = {
  slices: 'layer slices (passthrough/frankenmerges) are not supported; list whole models under models:',
  modules: 'per-module configurations are not supported',
  tokenizer: 'tokenizer merging is not supported; the base model’s tokenizer is kept',
  chat_template: 'the base model’s chat template is kept; chat_template is not supported',
};

/** Resolves a model reference: as given (relative to the working directory) when it exists, else next to the config. */
function modelPath(ref: string, configPath: string): string {
  if (isAbsolute(ref) || existsSync(ref)) return ref;
  const near = resolve(dirname(configPath), ref);
  return existsSync(near) ? near : ref;
}

function dtypeOf(path: string, doc: z.infer<typeof ConfigSchema>): MergeConfig['dtype'] {
  const name = doc.out_dtype ?? doc.dtype;
  if (name === undefined) return undefined;
  const d = DTYPE_NAMES[name.toLowerCase()];
  if (!d) throw new FormatError(path, doc.out_dtype !== undefined ? 'out_dtype' : 'dtype', `'${name}' is not float32, float16 or bfloat16`);
  return d;
}

/** Parses mergekit-shaped YAML text; errors name the file and the field. */
export function parseMergeConfig(text: string, path: string): MergeConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new FormatError(path, 'yaml', (err as Error).message.split('\n')[0] ?? 'invalid YAML');
  }
  if (typeof doc === 'object' && doc !== null) {
    for (const [key, why] of Object.entries(UNSUPPORTED)) if (Object.hasOwn(doc, key)) throw new FormatError(path, key, why);
  }
  const parsed = ConfigSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FormatError(path, issue?.path.join('.') || 'config', issue?.message ?? 'invalid merge configuration');
  }
  const c = parsed.data;
  const dtype = dtypeOf(path, c);
  return {
    mergeMethod: c.merge_method,
    ...(c.base_model !== undefined ? { baseModel: modelPath(c.base_model, path) } : {}),
    models: c.models.map((m) => ({ model: modelPath(m.model, path), parameters: m.parameters ?? {} })),
    parameters: c.parameters ?? {},
    ...(dtype ? { dtype } : {}),
  };
}

export function readMergeConfig(path: string): MergeConfig {
  if (!existsSync(path)) throw new FormatError(path, '--config', 'no such file');
  return parseMergeConfig(readFileSync(path, 'utf8'), path);
}

function isCondition(x: unknown): x is { filter?: string; value: Setting } {
  return typeof x === 'object' && x !== null && 'value' in x;
}

/**
 * mergekit's `evaluate_setting`: a number list is a gradient sampled at t ∈ [0, 1] (linear interpolation
 * between neighbouring anchors), any other scalar list is indexed by ⌊t·(n−1)⌋, and a condition list takes
 * the first entry whose filter is absent, '*', or a substring of the tensor name.
 */
export function evaluateSetting(tensorName: string, setting: Setting, t: number): Scalar | undefined {
  if (!Array.isArray(setting)) return setting as Scalar;
  const list = setting as readonly unknown[];
  if (list.length === 0) return undefined;
  if (list.every((e) => typeof e === 'number')) {
    const nums = list;
    const scaled = t * (nums.length - 1);
    const i0 = Math.floor(scaled);
    const i1 = Math.min(nums.length - 1, i0 + 1);
    const frac = scaled - i0;
    return frac === 0 ? (nums[i0]) : (1 - frac) * (nums[i0] as number) + frac * (nums[i1] as number);
  }
  if (list.every((e) => !isCondition(e))) return list[Math.floor(t * (list.length - 1))] as Scalar;
  for (const cond of list) {
    if (!isCondition(cond)) continue;
    if (cond.filter === undefined || cond.filter === '*' || tensorName.includes(cond.filter)) return evaluateSetting(tensorName, cond.value, t);
  }
  return undefined;
}

import { z } from 'zod';
import { FormatError } from '../errors.js';

/**
 * The part of PEFT's `LoraConfig` that decides what an adapter computes. Missing keys take PEFT's defaults;
 * keys not listed are kept as they are (so a config read and written again loses nothing).
 */
const PeftLoraConfigSchema = z.looseObject({
  peft_type: z.literal('LORA'),
  task_type: z.string().nullable().default('CAUSAL_LM'),
  r: z.number().int().positive().default(8),
  lora_alpha: z.number().refine(Number.isFinite, 'must be finite').default(8),
  target_modules: z.union([z.array(z.string()), z.string()]).nullable().default(null),
  use_rslora: z.boolean().default(false),
  use_dora: z.boolean().default(false),
  bias: z.enum(['none', 'all', 'lora_only']).default('none'),
  fan_in_fan_out: z.boolean().default(false),
  base_model_name_or_path: z.string().nullable().default(null),
  rank_pattern: z.record(z.string(), z.number().int().positive()).nullable().default({}),
  alpha_pattern: z.record(z.string(), z.number().refine(Number.isFinite, 'must be finite')).nullable().default({}),
});

export type PeftLoraConfig = z.output<typeof PeftLoraConfigSchema>;
export type PeftLoraConfigInput = z.input<typeof PeftLoraConfigSchema>;

/** Keys PEFT writes for every LoRA adapter, with the values of a plain inference adapter. */
const WRITE_DEFAULTS: Record<string, unknown> = {
  inference_mode: true,
  init_lora_weights: true,
  layers_pattern: null,
  layers_to_transform: null,
  lora_dropout: 0,
  modules_to_save: null,
  revision: null,
};

/** Validates a parsed adapter_config.json; a bad field is a FormatError naming it. */
export function parsePeftConfig(path: string, raw: unknown): PeftLoraConfig {
  if (raw !== null && typeof raw === 'object' && 'peft_type' in raw && raw.peft_type !== 'LORA') {
    throw new FormatError(path, 'peft_type', `${JSON.stringify(raw.peft_type)} adapters are not supported (only LORA)`);
  }
  const parsed = PeftLoraConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    // Stryker disable next-line OptionalChaining: a failed zod parse always carries at least one issue, so issue is defined.
    throw new FormatError(path, issue?.path.join('.') || 'adapter_config', issue?.message ?? 'invalid');
  }
  return parsed.data;
}

/** The adapter_config.json object to write: PEFT's usual keys, then the given config over them. */
export function peftConfigForWrite(config: PeftLoraConfig): Record<string, unknown> {
  return { ...WRITE_DEFAULTS, ...config };
}

/** PEFT's `get_pattern_key`: the first rank/alpha pattern that matches the module path as a suffix. */
function patternKey(path: string, patterns: Record<string, number>, module: string): string | undefined {
  for (const key of Object.keys(patterns)) {
    let re: RegExp;
    try {
      re = new RegExp(`^(?:.*\\.)?(?:${key})$`);
    } catch {
      throw new FormatError(path, `pattern ${key}`, 'is not a valid regular expression');
    }
    if (re.test(module)) return key;
  }
  return undefined;
}

/** Rank, alpha and the scale (alpha/r, or alpha/√r with rsLoRA) PEFT uses for one module. */
export function loraScaling(path: string, config: PeftLoraConfig, module: string): { r: number; alpha: number; scale: number } {
  const ranks = config.rank_pattern ?? {};
  const alphas = config.alpha_pattern ?? {};
  const rk = patternKey(path, ranks, module);
  const ak = patternKey(path, alphas, module);
  const r = rk === undefined ? config.r : (ranks[rk] ?? config.r);
  const alpha = ak === undefined ? config.lora_alpha : (alphas[ak] ?? config.lora_alpha);
  return { r, alpha, scale: config.use_rslora ? alpha / Math.sqrt(r) : alpha / r };
}

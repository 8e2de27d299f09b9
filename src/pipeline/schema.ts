/**
 * The recipe schema: upstream's recipe YAML (`model`, `benchmarks`, `stages`, one section per stage) with
 * each section's keys being the options of the verb the stage runs. Every object is strict: an unknown key
 * is an error (the caller names the recipe line).
 */
import { z } from 'zod';
import { SCHEMES as QUANT_SCHEMES, type SchemeName } from '../tensor/quant/recipes.js';

/** Stage names in upstream's canonical order (the order inferred when a recipe gives no `stages`). */
export const STAGE_ORDER = ['import', 'distill', 'finetune', 'align', 'merge', 'prune', 'quantize', 'eval', 'compile'] as const;
export type StageName = (typeof STAGE_ORDER)[number];

const int = z.number().int();
const pos = z.number().int().positive();
const num = z.number();
const ratio = z.number().min(0).max(1);
const path = z.string().min(1);
const list = z.union([z.array(z.string()), z.string()]);

const model = z.strictObject({
  id: path,
  output_dir: path,
  name: z.string().regex(/^[\w.-]+$/).optional(),
  quantization: z.string().optional(),
  leaderboard: z.boolean().optional(),
  submit: z.boolean().optional(),
  family: z.string().optional(),
  params: z.union([z.string(), z.number()]).optional(),
  thinking: z.boolean().optional(),
});

const training = {
  lr: num.positive().optional(),
  epochs: pos.optional(),
  seed: int.optional(),
  max_seq_len: pos.optional(),
  batch_size: pos.optional(),
  grad_accum: pos.optional(),
  val_split: ratio.optional(),
};

const distill = z.strictObject({
  data: path,
  teacher: path.optional(),
  student: path.optional(),
  strategy: z.enum(['standard', 'progressive', 'ensemble']).optional(),
  teachers: list.optional(),
  temperature: num.positive().optional(),
  alpha: ratio.optional(),
  ...training,
});

const finetune = z.strictObject({
  data: path.optional(),
  dataset: path.optional(),
  method: z.enum(['lora', 'qlora', 'full']).optional(),
  task: z.enum(['instruct', 'completion']).optional(),
  rank: pos.optional(),
  alpha: num.positive().optional(),
  targets: list.optional(),
  warmup_ratio: ratio.optional(),
  min_lr_ratio: ratio.optional(),
  weight_decay: num.min(0).optional(),
  max_grad_norm: num.min(0).optional(),
  backend: z.enum(['cpu', 'webgpu', 'auto']).optional(),
  ...training,
  // upstream-only keys (accepted so upstream recipes validate; they change nothing here)
  model_size: z.string().optional(),
  quantize_nf4: z.boolean().optional(),
  vram: num.optional(),
  wait_gpu: num.optional(),
}).refine((f) => f.data !== undefined || f.dataset !== undefined, { message: 'finetune needs data (or dataset)', path: ['data'] });

const align = z.strictObject({
  data: path,
  method: z.enum(['dpo', 'orpo']).optional(),
  beta: num.positive().optional(),
  lambda: num.min(0).optional(),
  ref_model: path.optional(),
  lora: z.boolean().optional(),
  rank: pos.optional(),
  alpha: num.positive().optional(),
  targets: list.optional(),
  backend: z.enum(['cpu', 'webgpu', 'auto']).optional(),
  ...training,
});

const merge = z.strictObject({
  models: z.array(path).min(1),
  strategy: z.enum(['linear', 'slerp', 'task_arithmetic', 'ties', 'dare_ties', 'dare_linear', 'breadcrumbs', 'model_stock', 'della']).optional(),
  base_model: path.optional(),
  weights: z.array(num).optional(),
  density: ratio.optional(),
  drop_rate: ratio.optional(),
  lambda: num.optional(),
  t: z.union([num, z.array(num)]).optional(),
  epsilon: num.optional(),
  gamma: num.optional(),
  seed: int.optional(),
  dtype: z.enum(['f32', 'f16', 'bf16']).optional(),
  output: path.optional(),
});

const prune = z.strictObject({
  method: z.enum(['magnitude', 'wanda', 'sparsegpt', 'structured', 'depth']).optional(),
  target_ratio: ratio.optional(),
  calibration_data: path.optional(),
  samples: pos.optional(),
  seq_len: pos.optional(),
  seed: int.optional(),
  pattern: z.string().regex(/^\d+:\d+$/).optional(),
  granularity: z.enum(['row', 'tensor']).optional(),
  unit: z.enum(['heads', 'channels']).optional(),
  layers: z.union([z.string(), int]).optional(),
  output: path.optional(),
});

/** Every scheme `apr quantize` knows (one list: the recipes module). */
const SCHEMES = Object.keys(QUANT_SCHEMES) as [SchemeName, ...SchemeName[]];

const quantize = z.strictObject({
  scheme: z.enum(SCHEMES).optional(),
  pure: z.boolean().optional(),
  output: path.optional(),
});

const evalSection = z.strictObject({
  data: path,
  benchmark: z.string().regex(/^[\w.-]+$/).optional(),
  max_tokens: pos.optional(),
  temperature: num.min(0).optional(),
  num_samples: pos.optional(),
  k: z.union([pos, z.array(pos)]).optional(),
  prompt_strategy: z.enum(['standard', 'scot', 'few-shot']).optional(),
  top_p: ratio.optional(),
  seed: int.optional(),
  timeout: z.string().optional(),
  workers: pos.optional(),
  parallel: pos.optional(),
});

const compile = z.strictObject({
  quantize: z.enum(SCHEMES).optional(),
  target: z.string().optional(),
  name: z.string().optional(),
  output: path.optional(),
  // upstream-only keys (cargo build flags; the executable here has no such switches)
  release: z.boolean().optional(),
  lto: z.boolean().optional(),
  strip: z.boolean().optional(),
});

const monitoring = z.strictObject({
  terminal: z.strictObject({ enabled: z.boolean().optional(), metrics: z.array(z.string()).optional() }).optional(),
  tracking: z.strictObject({
    enabled: z.boolean().optional(),
    backend: z.string().optional(),
    experiment: z.string().optional(),
    tags: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  }).optional(),
  alerts: z.array(z.strictObject({ condition: z.string(), action: z.enum(['stop', 'warn']), message: z.string().optional() })).optional(),
});

export const recipeSchema = z.strictObject({
  name: z.string().optional(),
  description: z.string().optional(),
  model,
  benchmarks: z.array(z.string()).optional(),
  stages: z.array(z.enum(STAGE_ORDER)).min(1).optional(),
  distill: distill.optional(),
  finetune: finetune.optional(),
  align: align.optional(),
  merge: merge.optional(),
  prune: prune.optional(),
  quantize: quantize.optional(),
  eval: evalSection.optional(),
  compile: compile.optional(),
  monitoring: monitoring.optional(),
});

export type Recipe = z.infer<typeof recipeSchema>;
/** The option section of a stage as the recipe gives it (import has none). */
export type SectionValues = Record<string, unknown>;

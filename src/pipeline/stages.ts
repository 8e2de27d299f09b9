/** A recipe → the stages to run: each stage's `apr` command lines, the files it reads, the files it writes. */
import { basename, extname, join } from 'node:path';
import { ignoredKeys, sectionFlags } from './flags.js';
import type { LoadedRecipe } from './recipe.js';
import type { Recipe, SectionValues, StageName } from './schema.js';

/** A file whose bytes go into a stage's key; `role` (not the path) names it in the key. */
export interface StageInput {
  role: string;
  path: string;
}

export interface PlannedStage {
  name: StageName;
  /** The verb invocations, in order, without the leading `apr`. */
  commands: string[][];
  inputs: StageInput[];
  /** Outputs relative to the output folder (files or folders). */
  outputs: string[];
  /** The options as they go into the key: the section with the pipeline's defaults filled in. */
  options: SectionValues;
  /** The model this stage leaves for the next one. */
  model: string;
  /** Eval: where the upstream-shaped results JSON goes (relative to the output folder). */
  results?: string;
  /** Upstream-only keys the section sets (no effect here). */
  ignored: string[];
}

export interface Plan {
  recipe: LoadedRecipe;
  outputDir: string;
  name: string;
  stages: PlannedStage[];
}

/** Defaults for what the verbs need and upstream's pipeline.sh fills in (eval: greedy, 512 tokens). */
const DEFAULTS: Partial<Record<StageName, SectionValues>> = {
  align: { method: 'dpo' },
  merge: { strategy: 'slerp' },
  prune: { method: 'magnitude', target_ratio: 0.5 },
  quantize: { scheme: 'int4' },
  eval: { max_tokens: 512, temperature: 0, num_samples: 1 },
};

/** Upstream's output suffixes: `<name>-<suffix>.apr`. */
const SUFFIX: Partial<Record<StageName, string>> = { distill: 'distilled', finetune: 'finetuned', align: 'aligned', merge: 'merged', prune: 'pruned' };

interface Ctx {
  recipe: Recipe;
  dir: string;
  name: string;
  model: string;
}

const out = (c: Ctx, rel: string): string => join(c.dir, rel);

function section(c: Ctx, stage: StageName): SectionValues {
  const given = stage === 'import' ? {} : ((c.recipe[stage] ?? {}) as SectionValues);
  return { ...DEFAULTS[stage], ...given };
}

function modelOutput(stage: StageName, c: Ctx, s: SectionValues): string {
  if (typeof s['output'] === 'string') return s['output'];
  const suffix = stage === 'quantize' ? String(s['scheme']) : (SUFFIX[stage] ?? stage);
  return `${c.name}-${suffix}.apr`;
}

/** A trained adapter folder merged into the model it was trained on (two commands, adapter kept). */
function adapterThenMerge(stage: StageName, c: Ctx, s: SectionValues, train: string[]): PlannedStage {
  const adapter = `${c.name}-${stage}-adapter`;
  const result = modelOutput(stage, c, s);
  return {
    name: stage,
    commands: [[...train, '-o', out(c, adapter)], ['finetune', c.model, '--adapter', out(c, adapter), '--merge', '-o', out(c, result)]],
    inputs: [],
    outputs: [adapter, result],
    options: s,
    model: out(c, result),
    ignored: [],
  };
}

function oneCommand(stage: StageName, c: Ctx, s: SectionValues, args: string[], result: string): PlannedStage {
  return { name: stage, commands: [[...args, '-o', out(c, result)]], inputs: [], outputs: [result], options: s, model: out(c, result), ignored: [] };
}

function finetuneStage(c: Ctx, s: SectionValues): PlannedStage {
  const data = String(s['data'] ?? s['dataset']);
  const train = ['finetune', c.model, '--data', data, ...sectionFlags('finetune', s)];
  const planned = s['method'] === 'full' ? oneCommand('finetune', c, s, train, modelOutput('finetune', c, s)) : adapterThenMerge('finetune', c, s, train);
  planned.inputs.push({ role: 'data', path: data });
  return planned;
}

function alignStage(c: Ctx, s: SectionValues): PlannedStage {
  const train = ['align', c.model, ...sectionFlags('align', s)];
  const planned = s['lora'] === true ? adapterThenMerge('align', c, s, [...train, '--lora']) : oneCommand('align', c, s, train, modelOutput('align', c, s));
  planned.inputs.push({ role: 'data', path: String(s['data']) });
  if (typeof s['ref_model'] === 'string') planned.inputs.push({ role: 'ref_model', path: s['ref_model'] });
  return planned;
}

function distillStage(c: Ctx, s: SectionValues): PlannedStage {
  const teacher = typeof s['teacher'] === 'string' ? s['teacher'] : c.model;
  const withStudent = typeof s['student'] === 'string' ? s : { ...s, student: c.model };
  const planned = oneCommand('distill', c, s, ['distill', teacher, ...sectionFlags('distill', withStudent)], modelOutput('distill', c, s));
  planned.inputs.push({ role: 'teacher', path: teacher }, { role: 'data', path: String(s['data']) });
  const student = String(withStudent['student']);
  planned.inputs.push({ role: 'student', path: student.startsWith('init:') ? student.slice(5) : student });
  return planned;
}

function mergeStage(c: Ctx, s: SectionValues): PlannedStage {
  const models = (s['models'] as string[] | undefined) ?? [];
  const planned = oneCommand('merge', c, s, ['merge', c.model, ...models, ...sectionFlags('merge', s)], modelOutput('merge', c, s));
  models.forEach((m, i) => planned.inputs.push({ role: `models.${i}`, path: m }));
  if (typeof s['base_model'] === 'string') planned.inputs.push({ role: 'base_model', path: s['base_model'] });
  return planned;
}

function pruneStage(c: Ctx, s: SectionValues): PlannedStage {
  const planned = oneCommand('prune', c, s, ['prune', c.model, ...sectionFlags('prune', s)], modelOutput('prune', c, s));
  if (typeof s['calibration_data'] === 'string') planned.inputs.push({ role: 'calibration', path: s['calibration_data'] });
  return planned;
}

function evalStage(c: Ctx, s: SectionValues): PlannedStage {
  const data = String(s['data']);
  const bench = typeof s['benchmark'] === 'string' ? s['benchmark'] : basename(data, extname(data));
  const results = join('results', `${bench}.json`);
  const command = ['eval', c.model, ...sectionFlags('eval', s), '--json'];
  return { name: 'eval', commands: [command], inputs: [{ role: 'data', path: data }], outputs: [results], options: { ...s, benchmark: bench }, model: c.model, results, ignored: [] };
}

function buildStage(stage: StageName, c: Ctx): PlannedStage {
  const s = section(c, stage);
  switch (stage) {
    case 'import':
      return oneCommand('import', c, s, ['import', c.model], `${c.name}.apr`);
    case 'distill':
      return distillStage(c, s);
    case 'finetune':
      return finetuneStage(c, s);
    case 'align':
      return alignStage(c, s);
    case 'merge':
      return mergeStage(c, s);
    case 'prune':
      return pruneStage(c, s);
    case 'quantize':
      return oneCommand('quantize', c, s, ['quantize', c.model, ...sectionFlags('quantize', s)], modelOutput('quantize', c, s));
    case 'eval':
      return evalStage(c, s);
    case 'compile':
      return oneCommand('compile', c, s, ['compile', c.model, ...sectionFlags('compile', s)], typeof s['output'] === 'string' ? s['output'] : c.name);
  }
}

/** The model name used in output names: `model.name`, else the id's last path part without its extension. */
function modelName(recipe: Recipe): string {
  if (recipe.model.name !== undefined) return recipe.model.name;
  const last = recipe.model.id.replace(/\/+$/, '').split('/').pop() ?? 'model';
  return basename(last, extname(last)).replace(/[^\w.-]/g, '_').toLowerCase() || 'model';
}

/** Every stage of a recipe, chained: each stage reads the model the previous one wrote. */
export function planRecipe(loaded: LoadedRecipe, outputDir?: string): Plan {
  const recipe = loaded.recipe;
  const ctx: Ctx = { recipe, dir: outputDir ?? recipe.model.output_dir, name: modelName(recipe), model: recipe.model.id };
  const stages: PlannedStage[] = [];
  for (const name of loaded.stages) {
    const input = ctx.model;
    const stage = buildStage(name, ctx);
    if (!input.startsWith('hf://')) stage.inputs.unshift({ role: 'model', path: input });
    stage.ignored = ignoredKeys(name, stage.options);
    stages.push(stage);
    ctx.model = stage.model;
  }
  return { recipe: loaded, outputDir: ctx.dir, name: ctx.name, stages };
}

/** `apr pipeline plan|apply|status RECIPE.yaml`: recipe-driven stages with a content-addressed cache. */
import type { Command } from 'commander';
import { MissingInputError, StageFailedError, applyPlan } from '../../pipeline/apply.js';
import { shellLine } from '../../pipeline/flags.js';
import { LOCK_NAME } from '../../pipeline/lock.js';
import { RecipeError, loadRecipe } from '../../pipeline/recipe.js';
import { type Plan, planRecipe } from '../../pipeline/stages.js';
import { pipelineStatus, statusLines } from '../../pipeline/status.js';
import { EXIT } from '../exit-codes.js';
import { CliError, printJson } from '../output.js';
import { addTrainComputeFlags } from './train-compute.js';

interface PipelineFlags {
  outputDir?: string;
  json?: boolean;
}

/** Loads and plans a recipe; recipe errors become usage errors; warnings go to stderr. */
function load(file: string, o: PipelineFlags): Plan {
  let plan: Plan;
  try {
    plan = planRecipe(loadRecipe(file), o.outputDir);
  } catch (err) {
    if (err instanceof RecipeError) throw new CliError(err.message);
    throw err;
  }
  for (const w of plan.recipe.warnings) process.stderr.write(`WARNING: ${w}\n`);
  for (const s of plan.stages) {
    if (s.ignored.length > 0) process.stderr.write(`note: ${s.name}: ${s.ignored.join(', ')} accepted from upstream recipes, no effect here\n`);
  }
  return plan;
}

function planAction(file: string, o: PipelineFlags): void {
  const plan = load(file, o);
  if (o.json) {
    printJson({ output_dir: plan.outputDir, warnings: plan.recipe.warnings, stages: plan.stages.map((s) => ({ name: s.name, commands: s.commands.map(shellLine), outputs: s.outputs })) });
    return;
  }
  const lines = plan.stages.flatMap((s) => s.commands.map((c) => `[${s.name}] ${shellLine(c)}`));
  process.stdout.write(['=== Plan Mode - Commands that would run ===', ...lines, '=== Plan complete ===', ''].join('\n'));
}

async function applyAction(file: string, o: PipelineFlags): Promise<void> {
  const plan = load(file, o);
  const t0 = performance.now();
  let report;
  try {
    report = await applyPlan(plan, (m) => process.stderr.write(`warning: ${m}\n`));
  } catch (err) {
    if (err instanceof StageFailedError) throw new CliError(err.message, err.exitCode === EXIT.usage ? EXIT.usage : EXIT.failed);
    if (err instanceof MissingInputError) throw new CliError(err.message, EXIT.badInput);
    throw err;
  }
  const seconds = (performance.now() - t0) / 1000;
  if (o.json) {
    printJson({ ...report, output_dir: plan.outputDir, seconds });
    return;
  }
  if (report.ran.length === 0) {
    process.stdout.write(`nothing to do: all ${report.skipped.length} stages up to date (${plan.outputDir}/${LOCK_NAME}), ${seconds.toFixed(2)} s\n`);
    return;
  }
  const reasons = report.ran.map((n) => `${n} (${report.reasons[n] ?? 'changed'})`);
  process.stdout.write(`ran ${report.ran.length} stage(s): ${reasons.join(', ')}; up to date: ${report.skipped.join(', ') || 'none'}; ${seconds.toFixed(1)} s\n`);
}

async function statusAction(file: string, o: PipelineFlags): Promise<void> {
  const st = await pipelineStatus(load(file, o));
  for (const p of st.problems) process.stderr.write(`warning: ${p}\n`);
  if (o.json) printJson(st);
  else process.stdout.write(`${statusLines(st).join('\n')}\n`);
}

export function registerPipeline(program: Command): void {
  const pipeline = program.command('pipeline').description('run a recipe (YAML) of apr stages with a content-addressed stage cache: plan | apply | status');
  const withFlags = (c: Command): Command => c
    .argument('<recipe>', 'recipe YAML (upstream schema: model, stages, distill, finetune, align, merge, prune, quantize, eval, compile)')
    .option('--output-dir <dir>', 'override the recipe\'s model.output_dir')
    .option('--json', 'print JSON');
  withFlags(pipeline.command('plan').description('print the apr command lines the recipe runs, in order'))
    .action((file: string, o: PipelineFlags) => planAction(file, o));
  addTrainComputeFlags(withFlags(pipeline.command('apply').description('run the stages that are not up to date (key or outputs changed), recording them in pipeline.lock.json')))
    .action((file: string, o: PipelineFlags) => applyAction(file, o));
  withFlags(pipeline.command('status').description('each stage as done / stale / pending, and the eval results'))
    .action((file: string, o: PipelineFlags) => statusAction(file, o));
}

/**
 * `apr tune`: hyper-parameter search for LoRA / QLoRA finetuning — learning rate, rank, alpha and epochs —
 * with TPE or random proposals and ASHA early stopping, every trial trained in process by the finetune loop
 * on a seeded split of the data and scored by its held-out loss. Writes the best configuration as the
 * `finetune:` section of a recipe. Deterministic for a seed (trials, table and YAML).
 */
import { existsSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { stringify } from 'yaml';
import { defineContract } from '../contract/index.js';
import { writeAtomically } from '../formats/atomic-write.js';
import { FormatError } from '../formats/errors.js';
import { openModel } from '../formats/open.js';
import { pathLabel } from '../formats/provenance.js';
import type { ModelBundle } from '../tensor/bundle.js';
import { loadTokenizer } from '../tokenizer/index.js';
import { type DataTask, type Dataset, loadDataset, type TokenExample } from '../train/data/index.js';
import { createGpuTrainable } from '../train/gpu/trainable.js';
import { runTraining } from '../train/loop.js';
import { tokenExampleReport } from '../train/losses/token-example.js';
import { createTrainableModel } from '../train/model/index.js';
import { type Objective, type SearchResult, type TrialRecord, type TuneScheduler, type TuneStrategy, runSearch } from '../train/tune/search.js';
import { DEFAULT_CONFIG, DEFAULT_SPACE, type TuneConfig, type TuneSpace, spaceProblem } from '../train/tune/space.js';

export type TuneMethod = 'lora' | 'qlora';

export interface TuneOptions {
  model: string;
  data: string;
  budget: number;
  method?: TuneMethod;
  strategy?: TuneStrategy;
  scheduler?: TuneScheduler;
  /** One epoch per trial (a quick first pass). */
  scout?: boolean;
  seed?: number;
  space?: TuneSpace;
  /** Trials (the baseline included) before TPE takes over (default 3). */
  startup?: number;
  /** ASHA reduction factor (default 2). */
  eta?: number;
  targets?: string[];
  task?: DataTask;
  maxSeqLen?: number;
  valSplit?: number;
  /** Where to write the best configuration (YAML, a recipe's `finetune:` section). */
  output?: string;
  onTrial?: (t: TrialRecord) => void;
  /** Where each trial's steps run (default cpu); webgpu: the GPU trainer (src/train/gpu), one per trial. */
  backend?: 'cpu' | 'webgpu';
}

export interface TuneResult extends SearchResult {
  method: TuneMethod;
  strategy: TuneStrategy;
  scheduler: TuneScheduler;
  scout: boolean;
  seed: number;
  budget: number;
  trainExamples: number;
  valExamples: number;
  /** The YAML written (also to `output`, when given). */
  yaml: string;
  output: string | null;
  seconds: number;
}

export const tuneContract = defineContract<TuneOptions, TuneResult>({
  id: 'op-tune-v1',
  equation: 'tune',
  spec: 'best = argmin over complete trials t of heldout_loss(finetune(model, train split, config_t)); trial 1 = the default configuration, so loss(best) ≤ loss(default)',
  pre: [
    ['model and data exist', (o) => existsSync(o.model) && existsSync(o.data)],
    ['budget ≥ 1', (o) => Number.isInteger(o.budget) && o.budget >= 1],
    ['search space valid', (o) => spaceProblem(o.space ?? DEFAULT_SPACE) === undefined],
    ['output is not an input', (o) => o.output === undefined || ![o.model, o.data].some((p) => resolvePath(p) === resolvePath(o.output ?? ''))],
  ],
  post: [
    ['one record per trial', (o, r) => r.trials.length === o.budget],
    ['best is complete and no worse than the default', (_o, r) => r.best.status !== 'complete' || r.best.valLoss <= r.baseline.valLoss],
    ['output written', (o) => o.output === undefined || existsSync(o.output)],
  ],
});

/** Thrown from the epoch callback to end a trial that ASHA stopped. */
class StopTrial extends Error {}

function objectiveFor(base: ModelBundle, data: Dataset, o: TuneOptions, method: TuneMethod, seed: number): Objective {
  return (config, onEpoch) => {
    const spec = { rank: config.rank, alpha: config.alpha, targets: o.targets ?? ['q_proj', 'v_proj'], seed };
    const longest = [...data.train, ...data.val].reduce((m, e) => Math.max(m, e.tokens.length), 1);
    const gpu = o.backend === 'webgpu' ? createGpuTrainable(base, { method, ...spec, maxRows: longest }) : undefined;
    const model = gpu ?? createTrainableModel(base, { method, ...spec });
    const losses: number[] = [];
    try {
      runTraining<TokenExample>({
        params: model.parameters(), train: data.train, val: data.val,
        options: { epochs: config.epochs, batchSize: 1, gradAccum: 1, lr: config.lr, warmupRatio: 0, minLrRatio: 0, weightDecay: 0, maxGradNorm: 1, seed },
        step: (e) => tokenExampleReport(model, e, true), evaluate: (e) => (gpu ? gpu.evaluateExample(e) : tokenExampleReport(model, e, false)), zeroGrad: () => model.zeroGrad(),
        ...(gpu ? { device: gpu.device } : {}),
        onEpoch: (rec) => {
          losses.push(rec.valLoss ?? Number.NaN);
          if (!onEpoch(rec.epoch, rec.valLoss ?? Number.NaN)) throw new StopTrial();
        },
      });
    } catch (err) {
      if (!(err instanceof StopTrial)) throw err;
    } finally {
      gpu?.close();
    }
    return losses;
  };
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toFixed(4) : String(x);
}

/** The best configuration as a recipe's `finetune:` section (keys as `apr finetune`'s options), no time. */
function bestYaml(r: Omit<TuneResult, 'yaml' | 'output' | 'seconds'>, data: string, o: TuneOptions): string {
  const c: TuneConfig = r.best.config;
  const head = `# apr tune: best of ${r.budget} trials (${r.strategy}, scheduler ${r.scheduler}${r.scout ? ', scout' : ''}, seed ${r.seed}) on ${pathLabel(data)}\n`
    + `# held-out loss ${fmt(r.best.valLoss)} (trial ${r.best.trial}); default configuration ${fmt(r.baseline.valLoss)}\n`;
  const section = { method: r.method, rank: c.rank, alpha: c.alpha, lr: c.lr, epochs: c.epochs, targets: (o.targets ?? ['q_proj', 'v_proj']).join(','), seed: r.seed };
  return head + stringify({ finetune: section });
}

function loadSplit(base: ModelBundle, o: TuneOptions, seed: number): Dataset {
  if (!base.tokenizer) throw new FormatError(o.model, 'tokenizer', 'the model carries no tokenizer (needed to read the data)');
  const tokenizer = loadTokenizer(base.tokenizer, { source: `${o.model}: tokenizer`, modelConfig: base.config });
  const data = loadDataset(o.data, tokenizer, { task: o.task ?? 'instruct', maxSeqLen: o.maxSeqLen ?? 512, valSplit: o.valSplit ?? 0.2, seed });
  if (data.val.length === 0) throw new FormatError(o.data, 'records', 'no held-out example: tuning needs at least 2 records and --val-split > 0');
  return data;
}

interface Resolved {
  readonly seed: number;
  readonly method: TuneMethod;
  readonly strategy: TuneStrategy;
  readonly scheduler: TuneScheduler;
  readonly scout: boolean;
  readonly space: TuneSpace;
  readonly baseline: TuneConfig;
}

/** The options with their defaults; a scout pass runs every trial, the baseline included, for one epoch. */
function resolve(o: TuneOptions): Resolved {
  const scout = o.scout ?? false;
  const space = o.space ?? DEFAULT_SPACE;
  return {
    seed: o.seed ?? 42, method: o.method ?? 'lora', strategy: o.strategy ?? 'tpe', scheduler: o.scheduler ?? 'asha', scout,
    space: scout ? { ...space, epochs: [1] } : space, baseline: scout ? { ...DEFAULT_CONFIG, epochs: 1 } : DEFAULT_CONFIG,
  };
}

function search(o: TuneOptions): TuneResult {
  const t0 = performance.now();
  const s = resolve(o);
  const base = openModel(o.model);
  try {
    const data = loadSplit(base, o, s.seed);
    const found = runSearch({
      budget: o.budget, strategy: s.strategy, scheduler: s.scheduler, space: s.space, seed: s.seed, startup: o.startup ?? 3, eta: o.eta ?? 2, baseline: s.baseline,
      ...(o.onTrial ? { onTrial: o.onTrial } : {}),
    }, objectiveFor(base, data, o, s.method, s.seed));
    const r = { ...found, method: s.method, strategy: s.strategy, scheduler: s.scheduler, scout: s.scout, seed: s.seed, budget: o.budget, trainExamples: data.train.length, valExamples: data.val.length };
    const yaml = bestYaml(r, o.data, o);
    if (o.output !== undefined) {
      const bytes = new TextEncoder().encode(yaml);
      writeAtomically(o.output, (f) => f.write(bytes));
    }
    return { ...r, yaml, output: o.output ?? null, seconds: (performance.now() - t0) / 1000 };
  } finally {
    base.tensors.close();
  }
}

/** Searches finetuning hyper-parameters on a held-out split of `o.data` and returns every trial and the best. */
export function tune(o: TuneOptions): TuneResult {
  return tuneContract.run(o, () => search(o));
}

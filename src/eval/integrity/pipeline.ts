import { CheckContext, ModelOpenError } from './context.js';
import { containerStage } from './stage-container.js';
import { embeddingStage } from './stage-embedding.js';
import { forwardStage } from './stage-forward.js';
import { goldenStage } from './stage-golden.js';
import { indexStage } from './stage-index.js';
import { metadataStage } from './stage-metadata.js';
import { mlpStage } from './stage-mlp.js';
import { numericsStage } from './stage-numerics.js';
import { attentionStage } from './stage-attention.js';
import { tokenizerStage } from './stage-tokenizer.js';
import { type CheckReport, type Stage, type StageOutcome, type StageResult, errorMessage } from './types.js';

export const STAGES: readonly Stage[] = [
  containerStage,
  metadataStage,
  indexStage,
  tokenizerStage,
  embeddingStage,
  attentionStage,
  mlpStage,
  numericsStage,
  forwardStage,
  goldenStage,
];

export interface RunCheckOptions {
  /** Stage ids to run (default all ten). */
  stages?: readonly number[];
  /** Run the forward passes of stages 9 and 10 (default true). */
  forward?: boolean;
}

/** A stage that threw: the owner of an open error reports it; the others could not check their property. */
function thrown(stage: Stage, err: unknown): StageOutcome {
  if (err instanceof ModelOpenError) {
    if (err.owner === stage.id) return { status: 'FAIL', details: err.message };
    return { status: 'FAIL', details: `not checked: the model does not open (stage ${err.owner}: ${err.message})` };
  }
  return { status: 'FAIL', details: errorMessage(err) };
}

function runStage(stage: Stage, ctx: CheckContext): StageResult {
  const t0 = performance.now();
  let outcome: StageOutcome;
  try {
    outcome = stage.run(ctx);
  } catch (err) {
    outcome = thrown(stage, err);
  }
  return { id: stage.id, name: stage.name, ...outcome, ms: Math.round((performance.now() - t0) * 10) / 10 };
}

/** passed, total, score and all_passed of a list of stage results. */
export function summarize(stages: readonly StageResult[]): Pick<CheckReport, 'passed' | 'total' | 'score' | 'all_passed'> {
  const run = stages.filter((s) => s.status !== 'SKIP');
  const pass = run.filter((s) => s.status === 'PASS').length;
  const warn = run.filter((s) => s.status === 'WARN').length;
  const total = run.length;
  return {
    passed: pass + warn,
    total,
    score: total === 0 ? 0 : Math.round((100 * (pass + warn / 2)) / total),
    all_passed: run.every((s) => s.status !== 'FAIL'),
  };
}

function architecture(ctx: CheckContext): string {
  try {
    return ctx.bundle().config.architecture;
  } catch {
    return 'unknown';
  }
}

/** Runs the selected stages in order over one shared context (the model is opened and loaded once). */
export function runCheck(path: string, opts: RunCheckOptions = {}): CheckReport {
  const ctx = new CheckContext(path, { forward: opts.forward ?? true });
  try {
    const selected = STAGES.filter((s) => opts.stages === undefined || opts.stages.includes(s.id));
    const stages = selected.map((s) => runStage(s, ctx));
    return { model: path, format: ctx.format ?? 'unknown', architecture: architecture(ctx), stages, ...summarize(stages) };
  } finally {
    ctx.close();
  }
}

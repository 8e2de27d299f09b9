/** `apr pipeline apply`: runs the stages whose key or outputs changed, in order, recording each in the lock. */
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Presets, SingleBar } from 'cli-progress';
import { writeAtomically } from '../formats/atomic-write.js';
import { runApr } from './child.js';
import { shellLine } from './flags.js';
import { HashCache, stageKey } from './hash.js';
import { type Lock, readLock, withStage, writeLock } from './lock.js';
import { upstreamResults } from './results.js';
import type { Plan, PlannedStage } from './stages.js';
import { checkStage } from './state.js';

/** A stage's verb failed: names the stage, the command and the verb's last stderr line. */
export class StageFailedError extends Error {
  readonly exitCode: number;
  constructor(stage: string, command: string, code: number, stderr: string) {
    const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
    const last = [...lines].reverse().find((l) => /^apr: |error/i.test(l)) ?? lines[0] ?? '';
    super(`stage ${stage} failed (exit ${code}): ${command}${last ? `: ${last}` : ''}`);
    this.name = 'StageFailedError';
    this.exitCode = code;
  }
}

/** A stage's input file does not exist (and no earlier stage writes it). */
export class MissingInputError extends Error {
  constructor(stage: PlannedStage) {
    const missing = stage.inputs.filter((i) => !existsSync(i.path)).map((i) => `${i.path} (${i.role})`);
    super(`stage ${stage.name}: missing input ${missing.join(', ')}`);
    this.name = 'MissingInputError';
  }
}

export interface ApplyReport {
  ran: string[];
  skipped: string[];
  /** Why each run stage was not up to date. */
  reasons: Record<string, string>;
}

/** Stage progress on stderr: one bar on a TTY, else one line per event. */
interface Display {
  start(stage: string, command: string): void;
  finish(stage: string, note: string): void;
  stop(): void;
}

function display(total: number): Display {
  if (!process.stderr.isTTY) {
    return {
      start: (stage, command) => process.stderr.write(`[${stage}] ${command}\n`),
      finish: (stage, note) => process.stderr.write(`[${stage}] ${note}\n`),
      stop: () => undefined,
    };
  }
  const bar = new SingleBar({ format: 'pipeline [{bar}] {value}/{total} stages | {stage}', stream: process.stderr, hideCursor: true }, Presets.shades_classic);
  bar.start(total, 0, { stage: '' });
  return {
    start: (stage, command) => bar.update({ stage: `${stage}: ${command.slice(0, 60)}` }),
    finish: (stage, note) => bar.increment(1, { stage: `${stage} ${note}` }),
    stop: () => bar.stop(),
  };
}

async function runCommands(plan: Plan, stage: PlannedStage, show: Display): Promise<void> {
  for (const args of stage.commands) {
    const line = shellLine(args);
    show.start(stage.name, line);
    const r = await runApr(args);
    if (r.code !== 0) throw new StageFailedError(stage.name, line, r.code, r.stderr);
    if (stage.results !== undefined) writeResults(plan, stage, r.stdout);
  }
}

function writeResults(plan: Plan, stage: PlannedStage, stdout: string): void {
  const rel = stage.results ?? '';
  const maxTokens = Number(stage.options['max_tokens']);
  const model = stage.inputs.find((i) => i.role === 'model')?.path ?? '';
  const json = upstreamResults(stdout, String(stage.options['benchmark']), model, maxTokens);
  const file = join(plan.outputDir, rel);
  mkdirSync(dirname(file), { recursive: true });
  writeAtomically(file, (f) => f.write(Buffer.from(`${JSON.stringify(json, null, 2)}\n`, 'utf8')));
}

/** Runs one stage and records it: the lock entry goes in only after every output is written. */
async function runStage(plan: Plan, stage: PlannedStage, lock: Lock, hashes: HashCache, show: Display): Promise<Lock> {
  const order = plan.stages.map((s) => s.name);
  let next = withStage(lock, stage.name);
  writeLock(plan.outputDir, next, order);
  const key = await stageKey(stage, hashes);
  if (key === undefined) throw new MissingInputError(stage);
  // adapter folders are refused when not empty: a rerun starts them afresh (files are replaced atomically by the verbs)
  for (const o of stage.outputs) {
    const p = join(plan.outputDir, o);
    if (existsSync(p) && statSync(p).isDirectory()) rmSync(p, { recursive: true, force: true });
  }
  const t0 = performance.now();
  await runCommands(plan, stage, show);
  const outputs: Record<string, string> = {};
  for (const o of stage.outputs) {
    hashes.forget(join(plan.outputDir, o));
    Object.assign(outputs, (await hashes.output(plan.outputDir, o)) ?? {});
  }
  next = withStage(next, stage.name, { name: stage.name, key, command: stage.commands.map(shellLine), outputs });
  writeLock(plan.outputDir, next, order);
  show.finish(stage.name, `done in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return next;
}

/** Runs every stage that is not up to date; the ones after a rerun stage see its new outputs. */
export async function applyPlan(plan: Plan, warn: (m: string) => void): Promise<ApplyReport> {
  mkdirSync(plan.outputDir, { recursive: true });
  const read = readLock(plan.outputDir);
  if (read.problem) warn(read.problem);
  let lock = read.lock;
  const hashes = new HashCache();
  const report: ApplyReport = { ran: [], skipped: [], reasons: {} };
  const show = display(plan.stages.length);
  try {
    for (const stage of plan.stages) {
      const check = await checkStage(plan, stage, lock, hashes, true);
      if (check.state === 'done') {
        report.skipped.push(stage.name);
        show.finish(stage.name, 'up to date');
        continue;
      }
      report.reasons[stage.name] = check.reason ?? check.state;
      lock = await runStage(plan, stage, lock, hashes, show);
      report.ran.push(stage.name);
    }
  } finally {
    show.stop();
  }
  return report;
}

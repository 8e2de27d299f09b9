/** Where each stage stands against the lock: done (key and output hashes match), stale, or pending. */
import { type HashCache, stageKey } from './hash.js';
import type { Lock, LockStage } from './lock.js';
import type { Plan, PlannedStage } from './stages.js';

export type StageState = 'done' | 'stale' | 'pending';

export interface StageCheck {
  state: StageState;
  /** The key from the inputs as they are now (undefined while an input is missing). */
  key?: string;
  /** Why a stage is not done. */
  reason?: string;
  entry?: LockStage;
}

/** Names of outputs whose bytes differ from the lock's record (missing ones included). */
async function changedOutputs(plan: Plan, stage: PlannedStage, entry: LockStage, hashes: HashCache): Promise<string[]> {
  const now: Record<string, string> = {};
  for (const o of stage.outputs) Object.assign(now, (await hashes.output(plan.outputDir, o)) ?? {});
  const names = new Set([...Object.keys(now), ...Object.keys(entry.outputs)]);
  return [...names].filter((n) => now[n] !== entry.outputs[n]).sort();
}

/** One stage's state; `upstreamDone` false makes a recorded stage stale (its inputs are about to change). */
export async function checkStage(plan: Plan, stage: PlannedStage, lock: Lock, hashes: HashCache, upstreamDone: boolean): Promise<StageCheck> {
  const entry = lock.stages.find((s) => s.name === stage.name);
  const key = await stageKey(stage, hashes);
  const base = { ...(key !== undefined ? { key } : {}), ...(entry ? { entry } : {}) };
  if (!entry) return { ...base, state: 'pending', reason: 'never run' };
  if (!upstreamDone) return { ...base, state: 'stale', reason: 'an earlier stage will rerun' };
  if (key === undefined) return { ...base, state: 'stale', reason: 'an input is missing' };
  if (key !== entry.key) return { ...base, state: 'stale', reason: 'inputs or options changed' };
  const changed = await changedOutputs(plan, stage, entry, hashes);
  if (changed.length > 0) return { ...base, state: 'stale', reason: `output changed or missing: ${changed.join(', ')}` };
  return { ...base, state: 'done' };
}

/** Every stage's state, in order. */
export async function checkAll(plan: Plan, lock: Lock, hashes: HashCache): Promise<StageCheck[]> {
  const out: StageCheck[] = [];
  let upstreamDone = true;
  for (const stage of plan.stages) {
    const c = await checkStage(plan, stage, lock, hashes, upstreamDone);
    upstreamDone &&= c.state === 'done';
    out.push(c);
  }
  return out;
}

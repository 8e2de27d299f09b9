/** The lock file `<output_dir>/pipeline.lock.json`: per completed stage its key, command lines and output hashes. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeAtomically } from '../formats/atomic-write.js';
import { TOOL_VERSION } from '../ops/version.js';

export const LOCK_NAME = 'pipeline.lock.json';
const LOCK_VERSION = 1;

export interface LockStage {
  name: string;
  key: string;
  /** The `apr ...` command lines the stage ran. */
  command: string[];
  /** Output files relative to the output folder → sha256. */
  outputs: Record<string, string>;
}

export interface Lock {
  lock_version: number;
  apr: string;
  stages: LockStage[];
}

export const emptyLock = (): Lock => ({ lock_version: LOCK_VERSION, apr: TOOL_VERSION, stages: [] });

function isLockStage(v: unknown): v is LockStage {
  if (v === null || typeof v !== 'object') return false;
  const s = v as Record<string, unknown>;
  return typeof s['name'] === 'string' && typeof s['key'] === 'string' && Array.isArray(s['command']) && s['outputs'] !== null && typeof s['outputs'] === 'object';
}

/** The lock in `dir`, or an empty one (with a reason) when it is missing or unreadable. */
export function readLock(dir: string): { lock: Lock; problem?: string } {
  const file = join(dir, LOCK_NAME);
  if (!existsSync(file)) return { lock: emptyLock() };
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { stages?: unknown };
    if (!Array.isArray(parsed.stages) || !parsed.stages.every(isLockStage)) throw new Error('no stages list');
    return { lock: { ...emptyLock(), stages: parsed.stages } };
  } catch (err) {
    return { lock: emptyLock(), problem: `${file}: unreadable lock (${err instanceof Error ? err.message : String(err)}); every stage reruns` };
  }
}

function sortedOutputs(outputs: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(outputs).sort().map((k) => [k, outputs[k] ?? '']));
}

/** The lock as written: fixed key order, stages in recipe order, no times, paths relative to the output folder. */
export function lockText(lock: Lock, order: readonly string[]): string {
  const stages = order.flatMap((name) => lock.stages.filter((s) => s.name === name))
    .map((s) => ({ name: s.name, key: s.key, command: s.command, outputs: sortedOutputs(s.outputs) }));
  return `${JSON.stringify({ lock_version: LOCK_VERSION, apr: TOOL_VERSION, stages }, null, 2)}\n`;
}

/** Writes the lock atomically (a reader never sees half of it). */
export function writeLock(dir: string, lock: Lock, order: readonly string[]): void {
  const text = lockText(lock, order);
  writeAtomically(join(dir, LOCK_NAME), (f) => f.write(Buffer.from(text, 'utf8')));
}

/** The lock with `entry` recorded (replacing the stage's previous entry), or with the stage removed. */
export function withStage(lock: Lock, name: string, entry?: LockStage): Lock {
  const stages = lock.stages.filter((s) => s.name !== name);
  return { ...lock, stages: entry ? [...stages, entry] : stages };
}

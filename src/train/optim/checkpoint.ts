import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../../formats/errors.js';
import { openSafetensors } from '../../formats/safetensors/read.js';
import { writeSafetensors } from '../../formats/safetensors/write.js';
import type { TensorRef } from '../../tensor/store.js';
import type { EpochRecord, TrainParam, TrainingOptions } from '../types.js';
import type { AdamWState } from './adamw.js';

export const CHECKPOINT_FILE = 'checkpoint.safetensors';

/** Where a run stands after an epoch: enough to continue it exactly as if it had not stopped. */
export interface CheckpointState {
  /** Epochs completed (1-based count). */
  readonly epoch: number;
  /** Optimizer steps taken so far. */
  readonly step: number;
  readonly history: readonly EpochRecord[];
  readonly options: TrainingOptions;
  /** Seed of the shuffling stream of the next epoch (the run's seed; each epoch derives its own stream). */
  readonly rngSeed: number;
  readonly trainCount: number;
}

function f32Ref(name: string, shape: readonly number[], data: Float32Array): TensorRef {
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return { name, dtype: 'F32', shape, byteLength: bytes.byteLength, read: () => bytes };
}

/**
 * Writes `<dir>/checkpoint.safetensors`: tensors `param.<name>`, `adam_m.<name>`, `adam_v.<name>` (exact
 * float32 bytes) and the JSON state in the header metadata. Atomic (temp file + fsync + rename).
 * Reproducible: the history is stored without its wall-clock `seconds` (0), so the same run gives the same bytes.
 */
export function saveCheckpoint(dir: string, params: readonly TrainParam[], adam: AdamWState, state: CheckpointState): void {
  mkdirSync(dir, { recursive: true });
  const refs: TensorRef[] = [];
  params.forEach((p, i) => {
    refs.push(f32Ref(`param.${p.name}`, p.shape, p.data));
    refs.push(f32Ref(`adam_m.${p.name}`, p.shape, adam.m[i] ?? new Float32Array(0)));
    refs.push(f32Ref(`adam_v.${p.name}`, p.shape, adam.v[i] ?? new Float32Array(0)));
  });
  const history = state.history.map((r) => ({ ...r, seconds: 0 }));
  writeSafetensors(join(dir, CHECKPOINT_FILE), refs, { apr_train_state: JSON.stringify({ ...state, history, adamStep: adam.step }) });
}

function sameOptions(a: TrainingOptions, b: TrainingOptions): keyof TrainingOptions | undefined {
  for (const k of Object.keys(a) as (keyof TrainingOptions)[]) if (a[k] !== b[k]) return k;
  return undefined;
}

function readInto(file: ReturnType<typeof openSafetensors>, path: string, name: string, target: Float32Array): void {
  const ref = file.get(name);
  if (!ref || ref.dtype !== 'F32' || ref.byteLength !== target.byteLength) throw new FormatError(path, name, `missing or not F32 with ${target.length} values: the checkpoint is for other parameters`);
  const bytes = ref.read();
  new Uint8Array(target.buffer, target.byteOffset, target.byteLength).set(bytes);
}

/**
 * Loads `<dir>/checkpoint.safetensors` into the parameters and the optimizer state (in place) and returns the
 * saved position, or undefined when there is none. A checkpoint of other options or parameters is refused.
 */
export function loadCheckpoint(dir: string, params: readonly TrainParam[], adam: AdamWState, options: TrainingOptions, trainCount: number): CheckpointState | undefined {
  const path = join(dir, CHECKPOINT_FILE);
  if (!existsSync(path)) return undefined;
  const file = openSafetensors(path);
  try {
    const raw = file.metadata?.['apr_train_state'];
    if (raw === undefined) throw new FormatError(path, 'apr_train_state', 'missing: not an apr training checkpoint');
    const state = JSON.parse(raw) as CheckpointState & { adamStep: number };
    const differs = sameOptions(options, state.options);
    if (differs !== undefined) throw new FormatError(path, `options.${differs}`, `the checkpoint was made with ${JSON.stringify(state.options[differs])}, this run has ${JSON.stringify(options[differs])}`);
    if (state.trainCount !== trainCount) throw new FormatError(path, 'trainCount', `the checkpoint was made on ${state.trainCount} training examples, this run has ${trainCount}`);
    params.forEach((p, i) => {
      readInto(file, path, `param.${p.name}`, p.data);
      readInto(file, path, `adam_m.${p.name}`, adam.m[i] ?? new Float32Array(0));
      readInto(file, path, `adam_v.${p.name}`, adam.v[i] ?? new Float32Array(0));
    });
    adam.step = state.adamStep;
    return state;
  } finally {
    file.close();
  }
}

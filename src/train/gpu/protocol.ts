import type { GpuCounters } from '../../kernels/webgpu/encoder.js';
import type { BaseForm } from './base-weights.js';
import type { PackedRows } from './pack.js';
import type { GroupUpdate } from './trainer.js';

/** Messages between the synchronous GPU trainer (sync-trainer.ts) and its device worker (worker.ts). */

/** The prefix of an init error that says no WebGPU adapter could be had (the caller's usage error). */
export const NO_ADAPTER = 'no usable WebGPU adapter: ';

export interface ModuleInit {
  readonly module: string;
  readonly aName: string;
  readonly aShape: number[];
  readonly a: Float32Array;
  readonly bName: string;
  readonly bShape: number[];
  readonly b: Float32Array;
}

export type TrainerRequest =
  | { readonly kind: 'init'; readonly modelPath: string; readonly form: BaseForm; readonly modules: ModuleInit[]; readonly rank: number; readonly scale: number; readonly maxRows: number; readonly checkpoint: boolean }
  | { readonly kind: 'train'; readonly micro: PackedRows[]; readonly update: GroupUpdate }
  | { readonly kind: 'eval'; readonly micro: PackedRows }
  | { readonly kind: 'forward'; readonly micro: PackedRows }
  | { readonly kind: 'backward'; readonly rowWeight: Float32Array }
  | { readonly kind: 'update'; readonly update: GroupUpdate }
  | { readonly kind: 'read' }
  | { readonly kind: 'write'; readonly params: Float32Array; readonly m: Float32Array; readonly v: Float32Array }
  | { readonly kind: 'counters' }
  | { readonly kind: 'close' };

export type TrainerReply =
  | { readonly ok: false; readonly error: string }
  | { readonly ok: true; readonly kind: 'init'; readonly description: string; readonly baseBytes: number; readonly deviceBytes: number }
  | { readonly ok: true; readonly kind: 'losses'; readonly losses: Float32Array }
  | { readonly ok: true; readonly kind: 'state'; readonly params: Float32Array; readonly m: Float32Array; readonly v: Float32Array }
  | { readonly ok: true; readonly kind: 'counters'; readonly counters: GpuCounters }
  | { readonly ok: true; readonly kind: 'done' };

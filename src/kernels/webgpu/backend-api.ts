import type { AttentionShape, Backend, InputNorm, SlotBuffers, SlotPlace } from '../types.js';
import type { Bindable, CommandRecorder, GpuCounters } from './encoder.js';
import type { RopeTable } from './rope-table.js';
import type { TileConfig } from './wgsl-matmul.js';

/** The WebGPU backend's public types (the implementation is backend.ts). */

/** An activation buffer on the device: `length` float32 values. */
export interface GpuBuf extends Bindable {
  readonly length: number;
}

/** A weight on the device in its stored form (raw ggml blocks for a quantized dtype the WGSL decodes). */
export interface GpuWeight extends Bindable {
  readonly dtype: string;
  readonly rows: number;
  readonly cols: number;
}

/** Deliberate kernel faults, for testing that the parity gate catches a wrong kernel. */
export type WebGpuFault = 'rope-sign' | 'matmul-drop-last-column';

export interface WebGpuBackendOptions {
  /** Tile shape of the prefill product (default: the device's, 8×4 outputs per thread, 16-deep where it fits). */
  readonly tile?: TileConfig;
  /** Perturbs one kernel (tests only). */
  readonly fault?: WebGpuFault;
  /** Prefill kernel: 'v4' (vec4 loads, prefetch; needs cols ≡ 0 mod 4, else 'v1') or 'v1' (scalar). Default 'v4'. */
  readonly kernel?: 'v1' | 'v4';
  /** Blocked matrix-vector kernels for Q4_K, Q6_K, Q8_0 and F32 (default true); n ≤ chunkedMatvecMaxN (default 32) runs them, 32 rows a dispatch. */
  readonly blockedMatvec?: boolean;
  readonly chunkedMatvecMaxN?: number;
  /** Largest n that takes the matrix-vector kernel rather than the tiled one (default 8, at most 8). */
  readonly matvecMaxN?: number;
  /**
   * Submit after this many dispatches, so the device starts on a long decode step while the host records the
   * rest (default 40, measured on an H100: 1-sequence decode of the ~1 B model 172 → 213 tok/s, B = 32
   * 477 → 574 tok/s); 0 submits only when results are read or the uniform arena is full.
   */
  readonly submitEvery?: number;
}

/** The WebGPU backend plus the kernels the Backend interface does not name. */
export interface WebGpuBackend extends Backend<GpuBuf, GpuWeight> {
  readonly description: string;
  release(buf: GpuBuf): void;
  releaseWeight(w: GpuWeight): void;
  /** out += W·x, fused into the blocked matvec where it serves (see Backend.matmulAdd). */
  matmulAdd(w: GpuWeight, x: GpuBuf, n: number, out: GpuBuf, tmp: GpuBuf): void;
  /** One decode row's RoPE, KV-cache writes and attention in one dispatch (see Backend.attendRow). */
  attendRow(q: GpuBuf, k: GpuBuf, v: GpuBuf, row: number, kCache: GpuBuf, vCache: GpuBuf, shape: AttentionShape, theta: number, out: GpuBuf): void;
  /** Slot views of one buffer (see Backend.allocSlots). */
  allocSlots(length: number, slots: number): SlotBuffers<GpuBuf> | undefined;
  /** attendRow of many rows, each in its own cache slot, ATTEND_ROWS_MAX rows a dispatch (see Backend.attendRows). */
  attendRows(q: GpuBuf, k: GpuBuf, v: GpuBuf, n: number, kSlots: SlotBuffers<GpuBuf>, vSlots: SlotBuffers<GpuBuf>, places: readonly SlotPlace[], shape: AttentionShape, theta: number, out: GpuBuf): void;
  /** The gate and up products and SwiGLU in one dispatch where the blocked matvec serves (see Backend.matmulSwiglu). */
  matmulSwiglu(gate: GpuWeight, up: GpuWeight, x: GpuBuf, n: number, out: GpuBuf, tmp: GpuBuf, norm?: InputNorm<GpuBuf>): void;
  /** Three products of one input in one dispatch where the blocked matvec serves (see Backend.matmul3). */
  matmul3(w0: GpuWeight, w1: GpuWeight, w2: GpuWeight, x: GpuBuf, n: number, out0: GpuBuf, out1: GpuBuf, out2: GpuBuf, norm?: InputNorm<GpuBuf>): void;
  /** RoPE of q and k and the key-cache write in one dispatch (see Backend.ropeKv). */
  ropeKv(q: GpuBuf, k: GpuBuf, kCache: GpuBuf, shape: AttentionShape, theta: number): void;
  /** Row arg-max of x[n, dim] into out[outOffset..outOffset + n) (see Backend.argmax). */
  argmax(x: GpuBuf, n: number, dim: number, out: GpuBuf, outOffset?: number): void;
  /** The embedding of ids held on the device as floats (see Backend.embedPicked). */
  embedPicked(table: GpuWeight, ids: GpuBuf, offset: number, n: number, out: GpuBuf): void;
  /** Row softmax of x[n, dim] in place. */
  softmax(x: GpuBuf, n: number, dim: number): void;
  /** Submits everything recorded so far. */
  flush(): void;
  /** The recorder this backend's calls go through: kernels of the training step record on it, in order with these calls. */
  readonly recorder: CommandRecorder;
  /** The host-built RoPE cos/sin table for `positions` positions (see rope-table.ts), shared with `rope`. */
  ropeTable(headDim: number, theta: number, positions: number): RopeTable<GpuBuf>;
  /** Resolves when the device has finished all submitted work. */
  finish(): Promise<void>;
  /** The first device error seen (validation, out of memory), if any. */
  readonly firstError: string | undefined;
  /** A snapshot of the running dispatch, submission, buffer-creation and read-back totals. */
  counters(): GpuCounters;
}

import type { AttentionShape } from '../types.js';
import type { WebGpuBackendOptions } from './backend.js';

/**
 * Messages between the synchronous WebGPU proxy (caller's thread) and the worker that owns the device.
 * Buffers and weights are numeric handles chosen by the proxy. Every batch is answered through a
 * SharedArrayBuffer: word 0 of `state` goes 0 → 1 (done) or 2 (failed, message in `error`), and a read's
 * floats land in `data`.
 */
export type Op =
  | ['alloc', number, number]
  | ['upload', number, Float32Array]
  | ['weight', number, string, number, number, Float32Array | Uint8Array]
  | ['release', number]
  | ['releaseWeight', number]
  | ['copy', number, number, number, number, number]
  | ['matmul', number, number, number, number]
  | ['embed', number, number[], number]
  | ['rmsnorm', number, number, number, number, number, number]
  | ['addBias', number, number, number, number]
  | ['add', number, number, number, number]
  | ['swiglu', number, number, number, number]
  | ['rope', number, number, number, number, number, number]
  | ['kvStore', number, number, number, number, number, number, number]
  | ['attention', number, number, number, AttentionShape, number]
  | ['argmax', number, number, number, number, number]
  | ['embedPicked', number, number, number, number, number]
  | ['matmulAdd', number, number, number, number, number]
  | ['ropeKv', number, number, number, AttentionShape, number];

export interface InitMessage {
  readonly kind: 'init';
  readonly opts: WebGpuBackendOptions;
  readonly state: SharedArrayBuffer;
}

export interface BatchMessage {
  readonly kind: 'batch';
  readonly ops: Op[];
  /** When set, floats [offset, offset + length) of handle `buf` are written to `data` after the batch. */
  readonly read?: { readonly buf: number; readonly offset: number; readonly length: number; readonly data: SharedArrayBuffer };
  readonly state: SharedArrayBuffer;
}

export type WorkerMessage = InitMessage | BatchMessage;

/** Bytes of the state buffer: the status word, the error length, then up to 1 KiB of UTF-8 error text. */
export const STATE_BYTES = 8 + 1024;

import type { Worker } from 'node:worker_threads';
import { defineContract } from '../../contract/index.js';
import type { AttentionShape, Backend, WeightMatrix } from '../types.js';
import type { WebGpuBackendOptions } from './backend.js';
import { moduleWorkers } from './worker-start.js';
import { type BatchMessage, type InitMessage, type Op, STATE_BYTES } from './sync-protocol.js';

/**
 * A synchronous WebGPU backend: the device lives in a worker thread (src/kernels/webgpu/sync-worker.ts);
 * this side records kernel calls as messages and, at `read`, sends the batch and blocks on a shared-memory
 * flag (Atomics.wait) until the worker has run it and copied the floats back. So the synchronous
 * decoder API (model.forward, generation, the CLI) runs on the GPU unchanged. Handles are numbers.
 */

export interface SyncWebGpuBackend extends Backend<number, number> {
  readonly description: string;
  /** Stops the worker (the backend is unusable after). */
  close(): void;
}

export type SyncWebGpuResult = { readonly ok: true; readonly backend: SyncWebGpuBackend } | { readonly ok: false; readonly reason: string };

export interface SyncWebGpuOptions extends WebGpuBackendOptions {
  /** Longest wait for one batch, in milliseconds (default 10 minutes). */
  readonly timeoutMs?: number;
}

/** The device worker (sync-worker.ts). */
function startWorker(): Worker {
  return moduleWorkers.start(import.meta.url, new URL('./sync-worker.js', import.meta.url));
}

const INIT_TIMEOUT_MS = 120_000;

class Channel {
  private readonly state = new SharedArrayBuffer(STATE_BYTES);
  private data = new SharedArrayBuffer(4096);

  constructor(private readonly worker: Worker, private readonly timeoutMs: number) {}

  /** Posts `msg` (with this channel's state) and blocks until the worker answers; returns its text. */
  call(msg: Omit<InitMessage, 'state'> | Omit<BatchMessage, 'state'>, timeoutMs = this.timeoutMs): string {
    const words = new Int32Array(this.state, 0, 2);
    Atomics.store(words, 0, 0);
    this.worker.postMessage({ ...msg, state: this.state });
    const r = Atomics.wait(words, 0, 0, timeoutMs);
    if (r === 'timed-out') throw new Error(`webgpu: the device worker did not answer within ${timeoutMs} ms`);
    const text = new TextDecoder().decode(new Uint8Array(this.state, 8, words[1] ?? 0).slice());
    if (Atomics.load(words, 0) === 2) throw new Error(text);
    return text;
  }

  readBuffer(length: number): SharedArrayBuffer {
    if (this.data.byteLength < length * 4) this.data = new SharedArrayBuffer(Math.max(length * 4, 2 * this.data.byteLength));
    return this.data;
  }
}

class SyncProxy implements SyncWebGpuBackend {
  readonly name = 'webgpu';
  private ops: Op[] = [];
  private next = 1;

  constructor(private readonly worker: Worker, private readonly ch: Channel, readonly description: string) {}

  private handle(): number {
    return this.next++;
  }

  private send(read?: BatchMessage['read']): void {
    const ops = this.ops;
    this.ops = [];
    this.ch.call(read ? { kind: 'batch', ops, read } : { kind: 'batch', ops });
  }

  alloc(length: number): number {
    const h = this.handle();
    this.ops.push(['alloc', h, length]);
    return h;
  }

  upload(data: Float32Array): number {
    const h = this.handle();
    this.ops.push(['upload', h, Float32Array.from(data)]);
    return h;
  }

  read(buf: number, offset: number, length: number): Float32Array {
    const data = this.ch.readBuffer(length);
    this.send({ buf, offset, length, data });
    return new Float32Array(data, 0, length).slice();
  }

  readAsync(buf: number, offset: number, length: number): Promise<Float32Array> {
    return Promise.resolve(this.read(buf, offset, length));
  }

  copy(src: number, srcOffset: number, dst: number, dstOffset: number, length: number): void {
    this.ops.push(['copy', src, srcOffset, dst, dstOffset, length]);
  }

  release(buf: number): void {
    this.ops.push(['release', buf]);
  }

  prepareWeight(w: WeightMatrix): number {
    const h = this.handle();
    this.ops.push(['weight', h, w.dtype, w.rows, w.cols, w.data]);
    this.send();
    return h;
  }

  releaseWeight(w: number): void {
    this.ops.push(['releaseWeight', w]);
  }

  matmul(w: number, x: number, n: number, out: number): void {
    this.ops.push(['matmul', w, x, n, out]);
  }

  embed(table: number, tokens: ArrayLike<number>, out: number): void {
    this.ops.push(['embed', table, Array.from(tokens), out]);
  }

  rmsnorm(x: number, weight: number, eps: number, n: number, dim: number, out: number): void {
    this.ops.push(['rmsnorm', x, weight, eps, n, dim, out]);
  }

  addBias(x: number, bias: number, n: number, dim: number): void {
    this.ops.push(['addBias', x, bias, n, dim]);
  }

  add(a: number, b: number, length: number, out: number): void {
    this.ops.push(['add', a, b, length, out]);
  }

  swiglu(gate: number, up: number, length: number, out: number): void {
    this.ops.push(['swiglu', gate, up, length, out]);
  }

  rope(x: number, n: number, heads: number, headDim: number, startPos: number, theta: number): void {
    this.ops.push(['rope', x, n, heads, headDim, startPos, theta]);
  }

  kvStore(cache: number, src: number, n: number, kvHeads: number, headDim: number, startPos: number, capacity: number): void {
    this.ops.push(['kvStore', cache, src, n, kvHeads, headDim, startPos, capacity]);
  }

  attention(q: number, kCache: number, vCache: number, shape: AttentionShape, out: number): void {
    this.ops.push(['attention', q, kCache, vCache, { ...shape }, out]);
  }

  ropeKv(q: number, k: number, kCache: number, shape: AttentionShape, theta: number): void {
    this.ops.push(['ropeKv', q, k, kCache, { ...shape }, theta]);
  }

  matmulAdd(w: number, x: number, n: number, out: number, tmp: number): void {
    this.ops.push(['matmulAdd', w, x, n, out, tmp]);
  }

  argmax(x: number, n: number, dim: number, out: number, outOffset = 0): void {
    this.ops.push(['argmax', x, n, dim, out, outOffset]);
  }

  embedPicked(table: number, ids: number, offset: number, n: number, out: number): void {
    this.ops.push(['embedPicked', table, ids, offset, n, out]);
  }

  close(): void {
    void this.worker.terminate();
  }
}

export const syncProxyContract = defineContract<SyncWebGpuOptions, SyncWebGpuResult>({
  id: 'webgpu-backend-v1',
  equation: 'sync_proxy',
  spec: 'sync_proxy(op₁ … opₙ; read) = webgpu_kernels(op₁ … opₙ; readAsync): the same kernels on the same device, results returned synchronously',
  pre: [['timeout positive', ({ timeoutMs }) => timeoutMs === undefined || timeoutMs > 0]],
  post: [['a backend or a reason', (_i, r) => (r.ok ? r.backend.name === 'webgpu' : r.reason.length > 0)]],
});

/** Starts the device worker and waits for its adapter; returns a synchronous WebGPU backend or why there is none. */
export function createSyncWebGpuBackend(opts: SyncWebGpuOptions = {}): SyncWebGpuResult {
  return syncProxyContract.run(opts, () => {
    // Dawn's OpenGL ES backend finds its EGL display through EGL_PLATFORM in the C environment, which only
    // the main thread's process.env writes through to (device.ts sets it too late, inside the worker).
    process.env['EGL_PLATFORM'] ??= 'surfaceless';
    const worker = startWorker();
    worker.unref();
    const { timeoutMs, ...backendOpts } = opts;
    const ch = new Channel(worker, timeoutMs ?? 600_000);
    try {
      const description = ch.call({ kind: 'init', opts: backendOpts }, INIT_TIMEOUT_MS);
      return { ok: true, backend: new SyncProxy(worker, ch, description) };
    } catch (err) {
      void worker.terminate();
      return { ok: false, reason: (err as Error).message };
    }
  });
}

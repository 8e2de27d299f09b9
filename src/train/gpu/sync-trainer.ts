import { MessageChannel, type MessagePort, receiveMessageOnPort, type Worker } from 'node:worker_threads';
import { moduleWorkers } from '../../kernels/webgpu/worker-start.js';
import type { TrainerReply, TrainerRequest } from './protocol.js';

/**
 * The synchronous face of the GPU trainer: the device and the trainer live in a worker (worker.ts); each
 * call posts a request, blocks on a shared flag (Atomics.wait) until the worker has answered, and takes the
 * answer off the port synchronously. So the synchronous training loop (src/train/loop.ts) drives the GPU.
 */

const INIT_TIMEOUT_MS = 600_000;
const CALL_TIMEOUT_MS = 3_600_000;

export class TrainerChannel {
  private readonly flag = new SharedArrayBuffer(4);
  private readonly port: MessagePort;
  private closed = false;

  private constructor(private readonly worker: Worker) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    worker.postMessage({ port: port2, flag: this.flag }, [port2]);
    this.wait(INIT_TIMEOUT_MS);
    receiveMessageOnPort(this.port);
  }

  static open(): TrainerChannel {
    const w = moduleWorkers.start(import.meta.url, new URL('./worker.js', import.meta.url));
    w.unref();
    return new TrainerChannel(w);
  }

  private wait(timeoutMs: number): void {
    const words = new Int32Array(this.flag);
    const r = Atomics.wait(words, 0, 0, timeoutMs);
    if (r === 'timed-out') throw new Error(`webgpu training: the device worker did not answer within ${timeoutMs} ms`);
    Atomics.store(words, 0, 0);
  }

  /** Sends `request` and returns the worker's answer (throws its error). */
  call<K extends Extract<TrainerReply, { ok: true }>['kind']>(request: TrainerRequest, expect: K): Extract<TrainerReply, { ok: true; kind: K }> {
    if (this.closed) throw new Error('webgpu training: the trainer is closed');
    Atomics.store(new Int32Array(this.flag), 0, 0);
    this.worker.postMessage({ flag: this.flag, request });
    this.wait(request.kind === 'init' ? INIT_TIMEOUT_MS : CALL_TIMEOUT_MS);
    const got = receiveMessageOnPort(this.port)?.message as TrainerReply | undefined;
    if (!got) throw new Error('webgpu training: the device worker answered nothing');
    if (!got.ok) throw new Error(got.error);
    if (got.kind !== expect) throw new Error(`webgpu training: expected a '${expect}' answer, got '${got.kind}'`);
    return got as Extract<TrainerReply, { ok: true; kind: K }>;
  }

  close(): void {
    if (this.closed) return;
    try {
      this.call({ kind: 'close' }, 'done');
    } finally {
      this.closed = true;
      void this.worker.terminate();
    }
  }
}

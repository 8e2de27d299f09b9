import { parentPort } from 'node:worker_threads';
import type { DType } from '../../tensor/dtype.js';
import { createWebGpuBackend, type GpuBuf, type GpuWeight, type WebGpuBackend } from './backend.js';
import { acquireGpu } from './device.js';
import { type BatchMessage, type Op, STATE_BYTES, type WorkerMessage } from './sync-protocol.js';

/** The worker behind the synchronous WebGPU proxy: owns the device, runs batches, answers through shared memory. */

let be: WebGpuBackend | undefined;
const bufs = new Map<number, GpuBuf>();
const weights = new Map<number, GpuWeight>();

function buf(h: number): GpuBuf {
  const b = bufs.get(h);
  if (!b) throw new Error(`webgpu worker: unknown buffer handle ${h}`);
  return b;
}

function weight(h: number): GpuWeight {
  const w = weights.get(h);
  if (!w) throw new Error(`webgpu worker: unknown weight handle ${h}`);
  return w;
}

/** Status 1 (done) or 2 (failed); `text` is the error, or the device description after init. */
function answer(state: SharedArrayBuffer, status: 1 | 2, text = ''): void {
  const words = new Int32Array(state, 0, 2);
  const bytes = new TextEncoder().encode(text).subarray(0, STATE_BYTES - 8);
  new Uint8Array(state, 8).set(bytes);
  words[1] = bytes.length;
  Atomics.store(words, 0, status);
  Atomics.notify(words, 0);
}

/** Buffer and weight bookkeeping; false when `op` is a compute op. */
function applyMemory(b: WebGpuBackend, op: Op): boolean {
  switch (op[0]) {
    case 'alloc': bufs.set(op[1], b.alloc(op[2])); return true;
    case 'upload': bufs.set(op[1], b.upload(op[2])); return true;
    case 'weight': weights.set(op[1], b.prepareWeight({ dtype: op[2] as DType, rows: op[3], cols: op[4], data: op[5] })); return true;
    case 'release': b.release(buf(op[1])); bufs.delete(op[1]); return true;
    case 'releaseWeight': b.releaseWeight(weight(op[1])); weights.delete(op[1]); return true;
    case 'copy': b.copy(buf(op[1]), op[2], buf(op[3]), op[4], op[5]); return true;
    default: return false;
  }
}

function applyCompute(b: WebGpuBackend, op: Op): void {
  switch (op[0]) {
    case 'matmul': b.matmul(weight(op[1]), buf(op[2]), op[3], buf(op[4])); break;
    case 'embed': b.embed(weight(op[1]), op[2], buf(op[3])); break;
    case 'rmsnorm': b.rmsnorm(buf(op[1]), buf(op[2]), op[3], op[4], op[5], buf(op[6])); break;
    case 'addBias': b.addBias(buf(op[1]), buf(op[2]), op[3], op[4]); break;
    case 'add': b.add(buf(op[1]), buf(op[2]), op[3], buf(op[4])); break;
    case 'swiglu': b.swiglu(buf(op[1]), buf(op[2]), op[3], buf(op[4])); break;
    case 'rope': b.rope(buf(op[1]), op[2], op[3], op[4], op[5], op[6]); break;
    case 'kvStore': b.kvStore(buf(op[1]), buf(op[2]), op[3], op[4], op[5], op[6], op[7]); break;
    case 'attention': b.attention(buf(op[1]), buf(op[2]), buf(op[3]), op[4], buf(op[5])); break;
    case 'argmax': b.argmax(buf(op[1]), op[2], op[3], buf(op[4]), op[5]); break;
    case 'embedPicked': b.embedPicked(weight(op[1]), buf(op[2]), op[3], op[4], buf(op[5])); break;
    case 'matmulAdd': b.matmulAdd(weight(op[1]), buf(op[2]), op[3], buf(op[4]), buf(op[5])); break;
    case 'ropeKv': b.ropeKv(buf(op[1]), buf(op[2]), buf(op[3]), op[4], op[5]); break;
    default: break;
  }
}

function apply(b: WebGpuBackend, op: Op): void {
  if (!applyMemory(b, op)) applyCompute(b, op);
}

async function batch(m: BatchMessage): Promise<void> {
  if (!be) throw new Error('webgpu worker: no device');
  for (const op of m.ops) apply(be, op);
  if (m.read) {
    const out = await be.readAsync(buf(m.read.buf), m.read.offset, m.read.length);
    new Float32Array(m.read.data, 0, out.length).set(out);
  } else {
    be.flush();
    if (be.firstError !== undefined) throw new Error(`webgpu: device error: ${be.firstError}`);
  }
}

async function handle(m: WorkerMessage): Promise<void> {
  try {
    if (m.kind === 'init') {
      const a = await acquireGpu();
      if (!a.ok) throw new Error(a.reason);
      be = createWebGpuBackend(a.gpu, m.opts);
      answer(m.state, 1, be.description);
      return;
    }
    await batch(m);
    answer(m.state, 1);
  } catch (err) {
    answer(m.state, 2, (err as Error).message);
  }
}

let chain = Promise.resolve();
parentPort?.on('message', (m: WorkerMessage) => {
  chain = chain.then(() => handle(m));
});

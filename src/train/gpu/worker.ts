import { type MessagePort, parentPort } from 'node:worker_threads';
import { openModel } from '../../formats/open.js';
import { createWebGpuBackend } from '../../kernels/webgpu/backend.js';
import { acquireGpu } from '../../kernels/webgpu/device.js';
import type { AdapterModule } from '../model/lora.js';
import { GpuLoraTrainer } from './trainer.js';
import { NO_ADAPTER, type TrainerReply, type TrainerRequest } from './protocol.js';

/**
 * The device side of the synchronous GPU trainer (sync-trainer.ts): owns the WebGPU device and the
 * GpuLoraTrainer, answers each request on the port, then raises the shared flag the caller waits on.
 */

let trainer: GpuLoraTrainer | undefined;
let closeModel: (() => void) | undefined;

function modules(list: Extract<TrainerRequest, { kind: 'init' }>['modules']): AdapterModule[] {
  return list.map((m) => ({
    module: m.module,
    a: { name: m.aName, shape: m.aShape, data: m.a, grad: new Float32Array(0) },
    b: { name: m.bName, shape: m.bShape, data: m.b, grad: new Float32Array(0) },
  }));
}

async function start(r: Extract<TrainerRequest, { kind: 'init' }>): Promise<TrainerReply> {
  const a = await acquireGpu();
  if (!a.ok) throw new Error(`${NO_ADAPTER}${a.reason}`);
  const bundle = openModel(r.modelPath);
  closeModel = () => bundle.tensors.close();
  const be = createWebGpuBackend(a.gpu);
  const maxChunkBytes = Math.min(256 * 2 ** 20, a.gpu.limits.maxStorageBufferBindingSize);
  trainer = new GpuLoraTrainer({ be, bundle, form: r.form, modules: modules(r.modules), rank: r.rank, scale: r.scale, maxRows: r.maxRows, maxChunkBytes, checkpoint: r.checkpoint });
  return { ok: true, kind: 'init', description: be.description, baseBytes: trainer.base.bytes, deviceBytes: trainer.deviceBytes };
}

function need(): GpuLoraTrainer {
  if (!trainer) throw new Error('webgpu trainer: not initialised');
  return trainer;
}

async function handle(r: TrainerRequest): Promise<TrainerReply> {
  switch (r.kind) {
    case 'init': return start(r);
    case 'train': return { ok: true, kind: 'losses', losses: await need().trainGroup(r.micro, r.update) };
    case 'eval': return { ok: true, kind: 'losses', losses: await need().evaluate(r.micro) };
    case 'forward': return { ok: true, kind: 'losses', losses: await need().forwardLoss(r.micro) };
    case 'backward': need().backwardWith(r.rowWeight); return { ok: true, kind: 'done' };
    case 'update': need().update(r.update); return { ok: true, kind: 'done' };
    case 'read': return { ok: true, kind: 'state', ...(await need().readState()) };
    case 'write': need().writeState(r); return { ok: true, kind: 'done' };
    case 'counters': return { ok: true, kind: 'counters', counters: need().counters() };
    case 'close':
      trainer?.dispose();
      trainer = undefined;
      closeModel?.();
      return { ok: true, kind: 'done' };
  }
}

let port: MessagePort | undefined;
let chain = Promise.resolve();

parentPort?.on('message', (m: { port?: MessagePort; flag: SharedArrayBuffer; request?: TrainerRequest }) => {
  if (m.port) port = m.port;
  const flag = new Int32Array(m.flag);
  const request = m.request;
  chain = chain.then(async () => {
    let reply: TrainerReply;
    try {
      reply = request ? await handle(request) : { ok: true, kind: 'done' };
    } catch (err) {
      reply = { ok: false, error: (err as Error).message };
    }
    port?.postMessage(reply);
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
  });
});

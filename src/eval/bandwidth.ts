import { Worker } from 'node:worker_threads';
import type { ModelBundle } from '../tensor/bundle.js';

/**
 * The memory-bandwidth bound on decode: every token reads every weight matrix once (the embedding table only
 * one row, unless it is tied to the LM head), so no decoder can go faster than read bandwidth ÷ those bytes.
 */

/** Bytes of weights one decoded token reads: every tensor but an untied embedding table. */
export function decodeWeightBytes(bundle: ModelBundle): number {
  const names = bundle.tensors.names();
  const tied = !names.includes('lm_head.weight');
  return names.reduce((s, n) => s + (n === 'model.embed_tokens.weight' && !tied ? 0 : (bundle.tensors.get(n)?.byteLength ?? 0)), 0);
}

const BUFFER = 1 << 27;

/**
 * Read bandwidth (bytes/s) of `threads` threads at once, each comparing two equal 128 MiB buffers (best of 5
 * passes; Buffer.compare streams both, so 256 MiB are read per pass). Synchronous: the calling thread waits on
 * a shared counter while the workers run.
 */
export function readBandwidth(threads: number): number {
  const shared = new Int32Array(new SharedArrayBuffer(4 * (1 + threads)));
  const times = new Float64Array(new SharedArrayBuffer(8 * threads));
  const src = `const { workerData } = require('node:worker_threads');
    const { shared, times, i } = workerData;
    const a = Buffer.alloc(${BUFFER}, 7), b = Buffer.alloc(${BUFFER}, 7);
    Atomics.add(shared, 1 + i, 1);
    while (Atomics.load(shared, 1 + i) < 2) Atomics.wait(shared, 1 + i, 1, 50);
    let best = Infinity;
    for (let k = 0; k < 5; k++) { const t0 = process.hrtime.bigint(); Buffer.compare(a, b); best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9); }
    times[i] = best;
    Atomics.add(shared, 0, 1);
    Atomics.notify(shared, 0);`;
  const workers = Array.from({ length: threads }, (_, i) => new Worker(src, { eval: true, workerData: { shared, times, i } }));
  // start them together once all have their buffers
  for (let i = 0; i < threads; i++) while (Atomics.load(shared, 1 + i) < 1) Atomics.wait(shared, 1 + i, 0, 50);
  for (let i = 0; i < threads; i++) {
    Atomics.store(shared, 1 + i, 2);
    Atomics.notify(shared, 1 + i);
  }
  while (Atomics.load(shared, 0) < threads) Atomics.wait(shared, 0, Atomics.load(shared, 0), 100);
  for (const w of workers) void w.terminate();
  return (threads * 2 * BUFFER) / Math.max(...times);
}

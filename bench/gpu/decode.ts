/**
 * Decode tokens/s of a synthetic ≥ 1B-parameter Llama (bench/gpu/synthetic.ts, built in memory) on the
 * WebGPU backend through the decoder's async path (forwardAsync): a prefill of --prompt tokens, then
 * --tokens greedy one-token steps, timed separately. Also reports the weight bytes streamed per token
 * and the implied bandwidth. One JSON line per quant.
 * --matvec blocked,scalar runs each quant with the blocked Q4_K/Q8_0 matvec kernels and with the scalar ones.
 * --pick gpu,host,ahead: greedy arg-max on the device (forwardGreedyAsync, 4 bytes read back per token), on the
 * host over the read-back logits (forwardAsync, vocab·4 bytes), and/or run ahead (greedyAheadAsync: chunks of
 * --ahead steps, default 32, each pick fed to the next step on the device, one read-back per chunk). Each line counts, per decoded token, the
 * compute dispatches, queue submissions, GPU buffers created and bytes read back.
 * Also measures the read and copy bandwidth (bench/gpu/bandwidth.ts) and reports the weight-streaming bound and the fraction of it reached.
 *   node decode.mjs [--card NAME] [--quants Q4_K_M,Q8_0,F32] [--layers 22] [--prompt 32] [--tokens 64] [--small] [--matvec blocked,scalar] [--pick gpu,host,ahead] [--ahead 32] [--dawn-features …]
 */
import { boundFields, measureBandwidths } from './bandwidth.js';
import { benchGpu } from './gpu-flags.js';
import { createWebGpuBackend, type WebGpuBackend } from '../../src/kernels/webgpu/backend.js';
import type { GpuCounters } from '../../src/kernels/webgpu/encoder.js';
import type { Model } from '../../src/model/decoder.js';
import type { KVCache } from '../../src/model/kv-cache.js';
import { loadModel } from '../../src/model/load.js';
import { flag, gpuSyntheticBundle, type GpuQuant, matrixBytesPerToken, parameterCount } from './synthetic.js';

const layers = Number(flag('layers', '22'));
const promptLen = Number(flag('prompt', '32'));
const tokens = Number(flag('tokens', '64'));
const small = process.argv.includes('--small');
const quants = flag('quants', 'Q4_K_M,Q8_0').split(',') as GpuQuant[];
const matvecs = flag('matvec', 'blocked,scalar').split(',');
const picks = flag('pick', 'gpu,host,ahead').split(',');
const aheadChunk = Number(flag('ahead', '32'));

function argmax(a: Float32Array): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if ((a[i] as number) > (a[best] as number)) best = i;
  return best;
}

/** Per-token difference of two counter snapshots. */
function perToken(a: GpuCounters, b: GpuCounters, n: number): Record<string, number> {
  return {
    dispatches_per_token: (b.dispatches - a.dispatches) / n,
    submissions_per_token: (b.submissions - a.submissions) / n,
    buffer_creations_per_token: (b.bufferCreations - a.bufferCreations) / n,
    readback_bytes_per_token: (b.bytesRead - a.bytesRead) / n,
  };
}

/** `tokens` greedy steps from position `start` after `first`; returns the seconds and the per-token counters. */
async function decodeLoop(be: WebGpuBackend, model: Model, cache: KVCache, first: number, start: number, pick: string) {
  const greedy = model.forwardGreedyAsync?.bind(model);
  const forward = model.forwardAsync?.bind(model);
  if (!greedy || !forward) throw new Error('model has no forwardGreedyAsync/forwardAsync');
  const step = pick === 'gpu' ? (t: number, p: number) => greedy([t], p, cache) : async (t: number, p: number) => argmax(await forward([t], p, cache));
  const c0 = be.counters();
  const td = performance.now();
  let next = first;
  if (pick === 'ahead') {
    for (let i = 0; i < tokens; i += aheadChunk) {
      const got = await model.greedyAheadAsync?.(next, start + i, cache, Math.min(aheadChunk, tokens - i));
      if (got === undefined) throw new Error('the backend cannot run greedy steps ahead');
      next = got[got.length - 1] ?? 0;
    }
  } else for (let i = 0; i < tokens; i++) next = await step(next, start + i);
  return { decodeS: (performance.now() - td) / 1000, counts: perToken(c0, be.counters(), tokens), last: next };
}

async function main(): Promise<void> {
  const a = { gpu: await benchGpu() };
  process.stderr.write(`device: ${a.gpu.description}\n`);
  const bw = await measureBandwidths(a.gpu.device, a.gpu.description);
  for (const quant of quants) for (const matvec of matvecs) for (const pick of picks) {
    const bundle = gpuSyntheticBundle(quant, layers, small);
    const weightBytes = matrixBytesPerToken(bundle);
    const be = createWebGpuBackend(a.gpu, { blockedMatvec: matvec === 'blocked' });
    const t0 = performance.now();
    const model = loadModel(bundle, { backend: be, keepQuantized: true });
    await be.finish();
    const loadS = (performance.now() - t0) / 1000;
    const V = model.config.vocab_size;
    const prompt = Array.from({ length: promptLen }, (_, i) => (i * 7919) % V);
    const cache = model.createCache(promptLen + tokens + 1);
    const forward = model.forwardAsync?.bind(model);
    if (!forward) throw new Error('model has no forwardAsync');
    // Warm-up compiles every pipeline the timed runs use (the n = 4 matvec and the prompt-length kernels).
    await forward(prompt.slice(0, 4), 0, cache);
    await forward(prompt, 0, cache);
    await model.forwardGreedyAsync?.(prompt.slice(0, 4), 0, cache);
    const tp = performance.now();
    const logits = await forward(prompt, 0, cache);
    const prefillS = (performance.now() - tp) / 1000;
    const { decodeS, counts, last } = await decodeLoop(be, model, cache, argmax(logits), promptLen, pick);
    // Pipelined: all steps recorded and submitted back to back (fixed token ids), so the host round trip
    // per token overlaps the device work; the gap to decode_tokens_per_second is the per-token sync cost.
    const tq = performance.now();
    const all: Promise<Float32Array>[] = [];
    for (let i = 0; i < tokens; i++) all.push(forward([(i * 31) % V], promptLen + i, cache));
    await Promise.all(all);
    const pipelinedS = (performance.now() - tq) / 1000;
    const tps = tokens / decodeS;
    const line = { bench: 'webgpu-decode', device: a.gpu.description, quant, matvec, pick, layers, parameters: parameterCount(model.config), weight_gb_per_token: weightBytes / 1e9, load_s: loadS, prefill_tokens: promptLen, prefill_tokens_per_second: promptLen / prefillS, decode_tokens: tokens, decode_tokens_per_second: tps, ...counts, last_token: last, pipelined_tokens_per_second: tokens / pipelinedS, implied_gb_per_s: (weightBytes * tps) / 1e9, ...boundFields(bw, weightBytes, tps), device_error: be.firstError ?? null };
    process.stdout.write(`${JSON.stringify(line)}\n`);
    model.dispose();
    await be.finish();
  }
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`decode bench: ${(err as Error).message}\n`);
  process.exit(1);
});

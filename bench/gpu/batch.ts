/**
 * Continuous-batching decode of the synthetic ~1B Llama (bench/gpu/synthetic.ts) on the WebGPU backend.
 * First one line for single-sequence greedy decode (forwardGreedyAsync, arg-max on the device, 4 bytes read
 * back per token) with the weight-streaming bound: the read bandwidth measured by bench/gpu/bandwidth.ts (and
 * the card's nominal HBM bandwidth) ÷ weight bytes per token, and the fraction of it reached.
 * Then, per B in --batch, B greedy requests (temperature 0, different prompts of --prompt tokens, --tokens
 * each, no stop token) through one BatchEngine with B slots. Timed from the moment every sequence has its
 * first token (all prefills done) to the end: the B·(tokens − 1) tokens of the batched steps
 * (forwardBatchAsync, full logits read back, sampled on the host). One JSON line per B: aggregate and
 * per-sequence tokens/s, ratio to the B = 1 engine row, and dispatches, submissions and read-back bytes per
 * step (GpuCounters), the end-to-end rate with the prefills, and whether sequence 0's tokens equal the
 * single-sequence greedy run's (batch invariance on this card). Also prints the cost of one small dispatch.
 *   node batch.mjs [--batch 1,2,4,8,16,32] [--quant Q4_K_M] [--layers 22] [--prompt 32] [--tokens 64]
 *                  [--small] [--card NAME] [--matvec blocked|scalar] [--submit-every N] [--dawn-features …]
 *                  [--chunked-max N] (largest n the blocked matvec takes; above it the tiled product: 8 tries it from n = 9)
 */
import { boundFields, dispatchCost, measureBandwidths } from './bandwidth.js';
import { benchGpu } from './gpu-flags.js';
import { createWebGpuBackend, type WebGpuBackend } from '../../src/kernels/webgpu/backend.js';
import type { GpuCounters } from '../../src/kernels/webgpu/encoder.js';
import { BatchEngine } from '../../src/model/batch-decoder.js';
import type { Model } from '../../src/model/decoder.js';
import { loadModel } from '../../src/model/load.js';
import { flag, gpuSyntheticBundle, type GpuQuant, matrixBytesPerToken, parameterCount } from './synthetic.js';

const layers = Number(flag('layers', '22'));
const promptLen = Number(flag('prompt', '32'));
const tokens = Number(flag('tokens', '64'));
const small = process.argv.includes('--small');
const quant = flag('quant', 'Q4_K_M') as GpuQuant;
const batches = flag('batch', '1,2,4,8,16,32').split(',').map(Number);

const r3 = (v: number): number => Math.round(v * 1000) / 1000;

function prompt(i: number, vocab: number): number[] {
  return Array.from({ length: promptLen }, (_, j) => (1 + i * 131 + j * 7919) % vocab);
}

function perStep(a: GpuCounters, b: GpuCounters, steps: number): Record<string, number> {
  return {
    dispatches_per_step: (b.dispatches - a.dispatches) / steps,
    submissions_per_step: (b.submissions - a.submissions) / steps,
    buffer_creations_per_step: (b.bufferCreations - a.bufferCreations) / steps,
    readback_bytes_per_step: (b.bytesRead - a.bytesRead) / steps,
  };
}

/** Single-sequence greedy decode with the arg-max on the device: tokens/s, per-token counters, the ids. */
async function single(be: WebGpuBackend, model: Model): Promise<{ tps: number; counts: Record<string, number>; ids: number[] }> {
  const greedy = model.forwardGreedyAsync?.bind(model);
  if (!greedy) throw new Error('model has no forwardGreedyAsync');
  const cache = model.createCache(promptLen + tokens + 1);
  await greedy(prompt(0, model.config.vocab_size).slice(0, 4), 0, cache);
  const ids = [await greedy(prompt(0, model.config.vocab_size), 0, cache)];
  ids.push(await greedy([ids[0] as number], promptLen, cache));
  const c0 = be.counters();
  const t0 = performance.now();
  for (let i = 2; i < tokens; i++) ids.push(await greedy([ids[i - 1] as number], promptLen + i - 1, cache));
  const s = (performance.now() - t0) / 1000;
  cache.dispose();
  return { tps: (tokens - 2) / s, counts: perStep(c0, be.counters(), tokens - 2), ids };
}

interface EngineRun {
  decodeS: number;
  totalS: number;
  counts: Record<string, number>;
  generated: number;
  first: number[];
}

/** B greedy requests of `gen` tokens through a B-slot engine; the decode phase starts once all have a first token. */
async function engineRun(be: WebGpuBackend, model: Model, b: number, gen: number): Promise<EngineRun> {
  const engine = new BatchEngine(model, { parallel: b, contextLength: promptLen + gen + 1, kvBudget: 2 ** 40 });
  let firsts = 0;
  let tDecode = 0;
  let c0 = be.counters();
  const onToken = (_id: number, i: number): boolean => {
    if (i === 0 && ++firsts === b) {
      tDecode = performance.now();
      c0 = be.counters();
    }
    return true;
  };
  const t0 = performance.now();
  const rs = await Promise.all(Array.from({ length: b }, (_, i) => engine.submit({ promptIds: prompt(i, model.config.vocab_size), maxTokens: gen, temperature: 0 }, { onToken })));
  const t1 = performance.now();
  const counts = perStep(c0, be.counters(), gen - 1);
  engine.close();
  const generated = rs.reduce((a, r) => a + r.ids.length, 0);
  if (generated !== b * gen) throw new Error(`B=${b}: ${generated} tokens generated, expected ${b * gen}`);
  return { decodeS: (t1 - tDecode) / 1000, totalS: (t1 - t0) / 1000, counts, generated, first: rs[0]?.ids ?? [] };
}

async function main(): Promise<void> {
  const gpu = await benchGpu();
  const bw = await measureBandwidths(gpu.device, gpu.description);
  const bundle = gpuSyntheticBundle(quant, layers, small);
  const weightBytes = matrixBytesPerToken(bundle);
  const be = createWebGpuBackend(gpu, { blockedMatvec: flag('matvec', 'blocked') === 'blocked', submitEvery: Number(flag('submit-every', '40')), chunkedMatvecMaxN: Number(flag('chunked-max', '32')) });
  const t0 = performance.now();
  const model = loadModel(bundle, { backend: be, keepQuantized: true });
  await be.finish();
  const common = { device: gpu.description, card: bw.card, quant, layers, parameters: parameterCount(model.config), contracts: process.env['APR_CONTRACTS'] ?? 'pre' };
  const cost = await dispatchCost(be);
  process.stdout.write(`${JSON.stringify({ bench: 'webgpu-dispatch-cost', ...common, dispatch_host_us: r3(cost.host_us), dispatch_total_us: r3(cost.total_us), load_s: r3((performance.now() - t0) / 1000) })}\n`);
  const one = await single(be, model);
  process.stdout.write(`${JSON.stringify({
    bench: 'webgpu-decode-single', ...common, weight_bytes_per_token: weightBytes, tokens_per_second: r3(one.tps), ...one.counts,
    ...boundFields(bw, weightBytes, one.tps),
    implied_gb_per_s: r3((weightBytes * one.tps) / 1e9), device_error: be.firstError ?? null,
  })}\n`);
  let base = 0;
  for (const b of batches) {
    await engineRun(be, model, b, 3);
    const r = await engineRun(be, model, b, tokens);
    const agg = (b * (tokens - 1)) / r.decodeS;
    if (b === 1 || base === 0) base = agg;
    process.stdout.write(`${JSON.stringify({
      bench: 'webgpu-batch-decode', ...common, B: b, tokens_per_sequence: tokens, aggregate_tokens_per_second: r3(agg), per_sequence_tokens_per_second: r3(agg / b),
      ratio_to_b1: r3(agg / base), ratio_to_single_greedy: r3(agg / one.tps), step_ms: r3((r.decodeS * 1000) / (tokens - 1)), ...r.counts,
      end_to_end_tokens_per_second: r3(r.generated / r.totalS), seq0_matches_single: r.first.join() === one.ids.join(), device_error: be.firstError ?? null,
    })}\n`);
  }
  model.dispose();
  await be.finish();
}

main().then(() => process.exit(0), (err: unknown) => {
  process.stderr.write(`batch bench: ${(err as Error).message}\n`);
  process.exit(1);
});

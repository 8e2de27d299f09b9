/**
 * Training speed on the GPU (issue 27): LoRA / QLoRA steps of the WebGPU trainer (src/train/gpu) on a
 * synthetic Llama held in memory (bench/gpu/synthetic.ts: the ~1 B shape, or with --shape 7b Llama-2-7B's),
 * random tokens, `--batch` examples × `--seq` tokens per step (one packed micro-batch each). Prints
 * tokens/s, dispatches per step and the device bytes the trainer holds, and writes the model shape to
 * --shape-out for bench/gpu/peft_train.py (PEFT + torch on the same GPU).
 *   node train.mjs [--shape 1b|7b|small] [--method lora|qlora] [--batch 8] [--seq 512] [--steps 4] [--rank 16]
 *     [--targets q_proj,v_proj] [--checkpoint] [--shape-out shape.json] [--json]
 */
import { randomFillSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createWebGpuBackend } from '../../src/kernels/webgpu/backend.js';
import type { ArchConfig, ModelBundle } from '../../src/tensor/bundle.js';
import { DTYPES } from '../../src/tensor/dtype.js';
import { f32ToF16 } from '../../src/tensor/half.js';
import { MemoryTensorStore } from '../../src/tensor/store.js';
import { initLoraModules } from '../../src/train/model/lora.js';
import { packExamples } from '../../src/train/gpu/pack.js';
import { GpuLoraTrainer } from '../../src/train/gpu/trainer.js';
import { benchGpu } from './gpu-flags.js';
import { flag, gpuSyntheticBundle } from './synthetic.js';

const SHAPE = flag('shape', '1b');
const METHOD = flag('method', 'lora');
const BATCH = Number(flag('batch', '8'));
const SEQ = Number(flag('seq', '512'));
const STEPS = Number(flag('steps', '4'));
const RANK = Number(flag('rank', '16'));
const TARGETS = flag('targets', 'q_proj,v_proj').split(',');
const CHECKPOINT = process.argv.includes('--checkpoint');

/** Random NF4 blocks (f16 absmax ≈ 0.05, so weights have a standard deviation near 0.02). */
function randomNf4(count: number): Uint8Array {
  const bytes = new Uint8Array((count / 64) * 34);
  for (let o = 0; o < bytes.length; o += 1 << 28) randomFillSync(bytes, o, Math.min(1 << 28, bytes.length - o));
  for (let o = 0; o < bytes.length; o += 34) {
    const h = f32ToF16(0.05 * (0.75 + 0.5 * ((bytes[o + 5] as number) / 255)));
    bytes[o] = h & 0xff;
    bytes[o + 1] = h >> 8;
  }
  return bytes;
}

function config7b(): ArchConfig {
  return {
    architecture: 'llama', hidden_size: 4096, num_layers: 32, num_heads: 32, num_kv_heads: 32, head_dim: 128, vocab_size: 32000,
    intermediate_size: 11008, rope_theta: 10000, rms_norm_eps: 1e-5, max_position_embeddings: 4096, tie_word_embeddings: false,
    attention_bias: false, bos_token_id: null, eos_token_id: 0,
  };
}

/** The 1 B synthetic model as the bench's other GPU runs use it (Q4_K_M), or every matrix NF4 (QLoRA, and the 7 B shape). */
function bundleFor(): ModelBundle {
  const q4 = SHAPE === 'small' ? gpuSyntheticBundle('Q8_0', 2, true) : gpuSyntheticBundle('Q4_K_M', 22);
  if (SHAPE !== '7b' && METHOD === 'lora') return q4;
  const c = SHAPE === '7b' ? config7b() : q4.config;
  const store = new MemoryTensorStore();
  const ones = (name: string, n: number): void => store.add(name, 'F32', [n], new Uint8Array(new Float32Array(n).fill(1).buffer));
  const nf4 = (name: string, rows: number, cols: number): void => {
    store.addRef({ name, dtype: 'NF4', shape: [rows, cols], byteLength: (rows * cols / 64) * DTYPES.NF4.blockBytes, read: () => randomNf4(rows * cols) });
  };
  const H = c.hidden_size;
  const kv = c.num_kv_heads * c.head_dim;
  nf4('model.embed_tokens.weight', c.vocab_size, H);
  for (let l = 0; l < c.num_layers; l++) {
    const p = `model.layers.${l}`;
    ones(`${p}.input_layernorm.weight`, H);
    ones(`${p}.post_attention_layernorm.weight`, H);
    for (const [m, r, k] of [['self_attn.q_proj', H, H], ['self_attn.k_proj', kv, H], ['self_attn.v_proj', kv, H], ['self_attn.o_proj', H, H], ['mlp.gate_proj', c.intermediate_size, H], ['mlp.up_proj', c.intermediate_size, H], ['mlp.down_proj', H, c.intermediate_size]] as const) nf4(`${p}.${m}.weight`, r, k);
  }
  ones('model.norm.weight', H);
  nf4('lm_head.weight', c.vocab_size, H);
  return { config: c, tensors: store, metadata: {}, provenance: [], source: { path: `synthetic-${SHAPE}-nf4`, format: 'gguf' } };
}

async function main(): Promise<void> {
  const gpu = await benchGpu();
  const be = createWebGpuBackend(gpu);
  const bundle = bundleFor();
  const c = bundle.config;
  const shapeOut = flag('shape-out', '');
  if (shapeOut) writeFileSync(shapeOut, JSON.stringify({ ...c, batch: BATCH, seq: SEQ, rank: RANK, targets: TARGETS, method: METHOD }));
  const t0 = performance.now();
  const modules = initLoraModules(c, { rank: RANK, alpha: 2 * RANK, targets: TARGETS, seed: 1 });
  const trainer = new GpuLoraTrainer({ be, bundle, form: 'stored', modules, rank: RANK, scale: 2, maxRows: BATCH * SEQ, maxChunkBytes: Math.min(256 * 2 ** 20, gpu.limits.maxStorageBufferBindingSize), checkpoint: CHECKPOINT });
  const loadS = (performance.now() - t0) / 1000;
  process.stderr.write(`loaded in ${loadS.toFixed(1)} s: the trainer holds ${Math.round(trainer.deviceBytes / 2 ** 20)} MiB of device buffers (base ${Math.round(trainer.base.bytes / 2 ** 20)} MiB) for ${BATCH} × ${SEQ} rows${CHECKPOINT ? ', checkpointed' : ''}\n`);
  const examples = Array.from({ length: BATCH }, (_v, b) => ({ tokens: Array.from({ length: SEQ }, (_w, i) => (b * 7919 + i * 104729) % c.vocab_size) }));
  const micro = [packExamples(examples, BATCH)];
  const update = (step: number) => ({ lr: 1e-4, weightDecay: 0, maxGradNorm: 1, step });
  let losses = await trainer.trainGroup(micro, update(1));
  const d0 = be.counters().dispatches;
  const t1 = performance.now();
  for (let s = 0; s < STEPS; s++) losses = await trainer.trainGroup(micro, update(s + 2));
  const secs = (performance.now() - t1) / 1000;
  const tokPerS = (STEPS * BATCH * SEQ) / secs;
  const row = {
    gpu: gpu.description, shape: SHAPE, method: METHOD, checkpoint: CHECKPOINT, batch: BATCH, seq: SEQ, rank: RANK, targets: TARGETS, steps: STEPS,
    tokPerS: Math.round(tokPerS), stepMs: Math.round((1000 * secs) / STEPS), dispatchesPerStep: Math.round((be.counters().dispatches - d0) / STEPS),
    trainerDeviceMiB: Math.round(trainer.deviceBytes / 2 ** 20), baseMiB: Math.round(trainer.base.bytes / 2 ** 20), loadS: Math.round(loadS),
    meanRowLoss: losses.reduce((a, b) => a + b, 0) / losses.length,
  };
  if (process.argv.includes('--json')) process.stdout.write(`${JSON.stringify(row)}\n`);
  else process.stdout.write(`apr webgpu ${METHOD} ${SHAPE}: ${row.tokPerS} tok/s (${row.stepMs} ms/step of ${BATCH}×${SEQ}), ${row.dispatchesPerStep} dispatches/step, trainer holds ${row.trainerDeviceMiB} MiB (base ${row.baseMiB}), loss ${row.meanRowLoss.toFixed(3)}\n`);
}

await main();

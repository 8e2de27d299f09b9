/**
 * `apr align`: preference alignment of a model on trl-style `{"prompt","chosen","rejected"}` pairs (strings, or
 * conversations rendered with the chat template) with DPO or ORPO, fully or through a LoRA adapter, against a
 * frozen reference (default: the model itself).
 */
import { existsSync } from 'node:fs';
import { defineContract } from '../contract/index.js';
import { FormatError } from '../formats/errors.js';
import { openModel } from '../formats/open.js';
import { pathLabel, provenanceEntry } from '../formats/provenance.js';
import { sourceDigest } from '../formats/source-digest.js';
import { loadModel } from '../model/index.js';
import { loadTokenizer } from '../tokenizer/index.js';
import { loadPreferencePairs, type TokenizedPair } from '../train/align/data.js';
import { alignDevice, gpuEvaluatePair, gpuReference } from '../train/align/gpu-run.js';
import { type AlignExample, type AlignMethod, type AlignSettings, alignRun, evaluatePair, withReference } from '../train/align/run.js';
import { splitRecords } from '../train/data/index.js';
import { type WrittenModel, writeTrained } from '../train/distill/output.js';
import type { LogitsSource } from '../train/distill/run.js';
import { requireSameVocab } from '../train/distill/tokenizer-check.js';
import { autoGpuTrainer } from '../train/gpu/auto.js';
import { createGpuTrainable, type GpuTrainable } from '../train/gpu/trainable.js';
import { runTraining } from '../train/loop.js';
import { createTrainableModel, type Trainable } from '../train/model/index.js';
import type { EpochRecord, TrainingOptions, TrainingRequest } from '../train/types.js';
import type { ModelBundle, ProvenanceEntry } from '../tensor/bundle.js';
import { TOOL_VERSION } from './version.js';

/** valSplit defaults to 0.2 (of the pairs). */
export interface AlignOptions extends TrainingRequest {
  model: string;
  data: string;
  output: string;
  method: AlignMethod;
  beta?: number;
  lambda?: number;
  /** Frozen reference model; default the model itself before training. */
  refModel?: string;
  lora?: boolean;
  rank?: number;
  loraAlpha?: number;
  targets?: string[];
  /** Where the policy's step runs (default cpu); webgpu needs `lora` (the GPU step trains adapters); auto as finetune's. */
  backend?: 'cpu' | 'webgpu' | 'auto';
  /** Where auto's one-line notes go (default stderr). */
  warn?: (line: string) => void;
}

export interface AlignResult {
  output: string;
  format: WrittenModel['format'];
  bytes: number;
  method: AlignMethod;
  beta: number;
  lambda: number;
  reference: string;
  trainPairs: number;
  valPairs: number;
  trainableParameters: number;
  /** Held-out metrics before the first step (reward margin 0 when the reference is the model itself). */
  initial: Record<string, number>;
  history: EpochRecord[];
  seconds: number;
  /** The backend the step ran on, and for webgpu the adapter's description. */
  backend: 'cpu' | 'webgpu';
  device?: string;
}

export const alignContract = defineContract<AlignOptions, AlignResult>({
  id: 'op-align-v1',
  equation: 'align',
  spec: 'θ ← AdamW on DPO −log σ(β·Δ) or ORPO −ℓ_w + λ·(−log σ(log odds)) over preference pairs; πref frozen; writes θ (or its LoRA adapter)',
  pre: [
    ['β > 0, λ ≥ 0, epochs ≥ 1', (o) => (o.beta ?? 0.1) > 0 && (o.lambda ?? 0.1) >= 0 && (o.epochs ?? 1) >= 1],
    ['inputs exist', (o) => [o.model, o.data, ...(o.refModel ? [o.refModel] : [])].every(existsSync)],
  ],
  post: [
    ['one finite history row per epoch, accuracy in [0, 1]', (o, r) => r.history.length === (o.epochs ?? 1)
      && r.history.every((h) => Number.isFinite(h.trainLoss) && (h.metrics['accuracy'] ?? 0) >= 0 && (h.metrics['accuracy'] ?? 0) <= 1)],
    ['output written', (_o, r) => existsSync(r.output)],
  ],
});

function trainingOptions(o: AlignOptions): TrainingOptions {
  return {
    epochs: o.epochs ?? 1, batchSize: o.batchSize ?? 1, gradAccum: o.gradAccum ?? 4, lr: o.lr ?? (o.lora ? 5e-4 : 5e-5),
    warmupRatio: 0.1, minLrRatio: 0.1, weightDecay: 0, maxGradNorm: 1, seed: o.seed ?? 0,
  };
}

/** Reference log-probabilities: from `refModel`, or from the policy before its first step. */
function referenced(o: AlignOptions, V: number, policy: Trainable | undefined, pairs: TokenizedPair[], modelTokenizer: Parameters<typeof requireSameVocab>[1]): AlignExample[] {
  if (!o.refModel) {
    if (!policy) throw new Error('align: no reference model and no CPU policy to take it from');
    return withReference({ logitsAll: (t) => policy.logits(t) }, pairs, V);
  }
  const bundle = openModel(o.refModel);
  let ref: ReturnType<typeof loadModel> | undefined;
  try {
    requireSameVocab(o.model, modelTokenizer, o.refModel, bundle.tokenizer);
    ref = loadModel(bundle);
    const source: LogitsSource = ref;
    return withReference(source, pairs, V);
  } finally {
    ref?.dispose();
    bundle.tensors.close();
  }
}

function meanMetrics(reports: readonly { metrics?: Readonly<Record<string, number>> }[]): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const r of reports) for (const [k, v] of Object.entries(r.metrics ?? {})) sums[k] = (sums[k] ?? 0) + v;
  return Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / Math.max(1, reports.length)]));
}

function provenanceOf(o: AlignOptions, settings: AlignSettings, rank: number, options: TrainingOptions): ProvenanceEntry {
  const inputs = [o.model, o.data, ...(o.refModel ? [o.refModel] : [])];
  const refModel = o.refModel === undefined ? null : pathLabel(o.refModel);
  return provenanceEntry({ op: 'align', options: { ...settings, lora: o.lora ?? false, rank, refModel, ...options }, inputDigests: inputs.map(sourceDigest), toolVersion: TOOL_VERSION });
}

function run(o: AlignOptions): AlignResult {
  const t0 = performance.now();
  const options = trainingOptions(o);
  const settings: AlignSettings = { method: o.method, beta: o.beta ?? 0.1, lambda: o.lambda ?? 0.1 };
  if (o.backend === 'webgpu' && !o.lora) throw new FormatError(o.model, 'lora', 'the GPU step trains LoRA adapters: give --lora, or --backend cpu for full alignment');
  const bundle = openModel(o.model);
  try {
    if (!bundle.tokenizer) throw new FormatError(o.model, 'tokenizer', 'the model carries no tokenizer');
    const tokenizer = loadTokenizer(bundle.tokenizer, { source: `${o.model}: tokenizer`, modelConfig: bundle.config });
    const pairs = loadPreferencePairs(o.data, tokenizer, o.maxSeqLen ?? 256);
    const rank = o.rank ?? 8;
    const spec = { rank, alpha: o.loraAlpha ?? 2 * rank, seed: options.seed, ...(o.targets ? { targets: o.targets } : {}) };
    const gpu = gpuPolicy(o, bundle, pairs, options, spec);
    if (gpu) return runOnGpu(o, gpu, bundle, pairs, settings, options, spec.rank, t0);
    return runOnCpu(o, bundle, pairs, settings, options, spec, t0);
  } finally {
    bundle.tensors.close();
  }
}

/** DPO / ORPO with the CPU autograd policy (full or LoRA). */
function runOnCpu(o: AlignOptions, bundle: ModelBundle, pairs: TokenizedPair[], settings: AlignSettings, options: TrainingOptions, spec: { rank: number; alpha: number; seed: number; targets?: string[] }, t0: number): AlignResult {
  const policy = createTrainableModel(bundle, { method: o.lora ? 'lora' : 'full', ...spec });
  const examples = referenced(o, bundle.config.vocab_size, policy, pairs, bundle.tokenizer);
  const { train, val } = splitRecords(examples, o.valSplit ?? 0.2, options.seed);
  const initial = meanMetrics(val.map((e) => evaluatePair(policy, e, settings)));
  const history = runTraining({
    ...alignRun({ policy, train, val, settings, options }),
    ...(o.onEpoch ? { onEpoch: o.onEpoch } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  });
  const written = writeTrained(policy, o.output, o.lora ?? false, provenanceOf(o, settings, spec.rank, options), o.format);
  const trainableParameters = policy.parameters().reduce((a, p) => a + p.data.length, 0);
  return { ...written, ...settings, reference: o.refModel ?? o.model, trainPairs: train.length, valPairs: val.length, trainableParameters, initial, history, seconds: (performance.now() - t0) / 1000, backend: 'cpu' };
}

/** The GPU policy for `backend` webgpu (LoRA only), or auto's choice; undefined: the CPU. */
function gpuPolicy(o: AlignOptions, bundle: ModelBundle, pairs: TokenizedPair[], options: TrainingOptions, spec: { rank: number; alpha: number; seed: number; targets?: string[] }): GpuTrainable | undefined {
  const choice = o.backend ?? 'cpu';
  if (choice === 'cpu' || !o.lora) return undefined;
  const longest = pairs.reduce((m, p) => Math.max(m, p.chosen.length, p.rejected.length), 1);
  const make = (): GpuTrainable => createGpuTrainable(bundle, { method: 'lora', ...spec, targets: spec.targets ?? ['q_proj', 'v_proj'], maxRows: 2 * Math.max(1, options.batchSize) * longest });
  return choice === 'webgpu' ? make() : autoGpuTrainer(o.model, make, o.warn);
}

/** DPO / ORPO with the LoRA policy's step on the GPU (src/train/align/gpu-run.ts); the reference is the base on the GPU, or refModel on the CPU. */
function runOnGpu(o: AlignOptions, gpu: GpuTrainable, bundle: ModelBundle, pairs: TokenizedPair[], settings: AlignSettings, options: TrainingOptions, rank: number, t0: number): AlignResult {
  try {
    const examples = o.refModel ? referenced(o, bundle.config.vocab_size, undefined, pairs, bundle.tokenizer) : gpuReference(gpu, pairs);
    const { train, val } = splitRecords(examples, o.valSplit ?? 0.2, options.seed);
    const initial = meanMetrics(val.map((e) => gpuEvaluatePair(gpu, e, settings)));
    const history = runTraining({
      params: gpu.parameters(), train, val, options, zeroGrad: () => undefined,
      step: () => { throw new Error('align on the GPU runs whole steps through the device'); },
      evaluate: (e) => gpuEvaluatePair(gpu, e, settings), device: alignDevice(gpu, settings),
      ...(o.onEpoch ? { onEpoch: o.onEpoch } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
    const written = writeTrained(gpu, o.output, true, provenanceOf(o, settings, rank, options), o.format);
    const trainableParameters = gpu.parameters().reduce((a: number, p) => a + p.data.length, 0);
    return { ...written, ...settings, reference: o.refModel ?? o.model, trainPairs: train.length, valPairs: val.length, trainableParameters, initial, history, seconds: (performance.now() - t0) / 1000, backend: 'webgpu', device: gpu.deviceDescription };
  } finally {
    gpu.close();
  }
}

/** `apr align`: trains the model (or a LoRA adapter) on preference pairs and writes it to `opts.output`. */
export function alignModel(opts: AlignOptions): AlignResult {
  return alignContract.run(opts, () => run(opts));
}

/**
 * `apr finetune`: LoRA / QLoRA / full finetuning of a decoder on JSONL data (instruct or completion), written
 * as a PEFT adapter folder or (with merge, or the full method) a model; and merging an existing PEFT adapter.
 */
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { defineContract } from '../contract/index.js';
import { writeAtomically } from '../formats/atomic-write.js';
import { FormatError } from '../formats/errors.js';
import { type OutputFormat, openModel, outputFormatFor, writeModel } from '../formats/open.js';
import { type PeftAdapter, writePeftAdapter } from '../formats/peft/adapter.js';
import { openLoraAdapter } from '../formats/peft/open.js';
import { parsePeftConfig } from '../formats/peft/config.js';
import { mergeLora } from '../formats/peft/merge.js';
import { pathLabel, provenanceEntry } from '../formats/provenance.js';
import { sourceDigest } from '../formats/source-digest.js';
import type { ModelBundle, ProvenanceEntry } from '../tensor/bundle.js';
import { MemoryTensorStore } from '../tensor/store.js';
import { loadTokenizer } from '../tokenizer/index.js';
import { type DataTask, type TokenExample, loadDataset } from '../train/data/index.js';
import { tokenExampleReport } from '../train/losses/token-example.js';
import { runTraining } from '../train/loop.js';
import { type Trainable, createTrainableModel } from '../train/model/index.js';
import { autoGpuTrainer } from '../train/gpu/auto.js';
import { createGpuTrainable, type GpuTrainable } from '../train/gpu/trainable.js';
import { lossCurveSvg } from '../train/plot-svg.js';
import type { EpochRecord, TrainingOptions, TrainingRun } from '../train/types.js';
import { TOOL_VERSION } from './version.js';

export type FinetuneMethod = 'lora' | 'qlora' | 'full';

export interface FinetuneOptions {
  /** The base model (any format openModel reads). */
  model: string;
  data: string;
  /** An adapter folder (lora/qlora without merge), else a model file (format from the extension or `format`). */
  output: string;
  method?: FinetuneMethod;
  rank?: number;
  alpha?: number;
  targets?: string[];
  task?: DataTask;
  maxSeqLen?: number;
  valSplit?: number;
  /** `{"messages"}` data: loss only on the assistant turns (default true; trl's SFTConfig default is false). */
  assistantOnlyLoss?: boolean;
  /** Instruct data: loss only on the response (default true, as trl for prompt-completion data). */
  completionOnlyLoss?: boolean;
  /** Merge the trained adapter into the base and write the model. */
  merge?: boolean;
  format?: string;
  training?: Partial<TrainingOptions>;
  checkpointDir?: string;
  /** Where to write the loss curve (SVG). */
  plot?: string;
  onEpoch?: (r: EpochRecord) => void;
  onProgress?: (done: number, total: number) => void;
  /**
   * Where the training step runs (default cpu); webgpu: LoRA / QLoRA with the whole step on the GPU; auto:
   * webgpu when a hardware adapter passes the inference parity gate on this model (as `apr run`'s auto), else cpu.
   */
  backend?: 'cpu' | 'webgpu' | 'auto';
  /** Where auto's one-line notes go (default stderr). */
  warn?: (line: string) => void;
  /** GPU step: per-layer gradient checkpointing (less device memory, one more forward pass); same adapter bytes. */
  gradientCheckpointing?: boolean;
}

export interface FinetuneResult {
  output: string;
  /** `peft` for an adapter folder. */
  format: OutputFormat | 'peft';
  bytes: number;
  method: FinetuneMethod;
  options: TrainingOptions;
  history: EpochRecord[];
  trainExamples: number;
  valExamples: number;
  trainTokens: number;
  droppedRecords: number;
  trainableParameters: number;
  baseWeightBytes: number;
  plot?: string;
  seconds: number;
  /** The backend the step ran on (auto resolved), and for webgpu the adapter's description. */
  backend: 'cpu' | 'webgpu';
  device?: string;
}

export interface MergeAdapterOptions {
  model: string;
  adapter: string;
  output: string;
  format?: string;
}

export interface MergeAdapterResult {
  output: string;
  format: OutputFormat;
  bytes: number;
  modules: number;
  seconds: number;
}

/** The defaults of `apr finetune` (transformers' Trainer defaults where it has one). */
function defaultTrainingOptions(method: FinetuneMethod): TrainingOptions {
  return { epochs: 3, batchSize: 1, gradAccum: 1, lr: method === 'full' ? 5e-5 : 2e-4, warmupRatio: 0, minLrRatio: 0, weightDecay: 0, maxGradNorm: 1, seed: 42 };
}

function validOptions(o: TrainingOptions): boolean {
  const posInt = (x: number): boolean => Number.isInteger(x) && x >= 1;
  return posInt(o.epochs) && posInt(o.batchSize) && posInt(o.gradAccum) && o.lr > 0 && o.warmupRatio >= 0 && o.warmupRatio <= 1 && o.minLrRatio >= 0 && o.minLrRatio <= 1 && o.weightDecay >= 0 && o.maxGradNorm >= 0;
}

export const finetuneContract = defineContract<FinetuneOptions, FinetuneResult>({
  id: 'op-finetune-v1',
  equation: 'finetune',
  spec: 'θ ← AdamW(cosine-warmup lr, clip ‖g‖ ≤ c) on mean masked CE over the training examples, per epoch; out = PEFT adapter (A, B) or W + (α/r)·B·A',
  pre: [
    ['model and data exist', (o) => existsSync(o.model) && existsSync(o.data)],
    ['output is not an input', (o) => ![o.model, o.data].some((p) => resolve(p) === resolve(o.output))],
    ['rank ≥ 1, 0 ≤ val split < 1, max-seq-len ≥ 2', (o) => (o.rank ?? 16) >= 1 && (o.valSplit ?? 0.2) >= 0 && (o.valSplit ?? 0.2) < 1 && (o.maxSeqLen ?? 512) >= 2],
    ['training options in range', (o) => validOptions({ ...defaultTrainingOptions(o.method ?? 'lora'), ...o.training })],
  ],
  post: [
    ['one finite history row per epoch', (_o, r) => r.history.length === r.options.epochs && r.history.every((h) => Number.isFinite(h.trainLoss))],
    ['output written', (_o, r) => existsSync(r.output)],
  ],
});

export const mergeAdapterContract = defineContract<MergeAdapterOptions, MergeAdapterResult>({
  id: 'op-finetune-v1',
  equation: 'merge_adapter',
  spec: "W′ = W + s·B·A for every adapted module (s = α/r, or α/√r with rsLoRA); other tensors, config and tokenizer unchanged",
  pre: [
    ['model and adapter exist', (o) => existsSync(o.model) && existsSync(o.adapter)],
    ['output is not an input', (o) => ![o.model, o.adapter].some((p) => resolve(p) === resolve(o.output))],
  ],
  post: [['output written', (_o, r) => existsSync(r.output)]],
});

function provenance(inputs: string[], options: Record<string, unknown>): ProvenanceEntry {
  return provenanceEntry({ op: 'finetune', options, inputDigests: inputs.map(sourceDigest), toolVersion: TOOL_VERSION });
}

/** The base metadata without a logits fingerprint (it was recorded for other weights). */
function withoutGolden(b: ModelBundle): ModelBundle {
  const { golden: _stale, ...metadata } = b.metadata;
  return { ...b, metadata };
}

function mergeInto(model: string, adapterDir: string, output: string, format: OutputFormat, prov: ProvenanceEntry): { bytes: number; modules: number } {
  const base = openModel(model);
  let adapter: PeftAdapter;
  try {
    adapter = openLoraAdapter(adapterDir, base.config); // a PEFT folder or a llama.cpp LoRA GGUF
  } catch (err) {
    base.tensors.close();
    throw err;
  }
  const merged = mergeLora(base, adapter);
  try {
    return { bytes: writeModel(withoutGolden(merged), output, format, prov), modules: adapter.layout.modules.length };
  } finally {
    merged.tensors.close();
  }
}

/**
 * The LoraConfig keys peft 0.21 writes beyond those the writer adds, with the values of a plain LoRA (read
 * from the fixture adapter that peft saved), so that the config has the keys peft's own has
 * (peft_version is left out: it names the library that wrote the file).
 */
const PEFT_0_21_KEYS: Readonly<Record<string, unknown>> = {
  alora_invocation_tokens: null, arrow_config: null, auto_mapping: null, corda_config: null, ensure_weight_tying: false, eva_config: null,
  exclude_modules: null, kasa_config: null, layer_replication: null, loftq_config: {}, lora_bias: false, lora_ga_config: null,
  megatron_config: null, megatron_core: 'megatron.core', monteclora_config: null, qalora_group_size: 16, target_parameters: null,
  trainable_token_indices: null, use_bdlora: null, use_qalora: false, velora_config: null,
};

function writeAdapter(model: Trainable, dir: string): number {
  const store = new MemoryTensorStore();
  for (const t of model.adapterTensors()) store.add(t.name, 'F32', t.shape, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  writePeftAdapter(dir, parsePeftConfig(join(dir, 'adapter_config.json'), { ...PEFT_0_21_KEYS, ...model.adapterConfig() }), store);
  return statSync(join(dir, 'adapter_model.safetensors')).size;
}

function writeOutput(o: FinetuneOptions, method: FinetuneMethod, model: Trainable, prov: ProvenanceEntry): { format: OutputFormat | 'peft'; bytes: number } {
  if (method === 'full') {
    const format = outputFormatFor(o.output, o.format);
    return { format, bytes: writeModel(withoutGolden(model.toBundle()), o.output, format, prov) };
  }
  if (!o.merge) return { format: 'peft', bytes: writeAdapter(model, o.output) };
  const format = outputFormatFor(o.output, o.format);
  const tmp = mkdtempSync(join(tmpdir(), 'apr-finetune-'));
  try {
    writeAdapter(model, join(tmp, 'adapter'));
    return { format, bytes: mergeInto(o.model, join(tmp, 'adapter'), o.output, format, prov).bytes };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

function trainingRun(o: FinetuneOptions, model: Trainable | GpuTrainable, data: { train: TokenExample[]; val: TokenExample[] }, options: TrainingOptions): TrainingRun<TokenExample> {
  const gpu = 'device' in model ? model : undefined;
  return {
    params: model.parameters(),
    train: data.train,
    val: data.val,
    options,
    step: (e) => tokenExampleReport(model, e, true),
    evaluate: (e) => (gpu ? gpu.evaluateExample(e) : tokenExampleReport(model, e, false)),
    ...(gpu ? { device: gpu.device } : {}),
    zeroGrad: () => model.zeroGrad(),
    ...(o.onEpoch ? { onEpoch: o.onEpoch } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.checkpointDir !== undefined ? { checkpointDir: o.checkpointDir } : {}),
  };
}

interface Settings {
  readonly method: FinetuneMethod;
  readonly rank: number;
  readonly alpha: number;
  readonly targets: string[];
  readonly task: DataTask;
  readonly maxSeqLen: number;
  readonly valSplit: number;
  readonly assistantOnlyLoss: boolean;
  readonly completionOnlyLoss: boolean;
}

function settingsOf(o: FinetuneOptions): Settings {
  const rank = o.rank ?? 16;
  return {
    method: o.method ?? 'lora', rank, alpha: o.alpha ?? 2 * rank, targets: o.targets ?? ['q_proj', 'v_proj'], task: o.task ?? 'instruct', maxSeqLen: o.maxSeqLen ?? 512,
    valSplit: o.valSplit ?? 0.2, assistantOnlyLoss: o.assistantOnlyLoss ?? true, completionOnlyLoss: o.completionOnlyLoss ?? true,
  };
}

/** The CPU autograd trainer, or for `backend: 'webgpu'` (or an `auto` that finds a usable GPU) the GPU one (LoRA / QLoRA). */
function trainable(o: FinetuneOptions, base: ModelBundle, s: Settings, options: TrainingOptions, data: { train: TokenExample[]; val: TokenExample[] }): Trainable | GpuTrainable {
  const spec = { rank: s.rank, alpha: s.alpha, targets: s.targets, seed: options.seed };
  const cpu = (): Trainable => createTrainableModel(base, { method: s.method, ...spec });
  const choice = o.backend ?? 'cpu';
  if (choice === 'cpu' || (choice === 'auto' && s.method === 'full')) return cpu();
  if (s.method === 'full') throw new FormatError(o.model, 'method', 'full finetuning runs on the CPU only (--backend cpu); the GPU step trains lora and qlora');
  const longest = [...data.train, ...data.val].reduce((m, e) => Math.max(m, e.tokens.length), 1);
  const make = (): GpuTrainable => createGpuTrainable(base, { method: s.method as 'lora' | 'qlora', ...spec, maxRows: Math.max(1, options.batchSize) * longest, checkpoint: o.gradientCheckpointing ?? false });
  if (choice === 'webgpu') return make();
  return autoGpuTrainer(o.model, make, o.warn) ?? cpu();
}

function writePlot(path: string, history: readonly EpochRecord[], title: string): void {
  const svg = new TextEncoder().encode(lossCurveSvg(history, title));
  writeAtomically(path, (f) => f.write(svg));
}

function train(o: FinetuneOptions): FinetuneResult {
  const t0 = performance.now();
  const s = settingsOf(o);
  const options: TrainingOptions = { ...defaultTrainingOptions(s.method), ...o.training };
  const base = openModel(o.model);
  try {
    if (!base.tokenizer) throw new FormatError(o.model, 'tokenizer', 'the model carries no tokenizer (needed to read the data)');
    const tokenizer = loadTokenizer(base.tokenizer, { source: `${o.model}: tokenizer`, modelConfig: base.config });
    const data = loadDataset(o.data, tokenizer, { ...s, seed: options.seed });
    const model = trainable(o, base, s, options, data);
    let history: EpochRecord[];
    try {
      history = runTraining(trainingRun(o, model, data, options));
    } finally {
      if ('device' in model) model.close();
    }
    const written = writeOutput(o, s.method, model, provenance([o.model, o.data], { ...s, ...options }));
    if (o.plot !== undefined) writePlot(o.plot, history, `apr finetune ${s.method}: ${pathLabel(o.data)}`);
    return {
      output: o.output, ...written, method: s.method, options, history,
      trainExamples: data.train.length, valExamples: data.val.length, trainTokens: data.trainTokens, droppedRecords: data.dropped,
      trainableParameters: model.parameters().reduce((a, p) => a + p.data.length, 0), baseWeightBytes: model.baseWeightBytes(),
      ...(o.plot !== undefined ? { plot: o.plot } : {}),
      seconds: (performance.now() - t0) / 1000,
      ...('device' in model ? { backend: 'webgpu' as const, device: model.deviceDescription } : { backend: 'cpu' as const }),
    };
  } finally {
    base.tensors.close();
  }
}

/** Trains a LoRA / QLoRA adapter or the full model on `o.data` and writes the result. */
export function finetune(o: FinetuneOptions): FinetuneResult {
  return finetuneContract.run(o, () => train(o));
}

/** `apr finetune base --adapter dir --merge -o out`: writes the base with a PEFT LoRA adapter merged. */
export function mergeAdapter(o: MergeAdapterOptions): MergeAdapterResult {
  return mergeAdapterContract.run(o, () => {
    const t0 = performance.now();
    const format = outputFormatFor(o.output, o.format);
    const prov = provenance([o.model, o.adapter], { adapter: pathLabel(o.adapter), merge: true });
    const r = mergeInto(o.model, o.adapter, o.output, format, prov);
    return { output: o.output, format, ...r, seconds: (performance.now() - t0) / 1000 };
  });
}

import { defineContract } from '../../contract/index.js';
import type { GpuCounters } from '../../kernels/webgpu/encoder.js';
import { BackendUnavailableError } from '../../model/session.js';
import type { ModelBundle } from '../../tensor/bundle.js';
import { type AdapterModule, initLoraModules } from '../model/lora.js';
import { loraAdapterConfig } from '../model/trainable.js';
import type { AdapterTensor, Trainable } from '../model/types.js';
import type { DeviceMoments, DeviceTraining, DeviceUpdate, SequenceForward, StepReport, TrainParam } from '../types.js';
import { type FlatLayout, flatLayout, fromFlat, toFlat } from './lora-params.js';
import { exampleReports, type MaskedTokens, packExamples, type PackedRows } from './pack.js';
import { NO_ADAPTER, type TrainerReply, type TrainerRequest } from './protocol.js';
import { TrainerChannel } from './sync-trainer.js';

/**
 * LoRA / QLoRA with the whole step on a WebGPU device, behind the Trainable interface the CPU trainer has:
 * the adapter factors start from the same initialisation (initLoraModules, the seed's), the loop drives it
 * through `device` (one call per optimizer step), and `parameters()` are the host copies, filled from the
 * device when the loop pulls them (each checkpoint and the end), so the adapter writers work unchanged.
 */

export interface GpuTrainableOptions {
  readonly method: 'lora' | 'qlora';
  readonly rank: number;
  readonly alpha: number;
  readonly targets: readonly string[];
  readonly seed: number;
  /** Most rows of one packed micro-batch (examples per micro-batch × longest example). */
  readonly maxRows: number;
  /** Per-layer gradient checkpointing: one layer's activations on the device instead of all, one more forward pass. */
  readonly checkpoint?: boolean;
}

export interface GpuTrainable extends Trainable {
  readonly device: DeviceTraining<MaskedTokens>;
  /** The adapter the step runs on (Dawn's description). */
  readonly deviceDescription: string;
  /** Device bytes of the base, and of everything the trainer holds. */
  readonly deviceBytes: number;
  /** Per-example loss without gradients (validation). */
  evaluateExample(e: MaskedTokens): StepReport;
  /**
   * Steps whose loss weights come from the forward pass (DPO, ORPO): `forwardLoss` packs `seqs` into one
   * micro-batch and returns it with every row's −log p(target) (0 on rows without a target); `backwardWith`
   * runs the backward pass of those rows with per-row weights (the gradient of Σ_t w_t·(−log p_t));
   * gradients add up until `update`, one AdamW step with clipping.
   */
  forwardLoss(seqs: readonly MaskedTokens[]): { packed: PackedRows; losses: Float32Array };
  backwardWith(rowWeight: Float32Array): void;
  update(u: DeviceUpdate): void;
  counters(): GpuCounters;
  close(): void;
}

function notOnDevice(what: string): never {
  throw new Error(`webgpu training: ${what} is not available on the GPU trainer (it runs whole steps through trainGroup)`);
}

class GpuTrainableModel implements GpuTrainable {
  readonly config;
  readonly deviceDescription: string;
  readonly deviceBytes: number;
  private readonly baseBytes: number;
  private readonly modules: AdapterModule[];
  /** The flat layout of the parameters (and moments) on the device. */
  private readonly layout: FlatLayout;
  private readonly channel: TrainerChannel;
  readonly device: DeviceTraining<MaskedTokens>;

  constructor(private readonly base: ModelBundle, private readonly opts: GpuTrainableOptions) {
    this.config = base.config;
    this.modules = initLoraModules(base.config, { rank: opts.rank, alpha: opts.alpha, targets: opts.targets, seed: opts.seed });
    this.layout = flatLayout(this.parameters().map((p) => p.data));
    this.channel = TrainerChannel.open();
    const modules = this.modules.map((m) => ({ module: m.module, aName: m.a.name, aShape: [...m.a.shape], a: m.a.data, bName: m.b.name, bShape: [...m.b.shape], b: m.b.data }));
    const init = this.start({ kind: 'init', modelPath: base.source.path, form: opts.method === 'qlora' ? 'nf4' : 'stored', modules, rank: opts.rank, scale: opts.alpha / opts.rank, maxRows: opts.maxRows, checkpoint: opts.checkpoint ?? false });
    this.deviceDescription = init.description;
    this.baseBytes = init.baseBytes;
    this.deviceBytes = init.deviceBytes;
    this.device = { trainGroup: (e, u) => this.trainGroup(e, u), pull: (s) => this.pull(s), push: (s) => this.push(s) };
  }

  /** The worker's init; no adapter is the usage error `apr run --backend webgpu` gives (exit 2), and the worker stops on any failure. */
  private start(request: Extract<TrainerRequest, { kind: 'init' }>): Extract<TrainerReply, { ok: true; kind: 'init' }> {
    try {
      return this.channel.call(request, 'init');
    } catch (err) {
      this.channel.close();
      const m = (err as Error).message;
      if (m.startsWith(NO_ADAPTER)) throw new BackendUnavailableError(`--backend webgpu: ${m}`);
      throw err;
    }
  }

  private trainGroup(examples: readonly MaskedTokens[], u: DeviceUpdate): StepReport[] {
    const per = Math.max(1, u.batchSize);
    const micro = [];
    for (let i = 0; i < examples.length; i += per) micro.push(packExamples(examples.slice(i, i + per), examples.length));
    const { losses } = this.channel.call({ kind: 'train', micro, update: { lr: u.lr, weightDecay: u.weightDecay, maxGradNorm: u.maxGradNorm, step: u.step } }, 'losses');
    let offset = 0;
    return micro.flatMap((p) => {
      const r = exampleReports(p, losses, offset);
      offset += p.n;
      return r;
    });
  }

  forwardLoss(seqs: readonly MaskedTokens[]): { packed: PackedRows; losses: Float32Array } {
    const packed = packExamples(seqs, seqs.length);
    return { packed, losses: this.channel.call({ kind: 'forward', micro: packed }, 'losses').losses };
  }

  backwardWith(rowWeight: Float32Array): void {
    this.channel.call({ kind: 'backward', rowWeight }, 'done');
  }

  update(u: DeviceUpdate): void {
    this.channel.call({ kind: 'update', update: { lr: u.lr, weightDecay: u.weightDecay, maxGradNorm: u.maxGradNorm, step: u.step } }, 'done');
  }

  evaluateExample(e: MaskedTokens): StepReport {
    const p = packExamples([e], 1);
    const { losses } = this.channel.call({ kind: 'eval', micro: p }, 'losses');
    return exampleReports(p, losses)[0] ?? { loss: 0, weight: 0 };
  }

  private pull(s: DeviceMoments): void {
    const st = this.channel.call({ kind: 'read' }, 'state');
    fromFlat(this.layout, st.params, this.parameters().map((p) => p.data));
    fromFlat(this.layout, st.m, s.m);
    fromFlat(this.layout, st.v, s.v);
  }

  private push(s: DeviceMoments): void {
    const params = toFlat(this.layout, this.parameters().map((p) => p.data));
    this.channel.call({ kind: 'write', params, m: toFlat(this.layout, s.m), v: toFlat(this.layout, s.v) }, 'done');
  }

  parameters(): readonly TrainParam[] {
    return this.modules.flatMap((m) => [m.a, m.b]);
  }

  forward(): SequenceForward {
    return notOnDevice('forward with a tape');
  }

  logits(): Float32Array {
    return notOnDevice('logits');
  }

  zeroGrad(): void {
    // gradients live on the device and AdamW clears them after each step
  }

  adapterTensors(): AdapterTensor[] {
    return this.modules.flatMap((m) => [m.a, m.b]).map((p) => ({ name: p.name, shape: [...p.shape], data: Float32Array.from(p.data) }));
  }

  adapterConfig(): Record<string, unknown> {
    return loraAdapterConfig(this.opts, this.base.source.path);
  }

  toBundle(): ModelBundle {
    return notOnDevice('the merged model (full finetuning)');
  }

  baseWeightBytes(): number {
    return this.baseBytes;
  }

  counters(): GpuCounters {
    return this.channel.call({ kind: 'counters' }, 'counters').counters;
  }

  close(): void {
    this.channel.close();
  }
}

export const gpuTrainContract = defineContract<{ base: ModelBundle; opts: GpuTrainableOptions }, GpuTrainable>({
  id: 'train-webgpu-v1',
  equation: 'gpu_train_step',
  spec: 'w_t = 1/(M_e·E) on target rows; L = Σ_t w_t·(lse(z_t) − z_t[y_t]); θ ← AdamW(θ, clip(∇θ L)) over the LoRA factors, the whole step on the device',
  pre: [
    ['lora or qlora with a positive integer rank', ({ opts }) => (opts.method === 'lora' || opts.method === 'qlora') && Number.isInteger(opts.rank) && opts.rank >= 1],
    ['at least one row per micro-batch', ({ opts }) => Number.isInteger(opts.maxRows) && opts.maxRows >= 1],
  ],
  post: [['one host parameter per LoRA factor', ({ base, opts }, t) => t.parameters().length === 2 * base.config.num_layers * new Set(opts.targets).size]],
});

/** A LoRA / QLoRA trainer whose steps run on the WebGPU device (throws the device's reason when there is none). */
export function createGpuTrainable(base: ModelBundle, opts: GpuTrainableOptions): GpuTrainable {
  return gpuTrainContract.run({ base, opts }, () => new GpuTrainableModel(base, opts));
}

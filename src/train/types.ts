import type { ArchConfig } from '../tensor/bundle.js';

/**
 * The seams between the training pieces: the trainable model (autograd), the losses, the optimizer and the
 * training loop. Each piece is written against these types only, so they can be built and tested apart.
 */

/** A trainable tensor: `grad` has the same length as `data` and accumulates until `zeroGrad`. */
export interface TrainParam {
  /** Canonical Hugging Face name of the base weight, or the PEFT name of an adapter tensor. */
  readonly name: string;
  readonly shape: readonly number[];
  readonly data: Float32Array;
  readonly grad: Float32Array;
}

/** One sequence run forward with its tape kept; `backward` may be called once. */
export interface SequenceForward {
  /** Logits of every position, [n, vocab] row-major. */
  readonly logits: Float32Array;
  /** Back-propagates dLoss/dLogits ([n, vocab]) and adds the gradients into every parameter's `grad`. */
  backward(dLogits: Float32Array): void;
}

/** A decoder whose forward pass records a tape (positions 0..n−1 of one sequence, causal). */
export interface TrainableModel {
  readonly config: ArchConfig;
  /** The parameters the optimizer updates (adapter tensors only for LoRA/QLoRA). */
  parameters(): readonly TrainParam[];
  forward(tokens: ArrayLike<number>): SequenceForward;
  /** Logits only, no tape (evaluation). */
  logits(tokens: ArrayLike<number>): Float32Array;
  zeroGrad(): void;
}

/** A loss over logits: the value and its gradient with respect to the logits. */
export interface LossResult {
  readonly loss: number;
  readonly dLogits: Float32Array;
}

/** What one training step on one example reports; `loss` is what the history averages. */
export interface StepReport {
  readonly loss: number;
  /** Tokens (or pairs) the loss was averaged over, used to weight the epoch mean. */
  readonly weight: number;
  /** Extra per-example figures averaged per epoch (e.g. reward margin, preference accuracy). */
  readonly metrics?: Readonly<Record<string, number>>;
  /**
   * Mean next-token cross-entropy (nats) of the `weight` tokens, where `loss` is another objective (e.g. the
   * distillation mix); the history's perplexities are exp of its weighted mean (of `loss` when absent).
   */
  readonly nll?: number;
}

/** One row of the training history (one per epoch). */
export interface EpochRecord {
  readonly epoch: number;
  readonly trainLoss: number;
  readonly valLoss: number | null;
  /** exp of the token-weighted mean next-token cross-entropy over the epoch's steps (StepReport.nll, else loss). */
  readonly trainPpl: number;
  /** The same over the validation examples after the epoch. */
  readonly valPpl: number | null;
  readonly lr: number;
  readonly seconds: number;
  readonly metrics: Readonly<Record<string, number>>;
  readonly valMetrics: Readonly<Record<string, number>>;
}

/** Hyper-parameters of a training run (the CLI's flags). */
export interface TrainingOptions {
  readonly epochs: number;
  /** Examples per optimizer micro-batch; gradients are averaged over batchSize × gradAccum examples. */
  readonly batchSize: number;
  readonly gradAccum: number;
  /** Peak learning rate (after linear warmup, then cosine decay to `minLrRatio` × lr). */
  readonly lr: number;
  readonly warmupRatio: number;
  readonly minLrRatio: number;
  /** AdamW decoupled weight decay. */
  readonly weightDecay: number;
  /** Global gradient-norm clip (0 = off). */
  readonly maxGradNorm: number;
  readonly seed: number;
}

/**
 * One training run as the loop (`src/train/loop.ts`, `runTraining`) sees it: the examples, how to take a
 * step on one (forward + backward, adding into the parameters' grads) and how to score one without grads.
 * Finetune, distillation and alignment each supply `step`/`evaluate`; the loop owns shuffling (seeded),
 * batching, gradient accumulation, clipping, the schedule, AdamW, the per-epoch history and checkpoints.
 */
export interface TrainingRun<E> {
  readonly params: readonly TrainParam[];
  readonly train: readonly E[];
  readonly val: readonly E[];
  step(example: E): StepReport;
  evaluate(example: E): StepReport;
  zeroGrad(): void;
  readonly options: TrainingOptions;
  onEpoch?(record: EpochRecord): void;
  /** Called after every optimizer step with the number done and the total. */
  onProgress?(done: number, total: number): void;
  /** Directory for checkpoints (parameters + optimizer state + position) after each epoch; resumes from it. */
  readonly checkpointDir?: string;
  /** A device that runs whole optimizer steps itself (the WebGPU trainer); the loop then only orders and schedules. */
  readonly device?: DeviceTraining<E>;
}

/** The AdamW settings of one optimizer step a device runs (src/train/loop.ts computes them as for the CPU). */
export interface DeviceUpdate {
  readonly lr: number;
  readonly weightDecay: number;
  readonly maxGradNorm: number;
  /** AdamW's step count after this update (1-based; the bias corrections). */
  readonly step: number;
  /** Examples per micro-batch (TrainingOptions.batchSize). */
  readonly batchSize: number;
}

/** Optimizer moments of the parameters, in their order (src/train/optim/adamw.ts AdamWState). */
export interface DeviceMoments {
  readonly m: readonly Float32Array[];
  readonly v: readonly Float32Array[];
}

/**
 * Training on a device that holds the parameters, their gradients and AdamW moments: one call is one
 * optimizer step over a group of examples (forward, backward, the mean over the group, clipping, AdamW).
 */
export interface DeviceTraining<E> {
  trainGroup(examples: readonly E[], u: DeviceUpdate): StepReport[];
  /** Copies the device's parameters into the host TrainParams and its moments into `state`. */
  pull(state: DeviceMoments): void;
  /** Copies the host parameters and `state` onto the device (a resumed checkpoint). */
  push(state: DeviceMoments): void;
}

/** The run settings an op takes from its user, each optional (the op supplies its defaults), and its callbacks. */
export interface TrainingRequest {
  epochs?: number;
  lr?: number;
  seed?: number;
  maxSeqLen?: number;
  batchSize?: number;
  gradAccum?: number;
  /** Fraction of the data held out for validation. */
  valSplit?: number;
  /** apr | gguf | safetensors for a model output; default from the output path. */
  format?: string;
  onEpoch?: (r: EpochRecord) => void;
  onProgress?: (done: number, total: number) => void;
}

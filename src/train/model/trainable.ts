import { allFinite, idsInRange } from '../../contract/predicates.js';
import { defineContract } from '../../contract/index.js';
import { pathLabel } from '../../formats/provenance.js';
import type { ArchConfig, ModelBundle } from '../../tensor/bundle.js';
import { Tape } from '../autograd/tape.js';
import type { SequenceForward, TrainParam } from '../types.js';
import { decoderOnTape } from './decoder.js';
import { paramsToBundle } from './export.js';
import { type AdapterModule, attachLora } from './lora.js';
import { type BaseMode, type ModelParams, ParamBuilder, buildParams } from './params.js';
import type { AdapterTensor, Trainable, TrainableOptions } from './types.js';

interface ForwardInput {
  config: ArchConfig;
  tokens: ArrayLike<number>;
}



export const trainForwardContract = defineContract<ForwardInput, Float32Array>({
  id: 'train-autograd-v1',
  equation: 'tape_forward',
  spec: 'logits = decoder(tokens) as src/model/decoder.ts; backward(dL/dlogits) adds dL/dθ into every TrainParam.grad (reverse-mode chain rule)',
  pre: [
    ['at least one token', ({ tokens }) => tokens.length >= 1],
    ['token ids in [0, vocab)', ({ config, tokens }) => idsInRange(tokens, config.vocab_size)],
  ],
  post: [
    ['logits shape [n, vocab]', ({ config, tokens }, out) => out.length === tokens.length * config.vocab_size],
    ['finite logits', (_i, out) => allFinite(out)],
  ],
});

/** adapter_config.json of a LoRA trained with `o` on the base at `basePath` (PEFT's keys and values). */
export function loraAdapterConfig(o: { rank: number; alpha: number; targets: readonly string[] }, basePath: string): Record<string, unknown> {
  return {
    peft_type: 'LORA', task_type: 'CAUSAL_LM', r: o.rank, lora_alpha: o.alpha, target_modules: [...o.targets].sort(),
    lora_dropout: 0, bias: 'none', fan_in_fan_out: false, use_rslora: false, use_dora: false,
    // the base's file name only: an adapter folder names no path of the machine that trained it
    base_model_name_or_path: pathLabel(basePath), inference_mode: true, init_lora_weights: true,
  };
}

const MODE: Record<TrainableOptions['method'], BaseMode> = { full: 'train', lora: 'frozen', qlora: 'nf4' };

class TrainableDecoder implements Trainable {
  readonly config: ArchConfig;
  private readonly params: ModelParams;
  private readonly trainParams: TrainParam[];
  private readonly modules: AdapterModule[];
  private readonly frozen: ArrayBufferView[];

  constructor(
    private readonly base: ModelBundle,
    private readonly opts: Required<Omit<TrainableOptions, 'dropout'>>,
  ) {
    this.config = base.config;
    const builder = new ParamBuilder(base, MODE[opts.method]);
    const params = buildParams(builder, base.config);
    this.frozen = builder.frozen;
    if (opts.method === 'full') {
      this.params = params;
      this.modules = [];
      this.trainParams = builder.params;
    } else {
      const lora = attachLora(params, { rank: opts.rank, alpha: opts.alpha, targets: opts.targets, seed: opts.seed });
      this.params = lora.params;
      this.modules = lora.modules;
      this.trainParams = lora.modules.flatMap((m) => [m.a, m.b]);
    }
  }

  parameters(): readonly TrainParam[] {
    return this.trainParams;
  }

  forward(tokens: ArrayLike<number>): SequenceForward {
    const tape = new Tape(true);
    let root = undefined as ReturnType<typeof decoderOnTape> | undefined;
    const logits = trainForwardContract.run({ config: this.config, tokens }, () => {
      root = decoderOnTape(tape, this.config, this.params, tokens);
      return root.value;
    });
    const out = root;
    if (out === undefined) throw new Error('forward produced no output');
    return { logits, backward: (dLogits) => tape.backward(out, dLogits) };
  }

  logits(tokens: ArrayLike<number>): Float32Array {
    const tape = new Tape(false);
    return trainForwardContract.run({ config: this.config, tokens }, () => decoderOnTape(tape, this.config, this.params, tokens).value);
  }

  zeroGrad(): void {
    for (const p of this.trainParams) p.grad.fill(0);
  }

  adapterTensors(): AdapterTensor[] {
    return this.modules.flatMap((m) => [m.a, m.b]).map((p) => ({ name: p.name, shape: [...p.shape], data: Float32Array.from(p.data) }));
  }

  adapterConfig(): Record<string, unknown> {
    return loraAdapterConfig(this.opts, this.base.source.path);
  }

  toBundle(): ModelBundle {
    return paramsToBundle(this.base, this.params);
  }

  /** Frozen arrays held (NF4 blocks carry their f16 scales); for full finetune the f32 weights themselves. */
  baseWeightBytes(): number {
    if (this.opts.method === 'full') return this.trainParams.reduce((s, p) => s + p.data.byteLength, 0);
    return this.frozen.reduce((s, a) => s + a.byteLength, 0);
  }
}

/** A decoder with a tape: full finetune (every tensor trains), LoRA over a frozen f32 base, or QLoRA over NF4. */
export function createTrainableModel(bundle: ModelBundle, opts: TrainableOptions): Trainable {
  if (opts.method !== 'full' && opts.method !== 'lora' && opts.method !== 'qlora') throw new Error(`method: expected full, lora or qlora, got ${String(opts.method)}`);
  const rank = opts.rank ?? 8;
  return new TrainableDecoder(bundle, {
    method: opts.method,
    rank,
    alpha: opts.alpha ?? 2 * rank,
    targets: opts.targets ?? ['q_proj', 'v_proj'],
    seed: opts.seed ?? 0,
  });
}

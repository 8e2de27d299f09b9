import type { ModelBundle } from '../../tensor/bundle.js';
import type { TrainableModel } from '../types.js';

/** How a trainable model is built from a base bundle. */
export interface TrainableOptions {
  method: 'full' | 'lora' | 'qlora';
  /** LoRA rank (default 8). */
  rank?: number;
  /** LoRA alpha (default 2·rank); the update is scaled by alpha/rank as PEFT does. */
  alpha?: number;
  /** Adapted modules among q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj (default q_proj, v_proj). */
  targets?: string[];
  /** Seed of the adapter initialisation (default 0). */
  seed?: number;
  dropout?: 0;
}

/** One adapter tensor as PEFT saves it. */
export interface AdapterTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

export interface TrainableExtras {
  /** LoRA factors named as PEFT writes them (`base_model.model.<module>.lora_A.weight` [r, in], `lora_B.weight` [out, r]). */
  adapterTensors(): AdapterTensor[];
  /** adapter_config.json content (the input of src/formats/peft writePeftAdapter). */
  adapterConfig(): Record<string, unknown>;
  /** The current weights as an F32 bundle under the base names (LoRA merged), tokenizer/config from the base. */
  toBundle(): ModelBundle;
  /** Bytes the frozen base weights occupy in memory, measured from the typed arrays held (full: the f32 weights). */
  baseWeightBytes(): number;
}

export type Trainable = TrainableModel & TrainableExtras;

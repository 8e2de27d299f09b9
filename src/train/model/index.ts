/** The trainable decoder (autograd over Llama / Qwen2): full finetune, LoRA and QLoRA, PEFT-named adapters. */
export { createTrainableModel, trainForwardContract } from './trainable.js';
export { initRandomBundle } from './init.js';
export type { AdapterTensor, Trainable, TrainableExtras, TrainableOptions } from './types.js';

/** Writes a trained model: a PEFT adapter folder (LoRA/QLoRA) or the whole model (full training). */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { type OutputFormat, outputFormatFor, writeModel } from '../../formats/open.js';
import { writePeftAdapter } from '../../formats/peft/adapter.js';
import type { PeftLoraConfigInput } from '../../formats/peft/config.js';
import type { ProvenanceEntry } from '../../tensor/bundle.js';
import { MemoryTensorStore } from '../../tensor/store.js';
import type { Trainable } from '../model/index.js';

export interface WrittenModel {
  readonly output: string;
  /** `peft` for an adapter folder. */
  readonly format: OutputFormat | 'peft';
  readonly bytes: number;
}

/** Writes `model` atomically: its adapter when `adapter`, else its weights in the format of `output`. */
export function writeTrained(model: Trainable, output: string, adapter: boolean, provenance: ProvenanceEntry, format?: string): WrittenModel {
  if (adapter) {
    const store = new MemoryTensorStore();
    for (const t of model.adapterTensors()) store.add(t.name, 'F32', t.shape, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    writePeftAdapter(output, model.adapterConfig() as PeftLoraConfigInput, store);
    return { output, format: 'peft', bytes: statSync(join(output, 'adapter_model.safetensors')).size };
  }
  const fmt = outputFormatFor(output, format);
  return { output, format: fmt, bytes: writeModel(model.toBundle(), output, fmt, provenance) };
}

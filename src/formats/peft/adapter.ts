import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { TensorRef, TensorStore } from '../../tensor/store.js';
import { writeAtomically } from '../atomic-write.js';
import { FormatError } from '../errors.js';
import { type DirWriteOptions, writeDirAtomically } from '../hf-dir/atomic-dir.js';
import { pythonJsonDumps } from '../hf-dir/json-text.js';
import { readJsonFile } from '../hf-dir/read.js';
import { openSafetensors } from '../safetensors/read.js';
import { planSafetensors, writeSafetensors } from '../safetensors/write.js';
import { type PeftLoraConfig, type PeftLoraConfigInput, parsePeftConfig, peftConfigForWrite } from './config.js';
import { type AdapterLayout, adapterLayout } from './modules.js';

const ADAPTER_CONFIG = 'adapter_config.json';
const ADAPTER_WEIGHTS = 'adapter_model.safetensors';

/** A PEFT LoRA adapter folder. Tensor names are PEFT's (`base_model.model.<module>.lora_A.weight`). */
export interface PeftAdapter {
  path: string;
  config: PeftLoraConfig;
  tensors: TensorStore;
  layout: AdapterLayout;
}

/** Opens `adapter_config.json` + `adapter_model.safetensors` (lazily) and checks that they agree. */
export function readPeftAdapter(dir: string): PeftAdapter {
  const configPath = join(dir, ADAPTER_CONFIG);
  const weightsPath = join(dir, ADAPTER_WEIGHTS);
  if (!existsSync(configPath)) throw new FormatError(dir, ADAPTER_CONFIG, 'missing: not a PEFT adapter folder');
  const config = parsePeftConfig(configPath, readJsonFile(configPath));
  if (!existsSync(weightsPath)) {
    const bin = existsSync(join(dir, 'adapter_model.bin'));
    throw new FormatError(dir, ADAPTER_WEIGHTS, bin ? 'missing; adapter_model.bin (pickle) is not read, save the adapter with safe_serialization' : 'missing');
  }
  const tensors = openSafetensors(weightsPath);
  try {
    return { path: dir, config, tensors, layout: adapterLayout(weightsPath, config, tensors) };
  } catch (err) {
    tensors.close();
    throw err;
  }
}

function storeOf(tensors: TensorStore | Iterable<TensorRef>): TensorStore {
  if ('names' in tensors && 'get' in tensors) return tensors;
  const map = new Map<string, TensorRef>();
  for (const t of tensors) map.set(t.name, t);
  return { names: () => [...map.keys()], get: (n) => map.get(n), close: () => undefined };
}

/**
 * Writes an adapter folder PEFT loads with `PeftModel.from_pretrained`: adapter_config.json (as PEFT writes
 * it: sorted keys, indent 2) and adapter_model.safetensors (`{"format": "pt"}` metadata), and a README.md model
 * card when `options.readme` is given. Atomic.
 */
export function writePeftAdapter(dir: string, config: PeftLoraConfigInput, tensors: TensorStore | Iterable<TensorRef>, options: DirWriteOptions & { readme?: string } = {}): void {
  const configPath = join(dir, ADAPTER_CONFIG);
  const parsed = parsePeftConfig(configPath, config);
  const store = storeOf(tensors);
  const weightsPath = join(dir, ADAPTER_WEIGHTS);
  adapterLayout(weightsPath, parsed, store);
  const refs = store.names().map((n) => store.get(n)).filter((t): t is TensorRef => t !== undefined);
  planSafetensors(weightsPath, refs);
  writeDirAtomically(
    dir,
    (tmp) => {
      const text = pythonJsonDumps(peftConfigForWrite(parsed)); // PEFT writes no trailing newline
      writeAtomically(join(tmp, ADAPTER_CONFIG), (f) => f.write(new TextEncoder().encode(text)));
      writeSafetensors(join(tmp, ADAPTER_WEIGHTS), refs, { format: 'pt' });
      const readme = options.readme;
      if (readme !== undefined) writeAtomically(join(tmp, 'README.md'), (f) => f.write(new TextEncoder().encode(readme)));
    },
    options,
  );
}

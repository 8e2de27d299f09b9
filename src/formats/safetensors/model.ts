import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ModelBundle } from '../../tensor/bundle.js';
import { FormatError } from '../errors.js';
import { archConfigFromHf } from '../hf-dir/config-map.js';
import { readHfTokenizer, readJsonFile } from '../hf-dir/read.js';
import { openSafetensors } from './read.js';

/**
 * A lone .safetensors file as a lazy bundle. The architecture comes from the `config.json` beside it (a
 * safetensors file carries no hyper-parameters); the tokenizer files beside it are used when present.
 */
export function readSafetensorsModel(path: string): ModelBundle {
  const dir = dirname(path);
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) {
    throw new FormatError(path, 'config.json', `a safetensors file holds no architecture; expected ${configPath} beside it (or pass the Hugging Face folder)`);
  }
  const config = archConfigFromHf(configPath, readJsonFile(configPath));
  const tokenizer = readHfTokenizer(dir);
  const tensors = openSafetensors(path);
  return {
    config,
    tensors,
    metadata: { ...tensors.metadata },
    provenance: [],
    source: { path, format: 'safetensors' },
    ...(tokenizer ? { tokenizer } : {}),
  };
}

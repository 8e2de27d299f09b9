import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelBundle, TokenizerSpec } from '../../tensor/bundle.js';
import type { TensorRef, TensorStore } from '../../tensor/store.js';
import { FormatError } from '../errors.js';
import { type SafetensorsFile, openSafetensors } from '../safetensors/read.js';
import { archConfigFromHf } from './config-map.js';

export function readJsonFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    // Stryker disable next-line StringLiteral: without an encoding readFileSync returns a Buffer, which JSON.parse reads as the same UTF-8 text.
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new FormatError(path, 'file', `cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('expected a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new FormatError(path, 'json', (err as Error).message);
  }
}

const SHARD_NAME = /^[^/\\]+\.safetensors$/;

/** The index's weight_map, checked: every shard a plain file name in the folder (no path traversal). */
function readWeightMap(indexPath: string): Map<string, string> {
  const map = readJsonFile(indexPath)['weight_map'];
  if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new FormatError(indexPath, 'weight_map', 'missing or not an object');
  const out = new Map<string, string>();
  for (const [name, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== 'string' || !SHARD_NAME.test(shard)) {
      throw new FormatError(indexPath, `weight_map.${name}`, `expected a .safetensors file name in the folder, got ${JSON.stringify(shard)}`);
    }
    out.set(name, shard);
  }
  return out;
}

function openSharded(dir: string, indexPath: string, files: SafetensorsFile[], byName: Map<string, TensorRef>): void {
  const map = readWeightMap(indexPath);
  const byShard = new Map<string, SafetensorsFile>();
  for (const shard of [...new Set(map.values())].sort()) {
    const f = openSafetensors(join(dir, shard));
    files.push(f);
    byShard.set(shard, f);
  }
  for (const [name, shard] of map) {
    // Stryker disable next-line OptionalChaining: every shard named in the map was opened into byShard by the loop above (or that loop threw).
    const ref = byShard.get(shard)?.get(name);
    if (!ref) throw new FormatError(indexPath, `weight_map.${name}`, `tensor not found in ${shard}`);
    byName.set(name, ref);
  }
  for (const f of files) {
    for (const n of f.names()) {
      if (byName.get(n) !== f.get(n)) throw new FormatError(f.path, n, byName.has(n) ? 'tensor also stored in another shard' : 'tensor not listed in model.safetensors.index.json');
    }
  }
}

/** Opens the weight files of a HF folder (single file or sharded with an index) as one store. */
export function openHfWeights(dir: string): TensorStore {
  const single = join(dir, 'model.safetensors');
  const indexPath = join(dir, 'model.safetensors.index.json');
  const files: SafetensorsFile[] = [];
  const byName = new Map<string, TensorRef>();
  try {
    if (existsSync(indexPath)) {
      openSharded(dir, indexPath, files, byName);
    } else if (existsSync(single)) {
      const f = openSafetensors(single);
      files.push(f);
      for (const n of f.names()) byName.set(n, f.get(n) as TensorRef);
    } else {
      throw new FormatError(dir, 'weights', 'no model.safetensors or model.safetensors.index.json');
    }
  } catch (err) {
    for (const f of files) f.close();
    throw err;
  }
  const names = [...byName.keys()].sort();
  return { names: () => names, get: (n) => byName.get(n), close: () => files.forEach((f) => f.close()) };
}

/** Reads the tokenizer files of a HF folder, if present. */
export function readHfTokenizer(dir: string): TokenizerSpec | undefined {
  const tokPath = join(dir, 'tokenizer.json');
  if (!existsSync(tokPath)) return undefined;
  const spec: TokenizerSpec = { json: readFileSync(tokPath, 'utf8') };
  const cfgPath = join(dir, 'tokenizer_config.json');
  if (existsSync(cfgPath)) spec.config = readJsonFile(cfgPath);
  const tmplPath = join(dir, 'chat_template.jinja');
  if (existsSync(tmplPath)) spec.chatTemplate = readFileSync(tmplPath, 'utf8');
  else if (typeof spec.config?.['chat_template'] === 'string') spec.chatTemplate = spec.config['chat_template'];
  const genPath = join(dir, 'generation_config.json');
  if (existsSync(genPath)) spec.generationConfig = readJsonFile(genPath);
  return spec;
}

/** A Hugging Face model folder as a lazy bundle. */
export function readHfDir(dir: string): ModelBundle {
  const config = archConfigFromHf(join(dir, 'config.json'), readJsonFile(join(dir, 'config.json')));
  const tokenizer = readHfTokenizer(dir);
  const tensors = openHfWeights(dir);
  return { config, tensors, metadata: {}, provenance: [], source: { path: dir, format: 'hf-dir' }, ...(tokenizer ? { tokenizer } : {}) };
}

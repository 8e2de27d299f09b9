import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../errors.js';
import { type LoraBaseConfig, isGgufAdapterFile, readGgufLora } from '../gguf/lora.js';
import { readGguf } from '../gguf/read.js';
import { type PeftAdapter, readPeftAdapter } from './adapter.js';

export type AdapterFormat = 'peft' | 'gguf';

function startsWithGguf(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const b = new Uint8Array(4);
    return readSync(fd, b, 0, 4, 0) === 4 && new TextDecoder().decode(b) === 'GGUF';
  } finally {
    closeSync(fd);
  }
}

/** 'peft' for a folder with adapter_config.json, 'gguf' for a GGUF whose general.type is adapter, else undefined. */
export function adapterFormat(path: string): AdapterFormat | undefined {
  if (!existsSync(path)) return undefined;
  if (statSync(path).isDirectory()) return existsSync(join(path, 'adapter_config.json')) ? 'peft' : undefined;
  if (!startsWithGguf(path)) return undefined;
  const file = readGguf(path);
  try {
    return isGgufAdapterFile(file.kv) ? 'gguf' : undefined;
  } finally {
    file.close();
  }
}

/**
 * Opens a LoRA adapter in either form: a PEFT folder, or a llama.cpp LoRA GGUF (read as the PEFT adapter it
 * was converted from; `base` gives the head counts llama's Q/K factors need). Lazy: close `tensors` after use.
 */
export function openLoraAdapter(path: string, base?: LoraBaseConfig): PeftAdapter {
  const format = adapterFormat(path);
  if (format === 'peft') return readPeftAdapter(path);
  if (format === 'gguf') return readGgufLora(path, base);
  if (!existsSync(path)) throw new FormatError(path, 'path', 'no such file or directory');
  throw new FormatError(path, statSync(path).isDirectory() ? 'adapter_config.json' : 'general.type', 'not a LoRA adapter (expected a PEFT folder or a GGUF with general.type = adapter)');
}

import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BundleFormat, ModelBundle } from '../tensor/bundle.js';
import { readApr } from './apr/read.js';
import { writeApr } from './apr/write.js';
import { FormatError } from './errors.js';
import { readGgufBundle, writeGgufBundle } from './gguf/index.js';
import { readHfDir } from './hf-dir/read.js';
import { writeHfDir } from './hf-dir/write.js';
import { readSafetensorsModel } from './safetensors/model.js';

export type ModelFileFormat = Exclude<BundleFormat, 'memory' | 'peft'>;

function magic(path: string): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const buf = new Uint8Array(16);
    const n = readSync(fd, buf, 0, 16, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** Detects a model's format from the path: a folder is a HF folder; files by magic bytes. */
export function detectFormat(path: string): ModelFileFormat {
  if (!existsSync(path)) throw new FormatError(path, 'path', 'no such file or directory');
  if (statSync(path).isDirectory()) {
    if (existsSync(join(path, 'adapter_config.json')) && !existsSync(join(path, 'config.json'))) {
      throw new FormatError(path, 'adapter_config.json', 'this is a PEFT adapter folder, not a model (merge it into a base model first)');
    }
    return 'hf-dir';
  }
  const m = magic(path);
  const text = new TextDecoder().decode(m.subarray(0, 4));
  if (text === 'GGUF') return 'gguf';
  if (text === 'APR\0') return 'apr';
  if (m.length >= 9 && m[8] === 0x7b) return 'safetensors';
  throw new FormatError(path, 'magic', 'not a GGUF, APR or SafeTensors file, nor a Hugging Face folder');
}

/** Opens any supported model lazily (tensor bytes are read on demand). */
export function openModel(path: string, opts: { verifyFooter?: boolean } = {}): ModelBundle {
  switch (detectFormat(path)) {
    case 'hf-dir':
      return readHfDir(path);
    case 'gguf':
      return readGgufBundle(path);
    case 'apr':
      return readApr(path, opts);
    case 'safetensors':
      return readSafetensorsModel(path);
  }
}

export type OutputFormat = 'apr' | 'gguf' | 'safetensors';

/** Writes a bundle in a format, streaming tensor by tensor, atomically. Returns the bytes written. */
export function writeModel(bundle: ModelBundle, path: string, format: OutputFormat, provenance?: ModelBundle['provenance'][number]): number {
  switch (format) {
    case 'apr':
      return writeApr(bundle, path, provenance ? { provenance } : {}).bytes;
    case 'gguf':
      // GGUF has no provenance field of its own; the chain lives on in APR files.
      writeGgufBundle(bundle, path);
      return statSync(path).size;
    case 'safetensors':
      return writeHfDir(bundle, path).totalBytes;
  }
}

/** Output format from an explicit option or the output path's extension. */
export function outputFormatFor(path: string, explicit?: string): OutputFormat {
  const f = explicit ?? (path.endsWith('.gguf') ? 'gguf' : path.endsWith('.apr') ? 'apr' : 'safetensors');
  if (f !== 'apr' && f !== 'gguf' && f !== 'safetensors') throw new FormatError(path, '--format', `unknown output format '${f}' (expected apr, gguf or safetensors)`);
  return f;
}

/**
 * The file-level glue of src/formats: atomic outputs (no partial file, ever), the source digest recorded in
 * provenance (checked against node:crypto's SHA-256, computed here independently), format detection by magic
 * bytes, and opening / writing a model in each format.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AtomicFile, OutputPathError, checkOutputPath, writeAtomically } from '../../src/formats/atomic-write.js';
import { FormatError } from '../../src/formats/errors.js';
import { detectFormat, openModel, outputFormatFor, writeModel } from '../../src/formats/open.js';
import { sourceDigest } from '../../src/formats/source-digest.js';
import { fixture, tempDir } from '../helpers.js';

const tmp = tempDir('apr-formats-files-');
afterAll(() => tmp.cleanup());
const sha = (...parts: (string | Uint8Array)[]): string => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return `sha256:${h.digest('hex')}`;
};
const leftovers = (dir: string): string[] => readdirSync(dir).filter((n) => n.startsWith('.apr-tmp-'));

describe('atomic outputs', () => {
  it('checkOutputPath names the output and the missing folder, or the file that is not a folder', () => {
    const missing = join(tmp.dir, 'no-such-folder', 'out.apr');
    expect(() => checkOutputPath(missing)).toThrow(`${missing}: cannot write the output: folder ${join(tmp.dir, 'no-such-folder')} does not exist`);
    const file = join(tmp.dir, 'plain-file');
    writeFileSync(file, 'x');
    expect(() => checkOutputPath(join(file, 'out.apr'))).toThrow(`${file} is not a folder`);
    expect(() => checkOutputPath(join(file, 'out.apr'))).toThrow(OutputPathError);
    expect(() => checkOutputPath(join(tmp.dir, 'fine.apr'))).not.toThrow();
  });

  it('a file appears only on commit, with the bytes written and the patched header', () => {
    const dir = join(tmp.dir, 'commit');
    mkdirSync(dir);
    const path = join(dir, 'out.bin');
    const f = new AtomicFile(path);
    f.write(new Uint8Array([0, 0, 0, 0]));
    f.write(new Uint8Array([5, 6, 7]));
    f.writeAt(1, new Uint8Array([9, 8]));
    expect(f.bytesWritten).toBe(7);
    expect(existsSync(path)).toBe(false);
    expect(leftovers(dir)).toHaveLength(1);
    f.commit();
    expect([...readFileSync(path)]).toEqual([0, 9, 8, 0, 5, 6, 7]);
    expect(leftovers(dir)).toEqual([]);
    expect(() => f.write(new Uint8Array(1))).toThrow(`${path}: write after close`);
    expect(() => f.writeAt(0, new Uint8Array(1))).toThrow(`${path}: write after close`);
    expect(() => f.commit()).toThrow(`${path}: commit after close`);
  });

  it('abort removes the temporary and leaves an existing output untouched', () => {
    const dir = join(tmp.dir, 'abort');
    mkdirSync(dir);
    const path = join(dir, 'out.bin');
    writeFileSync(path, 'old');
    const f = new AtomicFile(path);
    f.write(new TextEncoder().encode('new bytes'));
    f.abort();
    f.abort();
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(leftovers(dir)).toEqual([]);
  });

  it('writeAtomically returns fill\'s result on success; on an error it rethrows and writes nothing', () => {
    const dir = join(tmp.dir, 'fill');
    mkdirSync(dir);
    const ok = join(dir, 'ok.bin');
    expect(writeAtomically(ok, (f) => { f.write(new Uint8Array([1, 2])); return 'done'; })).toBe('done');
    expect([...readFileSync(ok)]).toEqual([1, 2]);
    const bad = join(dir, 'bad.bin');
    expect(() => writeAtomically(bad, (f) => { f.write(new Uint8Array([1])); throw new Error('boom'); })).toThrow('boom');
    expect(existsSync(bad)).toBe(false);
    expect(leftovers(dir)).toEqual([]);
  });
});

describe('sourceDigest', () => {
  it('a file: SHA-256 of its bytes, across the 4 MiB read chunks', () => {
    const big = new Uint8Array((4 << 20) + 1000).map((_, i) => (i * 31) & 255);
    const path = join(tmp.dir, 'big.bin');
    writeFileSync(path, big);
    expect(sourceDigest(path)).toBe(sha(big));
    const empty = join(tmp.dir, 'empty.bin');
    writeFileSync(empty, '');
    expect(sourceDigest(empty)).toBe(sha(''));
  });

  it('a folder: each file\'s name, a NUL and its bytes, in name order; subfolders left out', () => {
    const dir = join(tmp.dir, 'digest-folder');
    mkdirSync(join(dir, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'b.json'), '{"b":1}');
    writeFileSync(join(dir, 'a.txt'), 'alpha');
    writeFileSync(join(dir, 'sub', 'x'), 'ignored');
    expect(sourceDigest(dir)).toBe(sha('a.txt\0', 'alpha', 'b.json\0', '{"b":1}'));
  });
});

describe('format detection and model files', () => {
  it('detects each format by its magic bytes, a folder as a Hugging Face folder', () => {
    expect(detectFormat(fixture('gguf', 'tiny-coder-llama-f32.gguf'))).toBe('gguf');
    expect(detectFormat(fixture('models', 'tiny-coder-llama'))).toBe('hf-dir');
    expect(detectFormat(fixture('models', 'tiny-coder-llama', 'model-00001-of-00003.safetensors'))).toBe('safetensors');
    const apr = join(tmp.dir, 'magic.apr');
    writeFileSync(apr, Buffer.concat([Buffer.from('APR\0'), Buffer.alloc(12)]));
    expect(detectFormat(apr)).toBe('apr');
  });

  it('refuses a missing path, an adapter folder, a short or unknown file, naming the file and the field', () => {
    const missing = join(tmp.dir, 'missing.gguf');
    expect(() => detectFormat(missing)).toThrow(new FormatError(missing, 'path', 'no such file or directory'));
    const adapter = fixture('adapters', 'tiny-coder-llama-lora-email');
    expect(() => detectFormat(adapter)).toThrow(`${adapter}: adapter_config.json: this is a PEFT adapter folder`);
    for (const [name, bytes] of [['short.bin', Buffer.from('GGU')], ['eight.bin', Buffer.from('12345678')], ['nine.bin', Buffer.from('12345678[')]] as const) {
      const p = join(tmp.dir, name);
      writeFileSync(p, bytes);
      expect(() => detectFormat(p), name).toThrow(`${p}: magic: not a GGUF, APR or SafeTensors file`);
    }
  });

  it('a folder with an adapter config next to config.json is a model folder', () => {
    const dir = join(tmp.dir, 'model-with-adapter-config');
    mkdirSync(dir);
    writeFileSync(join(dir, 'adapter_config.json'), '{}');
    writeFileSync(join(dir, 'config.json'), '{}');
    expect(detectFormat(dir)).toBe('hf-dir');
  });

  it('the output format follows --format, else the extension; an unknown one is refused', () => {
    expect(outputFormatFor('m.gguf')).toBe('gguf');
    expect(outputFormatFor('m.apr')).toBe('apr');
    expect(outputFormatFor('out-folder')).toBe('safetensors');
    expect(outputFormatFor('m.gguf', 'apr')).toBe('apr');
    expect(() => outputFormatFor('m.gguf', 'onnx')).toThrow("m.gguf: --format: unknown output format 'onnx' (expected apr, gguf or safetensors)");
  });

  it('writes the draft model in each format and opens it back with the same tensors and bytes', () => {
    const src = openModel(fixture('gguf', 'tiny-draft-llama-f32.gguf'));
    const names = src.tensors.names();
    const bytesOf = (b: typeof src, n: string): string => createHash('sha256').update(b.tensors.get(n)?.read() ?? new Uint8Array()).digest('hex');
    for (const [format, path] of [['apr', join(tmp.dir, 'draft.apr')], ['gguf', join(tmp.dir, 'draft.gguf')], ['safetensors', join(tmp.dir, 'draft-hf')]] as const) {
      const written = writeModel(src, path, format);
      expect(written, format).toBeGreaterThan(0);
      const back = openModel(path);
      expect(back.tensors.names().slice().sort(), format).toEqual(names.slice().sort());
      for (const n of names.slice(0, 3)) expect(bytesOf(back, n), `${format} ${n}`).toBe(bytesOf(src, n));
      back.tensors.close();
    }
    src.tensors.close();
  });
});

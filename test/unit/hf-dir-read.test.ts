import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FormatError } from '../../src/formats/errors.js';
import { openHfWeights, readHfDir } from '../../src/formats/hf-dir/read.js';
import { serializeSafetensors } from '../../src/formats/safetensors/write.js';
import type { TensorRef } from '../../src/tensor/store.js';

const FIX = resolve(process.cwd(), '../shared/fixtures/models');
const tmp = mkdtempSync(join(tmpdir(), 'apr-hf-read-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const t = (name: string): TensorRef => ({ name, dtype: 'I8', shape: [2], byteLength: 2, read: () => new Uint8Array([1, 2]) });

function folder(name: string, shards: Record<string, string[]>, weightMap: unknown): string {
  const dir = join(tmp, name);
  mkdirSync(dir);
  for (const [file, names] of Object.entries(shards)) writeFileSync(join(dir, file), serializeSafetensors(names.map(t)));
  writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: weightMap }));
  return dir;
}

function failure(dir: string): FormatError {
  try {
    openHfWeights(dir).close();
  } catch (err) {
    if (err instanceof FormatError) return err;
    throw err;
  }
  throw new Error('accepted');
}

describe('openHfWeights on sharded folders', () => {
  it('reads the fixture tiny-coder-llama: 3 shards, 56 tensors, one store', () => {
    const b = readHfDir(join(FIX, 'tiny-coder-llama'));
    expect(b.tensors.names()).toHaveLength(6 * 9 + 3);
    expect(b.tensors.get('lm_head.weight')?.shape).toEqual([4096, 256]);
    b.tensors.close();
  });

  it.each([
    ['traversal', { 'a.safetensors': ['x'] }, { x: '../a.safetensors' }, 'weight_map.x', /expected a \.safetensors file name in the folder/],
    ['not-a-string', { 'a.safetensors': ['x'] }, { x: 3 }, 'weight_map.x', /got 3/],
    ['wrong-shard', { 'a.safetensors': ['x'], 'b.safetensors': ['y'] }, { x: 'b.safetensors', y: 'b.safetensors' }, 'weight_map.x', /tensor not found in b\.safetensors/],
    ['unlisted', { 'a.safetensors': ['x', 'y'] }, { x: 'a.safetensors' }, 'y', /not listed in model\.safetensors\.index\.json/],
    ['in-two-shards', { 'a.safetensors': ['x'], 'b.safetensors': ['x', 'y'] }, { x: 'a.safetensors', y: 'b.safetensors' }, 'x', /also stored in another shard/],
    ['map-missing', { 'a.safetensors': ['x'] }, undefined, 'weight_map', /missing or not an object/],
  ])('%s → FormatError naming %s', (name, shards, map, field, message) => {
    const err = failure(folder(name, shards, map));
    expect(err.field).toBe(field);
    expect(err.message).toMatch(message);
  });

  it('a missing shard is a FormatError naming the file', () => {
    const err = failure(folder('missing-shard', {}, { x: 'gone.safetensors' }));
    expect(err.file).toBe(join(tmp, 'missing-shard', 'gone.safetensors'));
    expect(err.message).toMatch(/file: cannot open \(ENOENT\)/);
  });
});

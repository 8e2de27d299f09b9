/**
 * The IQ and ternary dequantizers (src/tensor/codecs/iq*.ts, ternary.ts) against llama.cpp's gguf-py numpy
 * dequantizer, an independent implementation with its own copies of the grids: on random blocks of every
 * type, and, when llama.cpp's tools are built, on every tensor of that type in files llama-quantize made from
 * the fixture f32 model cut to one layer (the IQ1/IQ2/IQ3_XXS types with an importance matrix from
 * llama-imatrix, as they require).
 * Tolerance: none — every value is compared bit for bit (both sides compute float32 products that are exact).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readGguf, readGgufBundle, writeGgufBundle } from '../../src/formats/gguf/index.js';
import { canDequantize, dequantize } from '../../src/tensor/codecs/index.js';
import { DTYPES, type DType, elementCount } from '../../src/tensor/dtype.js';
import { MemoryTensorStore } from '../../src/tensor/store.js';
import { tempDir } from '../helpers.js';
import { FIX, bin, reason } from './gguf-llama-cpp-tools.js';
import { bitDifferences, ggufPyDequantize, ggufPySkip } from './iq-gguf-py-tools.js';

const tmp = tempDir('apr-iq-dequant-');
afterAll(() => tmp.cleanup());

const TYPES = ['IQ2_XXS', 'IQ2_XS', 'IQ2_S', 'IQ3_XXS', 'IQ3_S', 'IQ1_S', 'IQ1_M', 'IQ4_NL', 'IQ4_XS', 'TQ1_0', 'TQ2_0'] as const satisfies readonly DType[];

/** Byte offsets of each block's f16 scale (IQ1_M: the four high nibbles of its scale words). */
const SCALE_AT: Record<(typeof TYPES)[number], number> = {
  IQ2_XXS: 0, IQ2_XS: 0, IQ2_S: 0, IQ3_XXS: 0, IQ3_S: 0, IQ1_S: 0, IQ1_M: -1, IQ4_NL: 0, IQ4_XS: 0, TQ1_0: 52, TQ2_0: 64,
};

/** xorshift32: deterministic bytes for the random blocks. */
function randomBytes(n: number, seed: number): Uint8Array {
  let s = seed >>> 0 || 1;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

/** Random blocks whose f16 scales are finite (exponent < 31), so both sides produce numbers, not NaN payloads. */
function randomBlocks(type: (typeof TYPES)[number], blocks: number, seed: number): Uint8Array {
  const { blockBytes } = DTYPES[type];
  const b = randomBytes(blocks * blockBytes, seed);
  for (let i = 0; i < blocks; i++) {
    const o = i * blockBytes;
    if (type === 'IQ1_M') {
      b[o + 55] = (b[o + 55] ?? 0) & 0xbf; // exponent's top bit clear: the f16 is finite
    } else {
      const at = o + SCALE_AT[type] + 1;
      b[at] = (b[at] ?? 0) & 0xbf;
    }
  }
  return b;
}

describe.skipIf(ggufPySkip !== undefined)('IQ / TQ dequantization = gguf-py, bit for bit', () => {
  it('random blocks of every IQ and TQ type decode to gguf-py\'s values exactly [ob:iq4nl-decode] [ob:iq4xs-decode]', () => {
    const blocks = 64;
    const jobs = TYPES.map((t, i) => [t, randomBlocks(t, blocks, 0x9e3779b9 + i)] as const);
    const theirs = ggufPyDequantize(tmp.dir, jobs);
    jobs.forEach(([type, bytes], i) => {
      expect(canDequantize(type)).toBe(true);
      const ours = dequantize(type, bytes, blocks * DTYPES[type].blockSize);
      expect({ type, diff: bitDifferences(ours, theirs[i] ?? new Float32Array()) }).toEqual({ type, diff: [] });
    });
  });
});

/** tiny-coder-llama cut to its first layer (llama-quantize's IQ1/IQ2/IQ3 searches are slow on the whole model). */
function oneLayer(): string {
  const src = readGgufBundle(join(FIX, 'tiny-coder-llama-f32.gguf'));
  const store = new MemoryTensorStore();
  for (const name of src.tensors.names()) {
    const ref = src.tensors.get(name);
    if (ref && !/^model\.layers\.[1-9]/.test(name)) store.addRef(ref);
  }
  const path = join(tmp.dir, 'coder-1layer-f32.gguf');
  writeGgufBundle({ ...src, config: { ...src.config, num_layers: 1 }, tensors: store }, path);
  src.tensors.close();
  return path;
}

/** The one-layer model and llama-imatrix's importance matrix for it (held-out text, 8 chunks of 128 tokens), made once. */
let inputs: { model: string; imatrix: string } | undefined;
function quantizeInputs(): { model: string; imatrix: string } {
  if (inputs) return inputs;
  const model = oneLayer(), imatrix = join(tmp.dir, 'imatrix.gguf');
  const args = ['-m', model, '-f', join(FIX, '../reference/heldout.py.txt'), '--chunks', '8', '-c', '128', '-o', imatrix, '-t', '2'];
  execFileSync(join(bin ?? '', 'llama-imatrix'), args, { stdio: 'ignore', timeout: 60_000 });
  inputs = { model, imatrix };
  return inputs;
}

/**
 * The llama-quantize file types whose tensors cover every IQ/TQ type (IQ3_XXS files also hold IQ2_S and IQ3_S
 * tensors, IQ1_S / IQ1_M files IQ2_XXS ones), whether ggml needs an importance matrix for them, and the types
 * each file holds (token_embd and output are kept Q8_0 to save time).
 */
const FILE_TYPES = [
  ['IQ4_NL', false, ['IQ4_NL']], ['IQ4_XS', false, ['IQ4_XS']], ['IQ3_XXS', true, ['IQ3_XXS', 'IQ2_S', 'IQ3_S']], ['IQ3_S', false, ['IQ3_S']],
  ['IQ2_XS', true, ['IQ2_XS']], ['IQ1_S', true, ['IQ1_S', 'IQ2_XXS']], ['IQ1_M', true, ['IQ1_M', 'IQ2_XXS']], ['TQ1_0', false, ['TQ1_0']], ['TQ2_0', false, ['TQ2_0']],
] as const;

it('the llama-quantize files below hold every IQ and TQ type', () => {
  expect([...new Set(FILE_TYPES.flatMap(([, , types]) => types))].sort()).toEqual([...TYPES].sort());
});

describe.skipIf(bin === undefined || ggufPySkip !== undefined)('IQ / TQ files made by llama-quantize decode as gguf-py decodes them', () => {
  for (const [fileType, needsImatrix, expected] of FILE_TYPES) {
    const tags = expected.map((t) => ({ IQ4_NL: ' [ob:iq4nl-decode]', IQ4_XS: ' [ob:iq4xs-decode]' } as Partial<Record<string, string>>)[t] ?? '').join('');
    it(`llama-quantize ${fileType}: every ${expected.join('/')} tensor equals gguf-py's dequantization${tags}`, () => {
      const { model, imatrix } = quantizeInputs();
      const path = join(tmp.dir, `llama-${fileType}.gguf`);
      const args = [...(needsImatrix ? ['--imatrix', imatrix] : []), '--token-embedding-type', 'q8_0', '--output-tensor-type', 'q8_0', model, path, fileType, '2'];
      execFileSync(join(bin ?? '', 'llama-quantize'), args, { stdio: 'ignore' });
      const g = readGguf(path);
      try {
        const tensors = g.tensors.filter((t) => (TYPES as readonly string[]).includes(t.ggmlType));
        const theirs = ggufPyDequantize(tmp.dir, tensors.map((t) => [t.ggmlType, g.read(t)] as const));
        tensors.forEach((t, i) => {
          const ours = dequantize(t.ggmlType, g.read(t), elementCount(t.dims));
          expect({ tensor: t.name, diff: bitDifferences(ours, theirs[i] ?? new Float32Array()) }).toEqual({ tensor: t.name, diff: [] });
        });
        expect([...new Set(tensors.map((t) => t.ggmlType))].sort()).toEqual([...expected].sort());
      } finally {
        g.close();
      }
    });
  }
});

if (bin === undefined) {
  describe('IQ / TQ files made by llama-quantize', () => {
    it.skip(`skipped: ${reason}`, () => undefined);
  });
}
if (ggufPySkip !== undefined) {
  describe('IQ / TQ dequantization vs gguf-py', () => {
    it.skip(`skipped: ${ggufPySkip}`, () => undefined);
  });
}

/**
 * Bit-exactness against llama.cpp itself: `llama-quantize --allow-requantize <q.gguf> <out.gguf> F32` runs
 * ggml's own dequantize_row_* over every tensor; our `dequantize` must give the same float32 bits.
 * Runs when the llama.cpp tools are found: $LLAMA_CPP_BIN, else the default output folders of
 * ../shared/tools/build-llama-cpp.sh (./.llama-cpp or ../llama-cpp, then src/build/bin). Generated GGUFs
 * live in a temporary folder only.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readGguf } from '../../src/formats/gguf/index.js';
import { dequantize } from '../../src/tensor/codecs/index.js';
import { elementCount } from '../../src/tensor/dtype.js';
import { FIX, bin, llamaQuantize, reason } from './gguf-llama-cpp-tools.js';

interface Comparison {
  tensors: number;
  quantizedTensors: number;
  elements: number;
  mismatches: number;
  maxAbsDiff: number;
}

/** Our dequantization of every tensor of `quantized` against llama.cpp's F32 export of the same file. */
function compare(quantized: string, reference: string): Comparison {
  const q = readGguf(quantized), r = readGguf(reference);
  const res: Comparison = { tensors: 0, quantizedTensors: 0, elements: 0, mismatches: 0, maxAbsDiff: 0 };
  try {
    for (const t of q.tensors) {
      const ref = r.tensors.find((x) => x.name === t.name);
      if (!ref || ref.ggmlType !== 'F32' || JSON.stringify(ref.dims) !== JSON.stringify(t.dims)) throw new Error(`${t.name}: no matching F32 tensor in llama.cpp's output`);
      const n = elementCount(t.dims);
      const ours = dequantize(t.ggmlType, q.read(t), n);
      const theirs = dequantize('F32', r.read(ref), n);
      const a = new Uint32Array(ours.buffer), b = new Uint32Array(theirs.buffer, theirs.byteOffset, n);
      for (let i = 0; i < n; i++) {
        if (a[i] !== b[i]) res.mismatches++;
        res.maxAbsDiff = Math.max(res.maxAbsDiff, Math.abs((ours[i] ?? 0) - (theirs[i] ?? 0)));
      }
      res.tensors++;
      if (t.ggmlType !== 'F32') res.quantizedTensors++;
      res.elements += n;
    }
  } finally {
    q.close();
    r.close();
  }
  return res;
}

function typesOf(path: string): string[] {
  const f = readGguf(path);
  const types = [...new Set(f.tensors.map((t) => t.ggmlType))].sort();
  f.close();
  return types;
}

describe.skipIf(bin === undefined)('dequantization is bit-identical to llama.cpp (llama-quantize … F32)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'apr-llama-cpp-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const kind of ['Q8_0', 'Q4_0', 'Q4_K_M', 'Q6_K', 'F16']) {
    it(`fixture tiny-coder-llama-${kind}`, () => {
      const src = join(FIX, `tiny-coder-llama-${kind}.gguf`);
      const out = join(dir, `${kind}-f32.gguf`);
      llamaQuantize(src, out, 'F32');
      const c = compare(src, out);
      console.log(`${kind} [${typesOf(src).join(', ')}]: ${c.tensors} tensors (${c.quantizedTensors} non-F32), ${c.elements} values, ${c.mismatches} bit mismatches, max |Δ| ${c.maxAbsDiff}`);
      expect(c.quantizedTensors).toBeGreaterThan(0);
      expect(c.mismatches).toBe(0);
    });
  }

  const made = new Map<string, string>();
  /** The f32 fixture quantized by llama.cpp with --pure (every matrix in the one type), made once. */
  const pure = (type: string): string => {
    const path = join(dir, `pure-${type}.gguf`);
    if (!made.has(type)) llamaQuantize(join(FIX, 'tiny-coder-llama-f32.gguf'), path, type, true);
    made.set(type, path);
    return path;
  };

  for (const [type, label] of [['Q4_1', 'Q4_1'], ['Q5_0', 'Q5_0'], ['Q5_1', 'Q5_1'], ['Q2_K', 'Q2_K'], ['Q3_K_S', 'Q3_K'], ['Q5_K_S', 'Q5_K']] as const) {
    it(`${label}, quantized by llama.cpp from the f32 fixture`, () => {
      const q = pure(type), out = join(dir, `${type}-f32.gguf`);
      llamaQuantize(q, out, 'F32');
      const c = compare(q, out);
      console.log(`${label} [${typesOf(q).join(', ')}]: ${c.tensors} tensors (${c.quantizedTensors} non-F32), ${c.elements} values, ${c.mismatches} bit mismatches, max |Δ| ${c.maxAbsDiff}`);
      expect(typesOf(q)).toContain(label);
      expect(c.mismatches).toBe(0);
    });
  }
});

if (bin === undefined) {
  describe('llama.cpp comparison', () => {
    it.skip(`skipped: ${reason}`, () => undefined);
  });
}

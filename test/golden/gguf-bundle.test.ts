/**
 * GGUF bundles against outside references: the HF folders written by transformers and the GGUF files
 * written by llama.cpp (convert_hf_to_gguf.py, llama-quantize) in ../shared/fixtures.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type GgufFile, readGguf, readGgufBundle, writeGgufBundle } from '../../src/formats/gguf/index.js';
import { readHfDir } from '../../src/formats/hf-dir/read.js';
import type { ModelBundle } from '../../src/tensor/bundle.js';
import { dequantize } from '../../src/tensor/codecs/index.js';
import { elementCount } from '../../src/tensor/dtype.js';

const FIX = resolve(process.cwd(), '../shared/fixtures');
const gguf = (name: string): string => join(FIX, 'gguf', `${name}.gguf`);
const dir = mkdtempSync(join(tmpdir(), 'apr-gguf-golden-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
const json = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x));

function expectBundlesEqual(a: ModelBundle, b: ModelBundle): void {
  expect(a.config).toEqual(b.config);
  expect([...a.tensors.names()].sort()).toEqual([...b.tensors.names()].sort());
  const differing = a.tensors.names().filter((n) => {
    const x = a.tensors.get(n)!, y = b.tensors.get(n)!;
    return x.dtype !== y.dtype || json(x.shape) !== json(y.shape) || !same(x.read(), y.read());
  });
  expect(differing).toEqual([]);
}

describe('f32 GGUF read as a bundle equals the Hugging Face folder, bit for bit', () => {
  for (const model of ['tiny-coder-llama', 'tiny-draft-llama']) {
    it(`${model}: same config, names, dtypes, shapes and bytes (Q/K RoPE permutation undone)`, () => {
      const g = readGgufBundle(gguf(`${model}-f32`));
      const h = readHfDir(join(FIX, 'models', model));
      try {
        expectBundlesEqual(g, h);
        expect(g.tokenizer?.chatTemplate?.trim()).toBe(h.tokenizer?.chatTemplate?.trim());
      } finally {
        g.tensors.close();
        h.tensors.close();
      }
    });
  }
});

function expectFileReproduced(orig: GgufFile, out: GgufFile): void {
  const missing = [...orig.kv].filter(([k, v]) => json(out.kv.get(k)) !== json(v)).map(([k]) => k);
  expect(missing).toEqual([]);
  expect(out.tensors.map((t) => t.name).sort()).toEqual(orig.tensors.map((t) => t.name).sort());
  const differing = orig.tensors.filter((t) => {
    const o = out.tensors.find((x) => x.name === t.name)!;
    return o.ggmlType !== t.ggmlType || json(o.dims) !== json(t.dims) || !same(orig.read(t), out.read(o));
  });
  expect(differing.map((t) => t.name)).toEqual([]);
}

describe('GGUF → bundle → GGUF reproduces every tensor and every KV pair llama.cpp wrote', () => {
  const files = ['tiny-coder-llama-f32', 'tiny-coder-llama-F16', 'tiny-coder-llama-Q8_0', 'tiny-coder-llama-Q4_0', 'tiny-coder-llama-Q4_K_M', 'tiny-coder-llama-Q6_K', 'tiny-draft-llama-f32'];
  for (const name of files) {
    it(name, () => {
      const bundle = readGgufBundle(gguf(name));
      const path = join(dir, `${name}.gguf`);
      writeGgufBundle(bundle, path);
      bundle.tensors.close();
      const orig = readGguf(gguf(name));
      const out = readGguf(path);
      try {
        expectFileReproduced(orig, out);
        const extra = [...out.kv.keys()].filter((k) => !orig.kv.has(k));
        expect(extra.every((k) => k.startsWith('tokenizer.ggml.add_'))).toBe(true);
      } finally {
        orig.close();
        out.close();
      }
    });
  }
});

describe('HF folder → GGUF equals what llama.cpp\'s convert_hf_to_gguf.py wrote', () => {
  for (const model of ['tiny-coder-llama', 'tiny-draft-llama']) {
    it(`${model}: the same KV pairs (no more, no fewer) and the same tensors`, () => {
      const h = readHfDir(join(FIX, 'models', model));
      const path = join(dir, `${model}-from-hf.gguf`);
      writeGgufBundle(h, path);
      h.tensors.close();
      const orig = readGguf(gguf(`${model}-f32`)), out = readGguf(path);
      try {
        expectFileReproduced(orig, out);
        expect([...out.kv.keys()].sort()).toEqual([...orig.kv.keys()].sort());
      } finally {
        orig.close();
        out.close();
      }
    });
  }

  it('tiny-draft-llama (single shard, so the same tensor order): byte-identical file', () => {
    const h = readHfDir(join(FIX, 'models', 'tiny-draft-llama'));
    const path = join(dir, 'draft-identical.gguf');
    writeGgufBundle(h, path);
    h.tensors.close();
    expect(readFileSync(path).equals(readFileSync(gguf('tiny-draft-llama-f32')))).toBe(true);
  });
});

describe('quantized fixtures dequantize close to the f32 model (sanity; bit-exactness is gguf-llama-cpp.test.ts)', () => {
  // Worst per-tensor error relative to that tensor's largest |w|. Bounds are from the formats: F16 rounds
  // at 2^-11 relative, Q8_0 at half a step of absmax/127, Q6_K ~1/64, Q4_K/Q4_0 ~1/16 of the block range.
  const bounds: Record<string, number> = { F16: 1e-3, Q8_0: 0.01, Q6_K: 0.04, Q4_K_M: 0.15, Q4_0: 0.15 };
  const f32 = readGgufBundle(gguf('tiny-coder-llama-f32'));
  afterAll(() => f32.tensors.close());
  for (const [kind, bound] of Object.entries(bounds)) {
    it(`${kind}: every tensor within ${bound} of max|w|`, () => {
      const q = readGgufBundle(gguf(`tiny-coder-llama-${kind}`));
      let worst = 0;
      for (const n of q.tensors.names()) {
        const t = q.tensors.get(n)!, ref = f32.tensors.get(n)!;
        expect(t.shape).toEqual(ref.shape);
        const a = dequantize(t.dtype, t.read(), elementCount(t.shape));
        const b = dequantize('F32', ref.read(), elementCount(ref.shape));
        let maxDiff = 0, maxAbs = 0;
        for (let i = 0; i < a.length; i++) {
          maxDiff = Math.max(maxDiff, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
          maxAbs = Math.max(maxAbs, Math.abs(b[i] ?? 0));
        }
        worst = Math.max(worst, maxDiff / maxAbs);
      }
      q.tensors.close();
      console.log(`${kind}: worst per-tensor max|Δ|/max|w| = ${worst.toExponential(3)}`);
      expect(worst).toBeGreaterThan(0);
      expect(worst).toBeLessThan(bound);
    });
  }
});

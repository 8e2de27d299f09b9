/**
 * Quantizers against llama-quantize's bytes, in-process: the first rows of two tiny-coder-llama tensors in every
 * type apr quantizes, without and with llama-imatrix's importance weights, as llama-quantize --pure wrote them
 * (test/fixtures/tensor/quant-llama-quantize.json, written by test/golden/quant-bytes-fixture.ts). The golden tests
 * compare whole files through llama-quantize run live; this one needs no tools, so it also runs under mutation
 * testing. Exact bytes: ggml's quantizers are deterministic float32 code that apr follows operation by operation.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readGguf } from '../../src/formats/gguf/index.js';
import { quantize } from '../../src/tensor/codecs/quantize.js';
import type { DType } from '../../src/tensor/dtype.js';
import { fixture } from '../helpers.js';

interface Fixture {
  rows: number;
  imatrix: Record<string, string>;
  types: Record<string, Record<string, { plain: string; imatrix: string }>>;
}

const ref = JSON.parse(readFileSync('test/fixtures/tensor/quant-llama-quantize.json', 'utf8')) as Fixture;
const floats = (b64: string): Float32Array => {
  const b = Buffer.from(b64, 'base64');
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

/** The first `rows` rows of each named f32 tensor of tiny-coder-llama-f32.gguf. */
function sourceRows(names: readonly string[], rows: number): Map<string, Float32Array> {
  const f = readGguf(fixture('gguf', 'tiny-coder-llama-f32.gguf'));
  const out = new Map<string, Float32Array>();
  for (const name of names) {
    const t = f.tensors.find((x) => x.name === name);
    if (!t || t.ggmlType !== 'F32') throw new Error(`tiny-coder-llama-f32.gguf: no f32 tensor ${name}`);
    const bytes = f.read(t).slice(0, rows * (t.dims[0] ?? 0) * 4);
    out.set(name, new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
  }
  f.close();
  return out;
}

const names = Object.keys(ref.imatrix);
const source = sourceRows(names, ref.rows);

describe('quantize = llama-quantize --pure, byte for byte (first rows of two tiny-coder-llama tensors)', () => {
  it('the fixture covers 12 types, each on a 256-value-row and a 512-value-row tensor', () => {
    expect(Object.keys(ref.types)).toHaveLength(12);
    expect(names.map((n) => (source.get(n)?.length ?? 0) / ref.rows)).toEqual([256, 512]);
  });
  for (const [type, tensors] of Object.entries(ref.types)) {
    it(`${type}: no importance matrix [ob:quantize-llama-identical]`, () => {
      for (const [name, bytes] of Object.entries(tensors)) {
        const ours = Buffer.from(quantize(type as DType, source.get(name) ?? new Float32Array()));
        expect(ours.toString('base64'), name).toBe(bytes.plain);
      }
    });
    it(`${type}: with llama-imatrix's importance weights [ob:quantize-llama-identical]`, () => {
      for (const [name, bytes] of Object.entries(tensors)) {
        const ours = Buffer.from(quantize(type as DType, source.get(name) ?? new Float32Array(), floats(ref.imatrix[name] ?? '')));
        expect(ours.toString('base64'), name).toBe(bytes.imatrix);
      }
    });
  }
});

/**
 * The IQ and ternary decoders against llama.cpp's gguf-py, in process: test/fixtures/tensor/iq-dequant-gguf-py.json
 * holds random blocks of each type and gguf-py's float32 values for them (written by
 * test/golden/iq-dequant-fixture.ts; the golden test iq-dequant-gguf-py.test.ts runs gguf-py itself when it is
 * installed). Tolerance: none, bit for bit, as the golden test (both sides form exact float32 products).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dequantize } from '../../src/tensor/codecs/index.js';
import { DTYPES, type DType } from '../../src/tensor/dtype.js';

const fixture = JSON.parse(readFileSync('test/fixtures/tensor/iq-dequant-gguf-py.json', 'utf8')) as { blocks: Record<string, { input: string; output: string }> };

function bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

describe('IQ / TQ dequantization = gguf-py (fixture), bit for bit', () => {
  for (const [type, { input, output }] of Object.entries(fixture.blocks)) {
    it(`${type}: every value of every block`, () => {
      const raw = new Uint8Array(Buffer.from(input, 'base64'));
      const ref = Buffer.from(output, 'base64');
      const want = new Float32Array(ref.buffer.slice(ref.byteOffset, ref.byteOffset + ref.byteLength));
      expect(raw.length % DTYPES[type as DType].blockBytes).toBe(0);
      expect(bits(dequantize(type as DType, raw, want.length))).toEqual(bits(want));
    });
  }
});

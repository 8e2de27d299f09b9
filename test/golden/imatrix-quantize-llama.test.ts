/**
 * `apr quantize --imatrix X` equals `llama-quantize --imatrix X` tensor for tensor, X made by
 * `llama-imatrix -m tiny-coder-llama-f32.gguf -f heldout.py.txt --chunks 8 -c 128`, for q4_0, q4_1, q5_0, q5_1,
 * q4_k_m, q5_k_m, q6_k, q3_k_m and q2_k (run live; skipped with the reason without llama.cpp's tools).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reason, bin } from './gguf-llama-cpp-tools.js';
import { coder, imatrixScratch, llamaImatrix, ready, sameAsLlama } from './imatrix-llama-tools.js';

const tmp = imatrixScratch();
afterAll(() => tmp.cleanup());

describe.skipIf(!ready)('apr quantize --imatrix against llama-quantize --imatrix (run live)', () => {
  const X = join(tmp.dir, 'llama.gguf');
  beforeAll(() => llamaImatrix(coder, X));

  const schemes = [
    ['q4_0', 'Q4_0', '[ob:q4_0-imatrix-llama-bytes]'],
    ['q4_1', 'Q4_1', '[ob:q4_1-imatrix-llama-bytes]'],
    ['q5_0', 'Q5_0', '[ob:q5_0-imatrix-llama-bytes]'],
    ['q5_1', 'Q5_1', '[ob:q5_1-imatrix-llama-bytes]'],
    ['q4_k_m', 'Q4_K_M', '[ob:q4k-imatrix-llama-bytes]'],
    ['q5_k_m', 'Q5_K_M', '[ob:q5k-imatrix-llama-bytes]'],
    ['q6_k', 'Q6_K', '[ob:q6k-imatrix-llama-bytes]'],
    ['q3_k_m', 'Q3_K_M', '[ob:q3k-llama-bytes]'],
    ['q2_k', 'Q2_K', '[ob:q2k-llama-bytes]'],
  ] as const;
  for (const [scheme, type, tag] of schemes) {
    it(`apr quantize --imatrix = llama-quantize --imatrix ${type}: every tensor identical [ob:quantize-imatrix-llama-identical] ${tag}`, () => {
      const types = sameAsLlama(tmp.dir, coder, scheme, type, X);
      expect(Object.values(types).reduce((a, b) => a + b, 0)).toBe(57);
    });
  }
});

if (!ready) {
  describe('apr quantize --imatrix against llama-quantize --imatrix', () => {
    it.skip(`skipped: ${bin === undefined ? reason : 'llama-imatrix not built in LLAMA_CPP_BIN'}`, () => undefined);
  });
}

/**
 * Our reference quantizers against llama.cpp's: `llama-quantize --pure <type>` (no importance matrix)
 * on the f32 fixture, compared block by block with `quantize(type, same f32 values)`. To keep the suite
 * fast, the tensors of layer 0 and the token embedding (1.8 M values) are compared for each type.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readGguf } from '../../src/formats/gguf/index.js';
import { dequantize, quantize } from '../../src/tensor/codecs/index.js';
import { DTYPES, elementCount } from '../../src/tensor/dtype.js';
import { FIX, bin, llamaQuantize, reason } from './gguf-llama-cpp-tools.js';

const compared = (name: string): boolean => name.startsWith('blk.0.') || name === 'token_embd.weight';

describe.skipIf(bin === undefined)('reference quantizers write the bytes llama-quantize writes (no imatrix)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'apr-llama-cpp-q-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const f32 = join(FIX, 'tiny-coder-llama-f32.gguf');

  for (const [type, label] of [['Q8_0', 'Q8_0'], ['Q4_0', 'Q4_0'], ['Q4_1', 'Q4_1'], ['Q4_K_S', 'Q4_K'], ['Q5_K_S', 'Q5_K'], ['Q6_K', 'Q6_K']] as const) {
    it(`${label}: \`llama-quantize --pure ${type}\` byte for byte`, () => {
      const path = join(dir, `${type}.gguf`);
      llamaQuantize(f32, path, type, true);
      const q = readGguf(path), src = readGguf(f32);
      let tensors = 0, blocks = 0, differing = 0;
      try {
        for (const t of q.tensors.filter((x) => x.ggmlType === label && compared(x.name))) {
          const s = src.tensors.find((x) => x.name === t.name)!;
          const ours = quantize(label, dequantize('F32', src.read(s), elementCount(s.dims)));
          const theirs = q.read(t);
          const bb = DTYPES[label].blockBytes;
          for (let o = 0; o < theirs.byteLength; o += bb) {
            blocks++;
            if (!Buffer.from(ours.subarray(o, o + bb)).equals(Buffer.from(theirs.subarray(o, o + bb)))) differing++;
          }
          tensors++;
        }
      } finally {
        q.close();
        src.close();
      }
      console.log(`quantize ${label}: ${tensors} tensors, ${blocks} blocks, ${differing} differ from llama.cpp`);
      expect(tensors).toBe(8);
      expect(differing).toBe(0);
    });
  }
});

if (bin === undefined) {
  describe('llama.cpp quantizer comparison', () => {
    it.skip(`skipped: ${reason}`, () => undefined);
  });
}

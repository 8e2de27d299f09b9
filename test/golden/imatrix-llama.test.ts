/**
 * Importance matrices against llama.cpp run here (llama-imatrix, llama-quantize from LLAMA_CPP_BIN or the
 * build script's folders; skipped with the reason when they are absent):
 * - the reader reads llama-imatrix's GGUF and legacy .dat files, and our writers rebuild both byte for byte;
 * - (the per-scheme `apr quantize --imatrix` = llama-quantize comparisons are in imatrix-quantize-llama.test.ts);
 *   llama-quantize reads the files `apr imatrix` writes and gives the same bytes
 *   as apr quantize with them; on an 8-layer model the q4_0/q5_0 rule (ffn_down of layers < n/8 in Q4_1/Q5_1
 *   when an imatrix is given) matches;
 * - `apr imatrix` agrees with llama-imatrix (tolerances below).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeImatrixFile } from '../../src/ops/imatrix.js';
import { readGgufBundle, writeGgufBundle } from '../../src/formats/gguf/index.js';
import { encodeImatrixLegacy, imatrixWeights, readImatrix, writeImatrixGguf } from '../../src/formats/imatrix/index.js';
import { MemoryTensorStore } from '../../src/tensor/store.js';
import { bin, reason } from './gguf-llama-cpp-tools.js';
import { coder, heldout, imatrixScratch, llamaImatrix, ready, sameAsLlama, sumsDifference } from './imatrix-llama-tools.js';

const tmp = imatrixScratch();
afterAll(() => tmp.cleanup());

describe.skipIf(!ready)('importance matrices against llama.cpp (run live)', () => {
  const X = join(tmp.dir, 'llama.gguf'), XD = join(tmp.dir, 'llama.dat');
  beforeAll(() => {
    llamaImatrix(coder, X);
    llamaImatrix(coder, XD, ['--output-format', 'dat']);
  });

  it('reads llama-imatrix\'s GGUF and .dat files: 42 weights, 8 chunks of 128 tokens, the dataset; the same weights [ob:imatrix-file-llama]', () => {
    const g = readImatrix(X), d = readImatrix(XD);
    expect([g.format, g.hasMetadata, g.entries.size, g.chunkCount, g.chunkSize, g.datasets]).toEqual(['gguf', true, 42, 8, 128, [heldout]]);
    expect([d.format, d.entries.size, d.chunkCount, d.datasets]).toEqual(['dat', 42, 8, [heldout]]);
    expect(g.entries.get('blk.0.attn_q.weight')?.counts).toEqual([1024]);
    const wg = imatrixWeights(g), wd = imatrixWeights(d);
    // the .dat stores (sum/count)·ncall and quantize divides by ncall again: two float32 roundings apart
    for (const [name, w] of wg) w.forEach((v, j) => expect(Math.abs((wd.get(name)?.[j] ?? NaN) - v)).toBeLessThanOrEqual(2.5e-7 * v));
  });

  it('rewriting llama-imatrix\'s sums and counts with our writers gives its GGUF and .dat files byte for byte [ob:imatrix-file-llama]', () => {
    const g = readImatrix(X);
    const again = join(tmp.dir, 'again.gguf');
    writeImatrixGguf(again, g);
    expect(readFileSync(again).equals(readFileSync(X))).toBe(true);
    expect(Buffer.from(encodeImatrixLegacy(g)).equals(readFileSync(XD))).toBe(true);
  });

  it('apr imatrix agrees with llama-imatrix: per column within 2e-3, per tensor (L1) within 5e-4 [ob:imatrix-llama-agreement]', () => {
    // llama-imatrix's defaults run attention through its flash-attention path, which rounds through f16 on
    // the CPU: measured 6.0e-4 per column (attn_output, ffn_down), 1.1e-4 per tensor. Counts must be equal.
    const ours = join(tmp.dir, 'apr.gguf');
    computeImatrixFile({ input: coder, data: heldout, output: ours, ctx: 128, chunks: 8 });
    const d = sumsDifference(readImatrix(ours), readImatrix(X));
    expect(d.column).toBeLessThan(2e-3);
    expect(d.tensor).toBeLessThan(5e-4);
  });

  it('with f32 attention in llama-imatrix (-ctk f32 -ctv f32 -fa off) the sums agree within 2e-5 per column [ob:imatrix-llama-agreement]', () => {
    // what is left is float32 summation order (matmul dot products, Σx² over 1024 rows): measured 2.6e-6
    const theirs = join(tmp.dir, 'llama-f32.gguf'), ours = join(tmp.dir, 'apr2.gguf');
    llamaImatrix(coder, theirs, ['-ctk', 'f32', '-ctv', 'f32', '-fa', 'off']);
    computeImatrixFile({ input: coder, data: heldout, output: ours, ctx: 128, chunks: 8 });
    expect(sumsDifference(readImatrix(ours), readImatrix(theirs)).column).toBeLessThan(2e-5);
  });

  it('llama-quantize reads the GGUF and .dat files apr imatrix writes, and quantizes as apr quantize does with them [ob:imatrix-file-llama]', () => {
    const g = join(tmp.dir, 'ours.gguf'), d = join(tmp.dir, 'ours.dat');
    computeImatrixFile({ input: coder, data: heldout, output: g, ctx: 128, chunks: 8 });
    computeImatrixFile({ input: coder, data: heldout, output: d, ctx: 128, chunks: 8 });
    sameAsLlama(tmp.dir, coder, 'q4_k_m', 'Q4_K_M', g);
    sameAsLlama(tmp.dir, coder, 'q5_0', 'Q5_0', d);
  });

  it('8 layers: with an imatrix q4_0 / q5_0 put ffn_down of layer 0 in Q4_1 / Q5_1, as llama-quantize does [ob:quantize-imatrix-llama-identical]', () => {
    // tiny-coder-llama's 6 layers then layers 0 and 1 again as layers 6 and 7
    const src = readGgufBundle(coder);
    const store = new MemoryTensorStore();
    for (const name of src.tensors.names()) {
      const ref = src.tensors.get(name);
      if (!ref) continue;
      store.addRef(ref);
      const m = /^model\.layers\.([01])\.(.*)$/.exec(name);
      if (m) store.addRef({ ...ref, name: `model.layers.${Number(m[1]) + 6}.${m[2] ?? ''}` });
    }
    const eight = join(tmp.dir, 'eight-f32.gguf'), im = join(tmp.dir, 'eight.gguf');
    writeGgufBundle({ ...src, config: { ...src.config, num_layers: 8 }, tensors: store }, eight);
    src.tensors.close();
    computeImatrixFile({ input: eight, data: heldout, output: im, ctx: 128, chunks: 4 });
    expect(sameAsLlama(tmp.dir, eight, 'q4_0', 'Q4_0', im)['Q4_1']).toBe(1);
    expect(sameAsLlama(tmp.dir, eight, 'q5_0', 'Q5_0', im)['Q5_1']).toBe(1);
  });
});

if (!ready) {
  describe('importance matrices against llama.cpp', () => {
    it.skip(`skipped: ${bin === undefined ? reason : 'llama-imatrix not built in LLAMA_CPP_BIN'}`, () => undefined);
  });
}

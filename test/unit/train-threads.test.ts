import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { threadPool } from '../../src/kernels/cpu/pool.js';
import { dequantizeNf4, quantizeNf4 } from '../../src/tensor/quant/nf4.js';
import { frozenTranspose, nf4Floats, nf4Transposed } from '../../src/train/autograd/frozen.js';
import { kernelFloats } from '../../src/train/autograd/linalg.js';
import { product, productStats, trainThreads } from '../../src/train/autograd/threads.js';
import { createTrainableModel } from '../../src/train/model/index.js';
import type { ArchConfig } from '../../src/tensor/bundle.js';
import { lcg, randArray } from '../property/train-grad-helpers.js';
import { randomModel } from './model-random.js';

/**
 * The training products on the worker pool (src/train/autograd/threads.ts): the same bits at 1 and 2 threads
 * (the pool's row slices are summed by the one-thread kernel), the pool really used, and the frozen-weight
 * transposes / NF4 decoders equal to the tensor module's own decoder and a plain transpose.
 */

// every product of these small shapes goes to the pool (the default skips products under 2^17 multiply-adds)
process.env['APR_THREAD_MIN_WORK'] = '0';
const savedThreads = process.env['APR_THREADS'];
// until its workers have started the pool runs every slice on the calling thread: wait, so that they take part
beforeAll(async () => {
  const pool = threadPool(2);
  for (let i = 0; i < 100 && pool !== undefined && !pool.isReady; i++) await new Promise((r) => setTimeout(r, 50));
});
afterAll(() => {
  if (savedThreads === undefined) delete process.env['APR_THREADS'];
  else process.env['APR_THREADS'] = savedThreads;
});

function atThreads<T>(threads: number, f: () => T): T {
  process.env['APR_THREADS'] = String(threads);
  return f();
}

const CONFIG: ArchConfig = {
  architecture: 'llama', hidden_size: 128, num_layers: 2, num_heads: 4, num_kv_heads: 2, head_dim: 32, vocab_size: 96,
  intermediate_size: 192, rope_theta: 10000, rms_norm_eps: 1e-5, max_position_embeddings: 64, tie_word_embeddings: false, attention_bias: false,
};

describe('thread count', () => {
  test('APR_THREADS sets it; unset it is at least one', () => {
    expect(atThreads(3, trainThreads)).toBe(3);
    delete process.env['APR_THREADS'];
    expect(trainThreads()).toBeGreaterThanOrEqual(1);
  });
});

describe('pooled product', () => {
  for (const [n, rows, cols] of [[1, 8, 4], [5, 37, 64], [17, 130, 96], [64, 256, 128]] as const) {
    test(`n=${n}, [${rows}, ${cols}]: 2 threads equal 1 thread bit for bit, and a float64 loop within 1e-5 relative`, () => {
      const rnd = lcg(rows * 31 + n);
      const w = kernelFloats(rows * cols);
      w.set(randArray(rnd, rows * cols));
      const x = kernelFloats(n * cols);
      x.set(randArray(rnd, n * cols));
      const y1 = kernelFloats(n * rows);
      const y2 = kernelFloats(n * rows);
      atThreads(1, () => product(w, rows, cols, x, n, y1));
      const before = productStats().pooled;
      atThreads(2, () => product(w, rows, cols, x, n, y2));
      expect(productStats().pooled).toBe(before + 1);
      expect(Buffer.from(y2.buffer, y2.byteOffset, y2.byteLength).equals(Buffer.from(y1.buffer, y1.byteOffset, y1.byteLength))).toBe(true);
      // float32 sums of `cols` products of magnitude ≤ 1: relative error ≪ 1e-5 against float64
      for (let t = 0; t < n; t++) {
        for (let r = 0; r < rows; r++) {
          let s = 0;
          for (let c = 0; c < cols; c++) s += w[r * cols + c]! * x[t * cols + c]!;
          expect(Math.abs(y1[t * rows + r]! - s)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(s)));
        }
      }
    });
  }
});

describe.each([[48, 192], [130, 128]])('frozen weights [%i, %i] (one tile of 64 rows, and three with a partial one)', (rows, cols) => {
  const rnd = lcg(7 + rows);
  const w = randArray(rnd, rows * cols);

  test('frozenTranspose is the transpose (and the kept copy is returned again)', () => {
    const t = frozenTranspose(w, rows, cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expect(t[c * rows + r]).toBe(w[r * cols + c]);
    expect(frozenTranspose(w, rows, cols)).toBe(t);
  });

  test('NF4 decoded row-major and transposed equal dequantizeNf4 of src/tensor bit for bit', () => {
    const bytes = quantizeNf4(w);
    const ref = dequantizeNf4(bytes, rows * cols);
    expect(Array.from(nf4Floats(bytes, rows, cols))).toEqual(Array.from(ref));
    const t = nf4Transposed(bytes, rows, cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) expect(t[c * rows + r]).toBe(ref[r * cols + c]);
  });
});

/** Gradients of two forward/backward passes (different sequences) at `threads` threads, from zeroed grads. */
function grads(method: 'lora' | 'qlora' | 'full', threads: number): Float32Array[] {
  const model = createTrainableModel(randomModel(CONFIG, 11).bundle, { method, rank: 8, targets: ['q_proj', 'v_proj', 'down_proj'], seed: 3 });
  // B = 0 at initialisation would make LoRA's A gradient zero: give B values so every product matters
  for (const p of model.parameters()) if (p.name.includes('lora_B')) p.data.set(randArray(lcg(5), p.data.length, 0.1));
  return atThreads(threads, () => {
    model.zeroGrad();
    for (const len of [40, 23]) {
      const ids = Array.from({ length: len }, (_v, i) => (i * 37 + len) % CONFIG.vocab_size);
      const f = model.forward(ids);
      f.backward(randArray(lcg(len), f.logits.length, 0.01));
    }
    return model.parameters().map((p) => Float32Array.from(p.grad));
  });
}

describe('a training step does not depend on the thread count', () => {
  for (const method of ['lora', 'qlora', 'full'] as const) {
    test(`${method}: gradients at 2 threads equal those at 1 thread bit for bit, the pool used`, () => {
      const one = grads(method, 1);
      const before = productStats().pooled;
      const two = grads(method, 2);
      expect(productStats().pooled).toBeGreaterThan(before);
      expect(two.length).toBe(one.length);
      let nonzero = 0;
      two.forEach((g, i) => {
        const ref = one[i]!;
        expect(Buffer.from(g.buffer).equals(Buffer.from(ref.buffer))).toBe(true);
        nonzero += g.some((v) => v !== 0) ? 1 : 0;
      });
      expect(nonzero).toBe(one.length);
    });
  }
});

import { describe, expect, test } from 'vitest';
import { rmsnorm as rmsnormKernel } from '../../src/kernels/cpu/norm.js';
import { rope as ropeKernel } from '../../src/kernels/cpu/rope.js';
import { backInput, backWeight, matmulNT } from '../../src/train/autograd/linalg.js';
import { rmsnorm, rope } from '../../src/train/autograd/ops.js';
import { Tape, Var } from '../../src/train/autograd/tape.js';
import { createTrainableModel } from '../../src/train/model/index.js';
import { lcg, randArray } from '../property/train-grad-helpers.js';
import { randomModel } from './model-random.js';

/** Tape semantics and the product helpers against plain float64 loops. */

function naive(a: (i: number, j: number) => number, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = a(i, j);
  return out;
}

function maxRel(got: Float32Array, want: Float64Array): number {
  let m = 0;
  for (let i = 0; i < want.length; i++) m = Math.max(m, Math.abs(got[i]! - want[i]!) / Math.max(1, Math.abs(want[i]!)));
  return m;
}

describe('products (float32 SIMD sums vs float64 loops, relative 1e-5)', () => {
  for (const [n, rows, cols] of [[1, 3, 5], [7, 16, 32], [13, 40, 64], [5, 64, 12]] as const) {
    test(`n=${n}, [${rows}, ${cols}]: y = x·Wᵀ, dX += dY·W, dW += dYᵀ·X (accumulating)`, () => {
      const rnd = lcg(n * 100 + rows);
      const w = randArray(rnd, rows * cols);
      const x = randArray(rnd, n * cols);
      const dy = randArray(rnd, n * rows);
      const y = new Float32Array(n * rows);
      matmulNT(w, rows, cols, x, n, y, false, true);
      let s = 0;
      expect(maxRel(y, naive((t, r) => { s = 0; for (let c = 0; c < cols; c++) s += w[r * cols + c]! * x[t * cols + c]!; return s; }, n, rows))).toBeLessThan(1e-5);
      const dx = new Float32Array(n * cols).fill(1);
      backInput(w, rows, cols, dy, n, dx);
      expect(maxRel(dx, naive((t, c) => { s = 1; for (let r = 0; r < rows; r++) s += dy[t * rows + r]! * w[r * cols + c]!; return s; }, n, cols))).toBeLessThan(1e-5);
      const dw = new Float32Array(rows * cols).fill(2);
      backWeight(dy, x, n, rows, cols, dw);
      expect(maxRel(dw, naive((r, c) => { s = 2; for (let t = 0; t < n; t++) s += dy[t * rows + r]! * x[t * cols + c]!; return s; }, rows, cols))).toBeLessThan(1e-5);
    });
  }
});

describe('forward ops equal the inference kernels bit for bit', () => {
  test('rope (tables rounded as transformers) and rmsnorm', () => {
    const rnd = lcg(3);
    const n = 9, heads = 3, d = 16;
    const x = randArray(rnd, n * heads * d);
    const want = ropeKernel(Float32Array.from(x), n, heads, d, 0, 10000);
    expect(Array.from(rope(new Tape(false), new Var(x, false), n, heads, d, 10000).value)).toEqual(Array.from(want));
    const w = randArray(rnd, d, 0.2, 1);
    const y = rmsnormKernel(x, w, 1e-6, n * heads, d, new Float32Array(x.length));
    expect(Array.from(rmsnorm(new Tape(false), new Var(x, false), { data: w }, n * heads, d, 1e-6).value)).toEqual(Array.from(y));
  });
});

describe('tape semantics', () => {
  const config = { architecture: 'llama' as const, hidden_size: 64, num_layers: 1, num_heads: 2, num_kv_heads: 1, head_dim: 32, vocab_size: 30, intermediate_size: 64, rope_theta: 10000, rms_norm_eps: 1e-5, max_position_embeddings: 64, tie_word_embeddings: false, attention_bias: false };

  test('backward twice is an error; gradients accumulate over sequences until zeroGrad', () => {
    const m = createTrainableModel(randomModel(config, 2).bundle, { method: 'full' });
    const ids = [1, 2, 3, 4];
    const seed = new Float32Array(ids.length * 30).fill(0.01);
    const f = m.forward(ids);
    f.backward(seed);
    expect(() => f.backward(seed)).toThrow(/already/);
    const once = Float32Array.from(m.parameters()[0]!.grad);
    expect(once.some((g) => g !== 0)).toBe(true);
    m.forward(ids).backward(seed);
    const twice = m.parameters()[0]!.grad;
    for (let i = 0; i < once.length; i++) expect(twice[i]).toBeCloseTo(2 * once[i]!, 6);
    m.zeroGrad();
    expect(m.parameters().every((p) => p.grad.every((g) => g === 0))).toBe(true);
  });

  test('logits() records nothing and leaves gradients untouched; wrong seed length and bad ids are rejected', () => {
    const m = createTrainableModel(randomModel(config, 2).bundle, { method: 'lora', targets: ['q_proj'] });
    m.logits([5, 6]);
    expect(m.parameters().every((p) => p.grad.every((g) => g === 0))).toBe(true);
    expect(() => m.forward([1, 2]).backward(new Float32Array(3))).toThrow(/seed/);
    expect(() => m.logits([30])).toThrow(/token ids/);
    expect(() => createTrainableModel(randomModel(config, 2).bundle, { method: 'lora', targets: ['qproj'] })).toThrow(/qproj/);
  });
});

describe('training signal', () => {
  test('plain SGD on next-token cross-entropy lowers the loss of a sequence (LoRA and full)', () => {
    const config = { architecture: 'llama' as const, hidden_size: 64, num_layers: 2, num_heads: 4, num_kv_heads: 2, head_dim: 16, vocab_size: 40, intermediate_size: 96, rope_theta: 10000, rms_norm_eps: 1e-5, max_position_embeddings: 64, tie_word_embeddings: false, attention_bias: false };
    const ids = [3, 9, 27, 3, 9, 27, 3, 9, 27, 3, 9, 27];
    const V = config.vocab_size;
    /** Mean CE of ids[t+1] given ids[..t] and its gradient with respect to the logits. */
    const ce = (logits: Float32Array): { loss: number; d: Float32Array } => {
      const d = new Float32Array(logits.length);
      let loss = 0;
      const n = ids.length - 1;
      for (let t = 0; t < n; t++) {
        const row = logits.subarray(t * V, (t + 1) * V);
        const max = Math.max(...row);
        const sum = row.reduce((s, x) => s + Math.exp(x - max), 0);
        loss += (max + Math.log(sum) - row[ids[t + 1]!]!) / n;
        for (let i = 0; i < V; i++) d[t * V + i] = (Math.exp(row[i]! - max) / sum - (i === ids[t + 1] ? 1 : 0)) / n;
      }
      return { loss, d };
    };
    for (const method of ['lora', 'full'] as const) {
      const m = createTrainableModel(randomModel(config, 4).bundle, { method, rank: 4, alpha: 8, targets: ['q_proj', 'v_proj', 'up_proj'] });
      const first = ce(m.logits(ids)).loss;
      for (let step = 0; step < 15; step++) {
        m.zeroGrad();
        const f = m.forward(ids);
        f.backward(ce(f.logits).d);
        for (const p of m.parameters()) for (let i = 0; i < p.data.length; i++) p.data[i] = p.data[i]! - 0.05 * p.grad[i]!;
      }
      const last = ce(m.logits(ids)).loss;
      expect(last).toBeLessThan(0.8 * first);
    }
  });
});

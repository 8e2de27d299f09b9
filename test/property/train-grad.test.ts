import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { attention } from '../../src/train/autograd/attention.js';
import { embedding, linear, type LinearParams } from '../../src/train/autograd/linear.js';
import { add, logSoftmax, rmsnorm, rope, swiglu } from '../../src/train/autograd/ops.js';
import { quantizeNf4 } from '../../src/tensor/quant/nf4.js';
import { type Checked, gradCheck, lcg, leaf, param, randArray } from './train-grad-helpers.js';

/**
 * Every layer type of the trainable decoder against central finite differences (see train-grad-helpers.ts
 * for the protocol). Float32 forward passes with h = 1e-2 (1e-3 for RMSNorm): the measured worst relative error is a few 1e-3
 * (float32 rounding of L divided by 2h, plus the O(h²) truncation of smooth ops), so the tolerance is
 * |analytic − fd| ≤ 1e-3 + 3e-2·max(|analytic|, |fd|); a wrong factor, sign or index fails it by far.
 */
const TOL = { atol: 1e-3, rtol: 3e-2 };
const RUNS = { numRuns: 6 };

function expectClean(r: { failures: string[]; checked: number; worstRel: number; largest: number }): void {
  if (process.env["APR_GRAD_REPORT"]) process.stderr.write(`worst rel ${r.worstRel.toExponential(2)}\n`);
  expect(r.failures).toEqual([]);
  expect(r.checked).toBeGreaterThan(0);
  expect(r.largest).toBeGreaterThan(1e-3);
}

const dims = fc.record({ seed: fc.integer({ min: 1, max: 1 << 30 }), n: fc.integer({ min: 1, max: 6 }), inn: fc.integer({ min: 1, max: 12 }), out: fc.integer({ min: 1, max: 10 }) });

describe('[ob:grad-matches-finite-difference] per layer', () => {
  test('[ob:grad-matches-finite-difference] embedding (trainable table, repeated ids)', () => {
    fc.assert(fc.property(dims, ({ seed, n, out }) => {
      const rnd = lcg(seed);
      const vocab = 5;
      const table = { data: randArray(rnd, vocab * out), grad: new Float32Array(vocab * out) };
      const ids = Array.from({ length: n + 2 }, (_, i) => (i * 3 + seed) % vocab);
      const m = { kind: 'dense' as const, rows: vocab, cols: out, data: table.data, grad: table.grad };
      expectClean(gradCheck((tape) => embedding(tape, m, ids), [param('table', table)], { seed, perTensor: 10, ...TOL }));
    }), RUNS);
  });

  test('[ob:grad-matches-finite-difference] linear with bias: x, W, b', () => {
    fc.assert(fc.property(dims, ({ seed, n, inn, out }) => {
      const rnd = lcg(seed);
      const x = leaf('x', randArray(rnd, n * inn));
      const w = { data: randArray(rnd, out * inn, 0.5), grad: new Float32Array(out * inn) };
      const b = { data: randArray(rnd, out), grad: new Float32Array(out) };
      const p: LinearParams = { w: { kind: 'dense', rows: out, cols: inn, data: w.data, grad: w.grad }, bias: b };
      expectClean(gradCheck((tape) => linear(tape, x.v, n, p), [x.c, param('W', w), param('b', b)], { seed, ...TOL }));
    }), RUNS);
  });

  test('[ob:grad-matches-finite-difference] LoRA linear (frozen f32 and NF4 bases, B ≠ 0): x, A, B', () => {
    fc.assert(fc.property(dims, fc.integer({ min: 1, max: 4 }), fc.boolean(), ({ seed, n, out }, r, nf4) => {
      const rnd = lcg(seed);
      const inn = 64;
      const x = leaf('x', randArray(rnd, n * inn));
      const w0 = randArray(rnd, out * inn, 0.3);
      const a = { data: randArray(rnd, r * inn, 0.3), grad: new Float32Array(r * inn) };
      const b = { data: randArray(rnd, out * r, 0.3), grad: new Float32Array(out * r) };
      const w = nf4 ? { kind: 'nf4' as const, rows: out, cols: inn, bytes: quantizeNf4(w0) } : { kind: 'dense' as const, rows: out, cols: inn, data: w0 };
      const p: LinearParams = { w, lora: { r, scale: 2 / r, a: a.data, aGrad: a.grad, b: b.data, bGrad: b.grad } };
      expectClean(gradCheck((tape) => linear(tape, x.v, n, p), [x.c, param('A', a), param('B', b)], { seed, ...TOL }));
    }), RUNS);
  });

  test('[ob:grad-matches-finite-difference] rmsnorm: x and weight', () => {
    fc.assert(fc.property(dims, ({ seed, n, inn: i0 }) => {
      // dim ≥ 4 and a 1e-3 step: the norm is curved on the scale of the row's rms, which can be ~0.05 here
      const inn = i0 + 3;
      const rnd = lcg(seed);
      const x = leaf('x', randArray(rnd, n * inn));
      const w = { data: randArray(rnd, inn, 0.3, 1), grad: new Float32Array(inn) };
      expectClean(gradCheck((tape) => rmsnorm(tape, x.v, w, n, inn, 1e-5), [x.c, param('w', w)], { seed, h: 1e-3, ...TOL }));
    }), RUNS);
  });

  test('[ob:grad-matches-finite-difference] rope (rotate_half) at positions 0..n−1', () => {
    fc.assert(fc.property(dims, fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 4 }), ({ seed, n }, heads, half) => {
      const rnd = lcg(seed);
      const d = 2 * half;
      const x = leaf('x', randArray(rnd, (n + 3) * heads * d));
      expectClean(gradCheck((tape) => rope(tape, x.v, n + 3, heads, d, 10000), [x.c], { seed, perTensor: 10, ...TOL }));
    }), RUNS);
  });

  test('[ob:grad-matches-finite-difference] causal GQA attention: q, k, v', () => {
    fc.assert(fc.property(dims, fc.constantFrom([4, 2], [4, 1], [2, 2], [6, 3]), fc.constantFrom(4, 8), ({ seed, n }, [heads, kvHeads], d) => {
      const rnd = lcg(seed);
      const len = n + 3;
      const q = leaf('q', randArray(rnd, len * (heads as number) * d));
      const k = leaf('k', randArray(rnd, len * (kvHeads as number) * d));
      const v = leaf('v', randArray(rnd, len * (kvHeads as number) * d));
      const shape = { n: len, heads: heads as number, kvHeads: kvHeads as number, headDim: d };
      expectClean(gradCheck((tape) => attention(tape, q.v, k.v, v.v, shape), [q.c, k.c, v.c], { seed, perTensor: 8, ...TOL }));
    }), RUNS);
  });

  test('[ob:grad-matches-finite-difference] swiglu: gate and up', () => {
    fc.assert(fc.property(dims, ({ seed, n, inn }) => {
      const rnd = lcg(seed);
      const g = leaf('gate', randArray(rnd, n * inn, 3));
      const u = leaf('up', randArray(rnd, n * inn, 2));
      expectClean(gradCheck((tape) => swiglu(tape, g.v, u.v), [g.c, u.c], { seed, ...TOL }));
    }), RUNS);
  });

  test('[ob:grad-matches-finite-difference] log-softmax and add', () => {
    fc.assert(fc.property(dims, ({ seed, n, inn: i0 }) => {
      const inn = Math.max(2, i0); // a one-element softmax row is constant: nothing to check
      const rnd = lcg(seed);
      const a = leaf('a', randArray(rnd, n * inn, 3));
      const b = leaf('b', randArray(rnd, n * inn, 3));
      const checked: Checked[] = [a.c, b.c];
      expectClean(gradCheck((tape) => logSoftmax(tape, add(tape, a.v, b.v), n, inn), checked, { seed, ...TOL }));
    }), RUNS);
  });
});

describe('the finite-difference check itself', () => {
  test('[ob:grad-matches-finite-difference] a planted 5 % gradient error is caught', () => {
    const rnd = lcg(7);
    const x = leaf('x', randArray(rnd, 12));
    const report = gradCheck((tape) => {
      const out = Float32Array.from(x.v.value, (v) => v * v);
      return tape.output(out, true, (o) => {
        const dy = o.g();
        const dx = x.v.g();
        for (let i = 0; i < dx.length; i++) dx[i] = (dx[i] as number) + 1.05 * 2 * (x.v.value[i] as number) * (dy[i] as number);
      });
    }, [x.c], { seed: 7, perTensor: 12, ...TOL });
    expect(report.failures.length).toBeGreaterThan(6);
  });
});

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/model/rng.js';
import { magnitudePrune } from '../../src/train/prune/magnitude.js';
import { sparseGptPrune } from '../../src/train/prune/sparsegpt.js';
import { wandaPrune } from '../../src/train/prune/wanda.js';

/** A rows × cols matrix of distinct non-zero values (no magnitude ties), shuffled by a seed. */
const matrix = fc.record({ rows: fc.integer({ min: 1, max: 8 }), groups: fc.integer({ min: 1, max: 12 }), seed: fc.integer({ min: 0, max: 1 << 30 }) }).map(({ rows, groups, seed }) => {
  const cols = groups * 4;
  const rng = new Rng(seed);
  const n = rows * cols;
  const vals = Array.from({ length: n }, (_v, i) => (i + 1) / n);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [vals[i], vals[j]] = [vals[j] as number, vals[i] as number];
  }
  return { rows, cols, seed, w: Float32Array.from(vals, (v) => (rng.next() < 0.5 ? -v : v)) };
});
const ratio = fc.double({ min: 0, max: 0.95, noNaN: true });

function rowsOf(w: Float32Array, cols: number): Float32Array[] {
  return Array.from({ length: w.length / cols }, (_v, r) => w.subarray(r * cols, (r + 1) * cols));
}

/** Random inputs with strongly correlated columns (X = Z·A), as layer activations are. */
function correlatedInputs(tokens: number, cols: number, rng: Rng): Float64Array {
  const latent = 4;
  const a = Array.from({ length: latent * cols }, () => rng.next() * 2 - 1);
  const x = new Float64Array(tokens * cols);
  for (let t = 0; t < tokens; t++) {
    const z = Array.from({ length: latent }, () => rng.next() * 2 - 1);
    for (let c = 0; c < cols; c++) {
      let s = 0.05 * (rng.next() * 2 - 1);
      for (let k = 0; k < latent; k++) s += (z[k] as number) * (a[k * cols + c] as number);
      x[t * cols + c] = s;
    }
  }
  return x;
}

function gram(x: Float64Array, tokens: number, cols: number): Float64Array {
  const h = new Float64Array(cols * cols);
  for (let t = 0; t < tokens; t++) for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) h[i * cols + j] = (h[i * cols + j] as number) + (x[t * cols + i] as number) * (x[t * cols + j] as number);
  return h;
}

/** ‖X (W − Ŵ)ᵀ‖²_F: how much the layer's outputs on X change. */
function outputError(x: Float64Array, tokens: number, w: Float32Array, pruned: Float32Array, rows: number, cols: number): number {
  let e = 0;
  for (let t = 0; t < tokens; t++) {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += (x[t * cols + c] as number) * ((w[r * cols + c] as number) - (pruned[r * cols + c] as number));
      e += s * s;
    }
  }
  return e;
}

describe('magnitude pruning (prune-magnitude-v1)', () => {
  it('prunes no weight larger than a kept one in its row [ob:magnitude-order]', () => {
    fc.assert(fc.property(matrix, ratio, ({ rows, cols, w }, r) => {
      const out = magnitudePrune({ name: 't', w, rows, cols, ratio: r, group: 'row' });
      rowsOf(out, cols).forEach((row, i) => {
        const orig = rowsOf(w, cols)[i] as Float32Array;
        const pruned = Array.from(orig).filter((_v, j) => row[j] === 0).map(Math.abs);
        const kept = Array.from(orig).filter((_v, j) => row[j] !== 0).map(Math.abs);
        if (pruned.length && kept.length) expect(Math.max(...pruned)).toBeLessThanOrEqual(Math.min(...kept));
      });
    }));
  });
  it('prunes exactly ⌊r·n⌋ weights, per row or per tensor [ob:magnitude-exact-count]', () => {
    fc.assert(fc.property(matrix, ratio, fc.constantFrom('row' as const, 'tensor' as const), ({ rows, cols, w }, r, group) => {
      const out = magnitudePrune({ name: 't', w, rows, cols, ratio: r, group });
      expect(out.filter((v) => v === 0).length).toBe(Math.floor(r * rows * cols + 1e-9));
    }));
  });
  it('N:M leaves exactly N zeros, the smallest, in every group of M [ob:magnitude-nm]', () => {
    fc.assert(fc.property(matrix, fc.constantFrom({ n: 2, m: 4 }, { n: 1, m: 4 }, { n: 3, m: 4 }), ({ rows, cols, w }, pattern) => {
      const out = magnitudePrune({ name: 't', w, rows, cols, ratio: pattern.n / pattern.m, pattern, group: 'row' });
      for (let g = 0; g < w.length; g += pattern.m) {
        const idx = [...Array(pattern.m).keys()].map((i) => g + i);
        expect(idx.filter((i) => out[i] === 0)).toHaveLength(pattern.n);
        const smallest = [...idx].sort((a, b) => Math.abs(w[a] ?? 0) - Math.abs(w[b] ?? 0)).slice(0, pattern.n);
        for (const i of smallest) expect(out[i]).toBe(0);
      }
    }));
  });
});

describe('Wanda (prune-wanda-v1)', () => {
  it('prunes in each row the weights of lowest |W|·‖X‖ [ob:wanda-row-order]', () => {
    fc.assert(fc.property(matrix, ratio, fc.integer({ min: 0, max: 1 << 30 }), ({ rows, cols, w }, r, seed) => {
      const rng = new Rng(seed);
      const norms = Float64Array.from({ length: cols }, () => 0.1 + 10 * rng.next());
      const out = wandaPrune({ name: 't', w, rows, cols, ratio: r, inputNorms: norms });
      for (let i = 0; i < rows; i++) {
        const score = (j: number): number => Math.abs(w[i * cols + j] ?? 0) * (norms[j] ?? 0);
        const cs = [...Array(cols).keys()];
        const pruned = cs.filter((j) => out[i * cols + j] === 0).map(score);
        const kept = cs.filter((j) => out[i * cols + j] !== 0).map(score);
        if (pruned.length && kept.length) expect(Math.max(...pruned)).toBeLessThanOrEqual(Math.min(...kept));
        for (const j of cs) if (out[i * cols + j] !== 0) expect(out[i * cols + j]).toBe(w[i * cols + j]);
      }
    }));
  });
  it('with equal input norms is per-row magnitude pruning [ob:wanda-uniform-is-magnitude]', () => {
    fc.assert(fc.property(matrix, ratio, fc.double({ min: 0.01, max: 100, noNaN: true }), ({ rows, cols, w }, r, c) => {
      const wanda = wandaPrune({ name: 't', w, rows, cols, ratio: r, inputNorms: new Float64Array(cols).fill(c) });
      expect(Array.from(wanda)).toEqual(Array.from(magnitudePrune({ name: 't', w, rows, cols, ratio: r, group: 'row' })));
    }));
  });
});

describe('SparseGPT (prune-sparsegpt-v1)', () => {
  const params = fc.record({ rows: fc.integer({ min: 2, max: 12 }), groups: fc.integer({ min: 2, max: 10 }), seed: fc.integer({ min: 0, max: 1 << 30 }), r: fc.double({ min: 0.1, max: 0.9, noNaN: true }) });
  function setup(rows: number, cols: number, seed: number): { w: Float32Array; x: Float64Array; h: Float64Array; tokens: number } {
    const rng = new Rng(seed);
    const tokens = 4 * cols;
    const x = correlatedInputs(tokens, cols, rng);
    return { w: Float32Array.from({ length: rows * cols }, () => rng.next() * 2 - 1), x, h: gram(x, tokens, cols), tokens };
  }

  it('meets the target sparsity (±0.1 %) or the 2:4 pattern [ob:sparsegpt-sparsity]', () => {
    fc.assert(fc.property(params, fc.boolean(), ({ rows, groups, seed, r }, nm) => {
      const cols = groups * 4;
      const { w, h } = setup(rows, cols, seed);
      const out = sparseGptPrune({ name: 't', w, rows, cols, ratio: nm ? 0.5 : r, hessian: h, blockSize: 8, ...(nm ? { pattern: { n: 2, m: 4 } } : {}) });
      const zeros = out.filter((v) => v === 0).length;
      if (nm) for (let g = 0; g < out.length; g += 4) expect([0, 1, 2, 3].filter((i) => out[g + i] === 0).length).toBeGreaterThanOrEqual(2);
      else expect(Math.abs(zeros / out.length - r)).toBeLessThanOrEqual(1e-3 + 1 / out.length);
    }), { numRuns: 40 });
  });

  // SparseGPT is a greedy heuristic, not a theorem: on some tiny matrices (2 × 8, found by fast-check) its
  // per-row 50 % mask loses to magnitude's per-tensor mask. The paper's claim is about typical layers, so the
  // obligation is checked as a statistic over 40 seeded 8 × 32 layers: lower total output error, and a win on
  // most of them.
  it('reconstructs the layer outputs better than magnitude pruning on correlated inputs [ob:sparsegpt-reconstruction]', () => {
    let sgptTotal = 0;
    let magTotal = 0;
    let wins = 0;
    const runs = 40;
    for (let seed = 0; seed < runs; seed++) {
      const rows = 8;
      const cols = 32;
      const { w, x, h, tokens } = setup(rows, cols, seed);
      const sgpt = outputError(x, tokens, w, sparseGptPrune({ name: 't', w, rows, cols, ratio: 0.5, hessian: h }), rows, cols);
      const mag = outputError(x, tokens, w, magnitudePrune({ name: 't', w, rows, cols, ratio: 0.5, group: 'tensor' }), rows, cols);
      sgptTotal += sgpt;
      magTotal += mag;
      if (sgpt < mag) wins++;
    }
    expect(sgptTotal).toBeLessThan(magTotal);
    expect(wins).toBeGreaterThanOrEqual(Math.ceil(0.75 * runs));
  });

  it('with an identity Hessian makes no compensating updates and picks magnitude’s mask [ob:sparsegpt-identity-hessian]', () => {
    fc.assert(fc.property(matrix, ratio, ({ rows, cols, w }, r) => {
      const eye = new Float64Array(cols * cols);
      for (let i = 0; i < cols; i++) eye[i * cols + i] = 1;
      const out = sparseGptPrune({ name: 't', w, rows, cols, ratio: r, hessian: eye });
      expect(Array.from(out)).toEqual(Array.from(magnitudePrune({ name: 't', w, rows, cols, ratio: r, group: 'tensor' })));
    }));
  });
});

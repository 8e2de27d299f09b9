import { allFinite } from '../../contract/predicates.js';
import { defineContract } from '../../contract/index.js';

/**
 * Rotary position embedding in Hugging Face's rotate_half form: for i < d/2, with angle θ = pos · inv_freq[i]
 * and inv_freq[i] = 1 / theta^(2i/d):
 *   out[i]       = x[i] · cos θ − x[i + d/2] · sin θ
 *   out[i + d/2] = x[i + d/2] · cos θ + x[i] · sin θ
 * inv_freq, the angle, cos and sin are rounded to float32 as transformers computes them.
 */

interface RopeTable {
  half: number;
  invFreq: Float32Array;
  positions: number;
  cos: Float32Array;
  sin: Float32Array;
}

const tables = new Map<string, RopeTable>();
const fr = Math.fround;

function table(headDim: number, theta: number, positions: number): RopeTable {
  const key = `${headDim}:${theta}`;
  let t = tables.get(key);
  // Stryker disable next-line ConditionalExpression: rebuilding the table on every call recomputes the same float32 values (each depends only on p, i, headDim and theta)
  if (!t) {
    const half = headDim / 2;
    const invFreq = new Float32Array(half);
    // Stryker disable next-line EqualityOperator: invFreq holds half floats, so writing invFreq[half] stores nothing
    for (let i = 0; i < half; i++) invFreq[i] = fr(1 / fr(Math.pow(theta, fr((2 * i) / headDim))));
    t = { half, invFreq, positions: 0, cos: new Float32Array(0), sin: new Float32Array(0) };
    tables.set(key, t);
  }
  // Stryker disable next-line EqualityOperator: regrowing a table that already holds the positions recomputes the same values
  if (t.positions < positions) grow(t, Math.max(positions, 2 * t.positions, 256));
  return t;
}

function grow(t: RopeTable, positions: number): void {
  const { half, invFreq } = t;
  const cos = new Float32Array(positions * half);
  const sin = new Float32Array(positions * half);
  cos.set(t.cos);
  sin.set(t.sin);
  // Stryker disable next-line EqualityOperator: cos and sin hold positions·half floats, so the writes of row `positions` store nothing
  for (let p = t.positions; p < positions; p++) {
    // Stryker disable next-line EqualityOperator: the write for i = half lands on row p + 1, which the next iteration overwrites, or past the end for the last row
    for (let i = 0; i < half; i++) {
      const angle = fr(p * (invFreq[i] as number));
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  t.cos = cos;
  t.sin = sin;
  t.positions = positions;
}

interface RopeInput {
  x: Float32Array;
  n: number;
  heads: number;
  headDim: number;
  startPos: number;
  theta: number;
  rotaryDim: number;
}


export const ropeContract = defineContract<RopeInput, Float32Array>({
  id: 'kernel-rope-v1',
  equation: 'rope',
  spec: 'x[t, h, :r] ← x·cos(θ) + rotate_half(x)·sin(θ) over the first r = rotaryDim dims (the rest unchanged), θ_i = (startPos + t) / theta^(2i/r)',
  pre: [
    ['head dim even', ({ headDim }) => headDim >= 2 && headDim % 2 === 0],
    ['rotaryDim even, in [2, headDim]', ({ rotaryDim, headDim }) => Number.isInteger(rotaryDim) && rotaryDim >= 2 && rotaryDim % 2 === 0 && rotaryDim <= headDim],
    ['theta > 0', ({ theta }) => theta > 0],
    ['startPos ≥ 0', ({ startPos }) => Number.isInteger(startPos) && startPos >= 0],
    ['x holds n·heads·headDim floats', ({ x, n, heads, headDim }) => n >= 0 && x.length >= n * heads * headDim],
  ],
  post: [['finite output', ({ n, heads, headDim }, x) => allFinite(x, n * heads * headDim)]],
});

/**
 * Rotates rows x[t, heads, headDim] (position startPos + t) in place; only the first `rotaryDim` dimensions of
 * each head (partial rotary, as transformers' Phi-3 `rotary_ndims`), with frequencies over rotaryDim.
 */
export function rope(x: Float32Array, n: number, heads: number, headDim: number, startPos: number, theta: number, rotaryDim = headDim): Float32Array {
  return ropeContract.run({ x, n, heads, headDim, startPos, theta, rotaryDim }, () => {
    const t = table(rotaryDim, theta, startPos + n);
    const { half, cos, sin } = t;
    for (let r = 0; r < n; r++) {
      const c0 = (startPos + r) * half;
      for (let h = 0; h < heads; h++) {
        const o = (r * heads + h) * headDim;
        for (let i = 0; i < half; i++) {
          const a = x[o + i] as number;
          const b = x[o + i + half] as number;
          const c = cos[c0 + i] as number;
          const s = sin[c0 + i] as number;
          x[o + i] = a * c - b * s;
          x[o + i + half] = b * c + a * s;
        }
      }
    }
    return x;
  });
}

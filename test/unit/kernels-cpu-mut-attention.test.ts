/**
 * KV-cache writes and causal GQA attention (src/kernels/cpu/attention.ts) against a float64 reference written
 * here from the definition, on the edges the mutation run pointed at: startPos > 0, the last row, GQA head
 * mapping, odd head sizes, a stale cache past the current position, score ranges that overflow exp() without
 * the max subtraction, contexts past the 1024/2048 scratch sizes and headDim past 256, which code path
 * (TypeScript or WebAssembly SIMD) runs, and every pre/postcondition clause on its own.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { violatedClause } from '../helpers.js';
import { attention, attentionContract, kvStore, kvStoreContract } from '../../src/kernels/cpu/attention.js';
import { cpuBackend } from '../../src/kernels/cpu/index.js';
import { wasmKernels } from '../../src/kernels/cpu/wasm/runtime.js';
import type { AttentionShape } from '../../src/kernels/types.js';

/** Deterministic uniform values in [lo, hi). */
function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * (hi - lo);
  return out;
}

interface Case {
  heads: number;
  kvHeads: number;
  d: number;
  n: number;
  startPos: number;
  window?: number;
  softcap?: number;
  scale?: number;
}

/**
 * out[t, h] from the definition: query position p = startPos + t sees keys j with j ≤ p and p − j < window;
 * s_j = cap(σ·q·k_j); K, V given per position as [P][kvHeads][d]; head h reads KV group ⌊h·kvHeads/heads⌋.
 */
function reference(c: Case, q: Float32Array, k: Float32Array, v: Float32Array): Float64Array {
  const { heads, kvHeads, d, n, startPos } = c;
  const out = new Float64Array(n * heads * d);
  for (let t = 0; t < n; t++) for (let h = 0; h < heads; h++) {
    const p = startPos + t;
    const g = Math.floor((h * kvHeads) / heads);
    const vis: number[] = [];
    const s: number[] = [];
    for (let j = 0; j <= p; j++) {
      if (c.window !== undefined && p - j >= c.window) continue;
      let dot = 0;
      for (let i = 0; i < d; i++) dot += q[(t * heads + h) * d + i]! * k[(j * kvHeads + g) * d + i]!;
      let x = dot * (c.scale ?? 1 / Math.sqrt(d));
      if (c.softcap !== undefined) x = c.softcap * Math.tanh(x / c.softcap);
      vis.push(j);
      s.push(x);
    }
    const m = Math.max(...s);
    const e = s.map((x) => Math.exp(x - m));
    const z = e.reduce((a, b) => a + b, 0);
    for (let i = 0; i < d; i++) {
      let acc = 0;
      vis.forEach((j, r) => (acc += (e[r]! / z) * v[(j * kvHeads + g) * d + i]!));
      out[(t * heads + h) * d + i] = acc;
    }
  }
  return out;
}

/** The [kvHeads][capacity][d] cache of rows given per position, positions ≥ rows.length/(kvHeads·d) set to `fill`. */
function cacheOf(rows: Float32Array, kvHeads: number, capacity: number, d: number, fill = 0): Float32Array {
  const cache = new Float32Array(kvHeads * capacity * d).fill(fill);
  const positions = rows.length / (kvHeads * d);
  for (let j = 0; j < positions; j++) for (let g = 0; g < kvHeads; g++) for (let i = 0; i < d; i++) cache[(g * capacity + j) * d + i] = rows[(j * kvHeads + g) * d + i]!;
  return cache;
}

function shapeOf(c: Case, capacity: number): AttentionShape {
  return { n: c.n, startPos: c.startPos, heads: c.heads, kvHeads: c.kvHeads, headDim: c.d, capacity, window: c.window, softcap: c.softcap, scale: c.scale };
}

// |v| ≤ 1 and the weights sum to 1: the TypeScript form (float64 throughout, one float32 rounding) is within
// 2^-24 relative plus float64 noise; the SIMD form rounds scores and probabilities to float32 (≲ 1e-6 here).
const TOL_TS = 2e-7;
const TOL_SIMD = 4e-6;

function expectClose(got: Float32Array, want: Float64Array, tol: number): void {
  expect(got.length).toBeGreaterThanOrEqual(want.length);
  want.forEach((w, i) => {
    if (!(Math.abs(got[i]! - w) <= tol)) expect.fail(`out[${i}] = ${got[i]}, want ${w} (±${tol})`);
  });
}

const CASES: Case[] = [
  { heads: 1, kvHeads: 1, d: 1, n: 1, startPos: 0 },
  { heads: 6, kvHeads: 2, d: 3, n: 3, startPos: 4 },
  { heads: 4, kvHeads: 1, d: 5, n: 2, startPos: 7 },
  { heads: 3, kvHeads: 3, d: 4, n: 4, startPos: 0 },
  { heads: 8, kvHeads: 4, d: 2, n: 1, startPos: 9, window: 3, softcap: 2, scale: 0.3 },
  { heads: 4, kvHeads: 2, d: 7, n: 5, startPos: 2, window: 2, scale: 1.5 },
];

describe('attention, TypeScript form', () => {
  test('[ob:attention-definition] [ob:attention-gqa-indexing] equals the float64 definition; out past n·heads·headDim untouched', () => {
    CASES.forEach((c, ci) => {
      const P = c.startPos + c.n;
      const capacity = P + 2;
      const k = rand(P * c.kvHeads * c.d, 10 + ci);
      const v = rand(P * c.kvHeads * c.d, 20 + ci);
      const q = rand(c.n * c.heads * c.d, 30 + ci, -3, 3);
      const size = c.n * c.heads * c.d;
      const out = new Float32Array(size + c.heads * c.d).fill(7.25);
      attention(q, cacheOf(k, c.kvHeads, capacity, c.d), cacheOf(v, c.kvHeads, capacity, c.d), shapeOf(c, capacity), out);
      expectClose(out, reference(c, q, k, v), TOL_TS);
      expect(Array.from(out.subarray(size))).toEqual(Array(c.heads * c.d).fill(7.25));
    });
  });

  test('a stale cache past the current position is never read (huge keys, NaN values there)', () => {
    const c: Case = { heads: 2, kvHeads: 1, d: 3, n: 2, startPos: 3 };
    const P = c.startPos + c.n;
    const capacity = P + 3;
    const k = rand(P * c.d, 41);
    const v = rand(P * c.d, 42);
    const q = rand(c.n * c.heads * c.d, 43, 0.2, 1);
    // positions ≥ P hold what a previous, longer sequence left: keys aligned with every (positive) query
    const kc = cacheOf(k, 1, capacity, c.d, 1000);
    const vc = cacheOf(v, 1, capacity, c.d, Number.NaN);
    const out = attention(q, kc, vc, shapeOf(c, capacity), new Float32Array(c.n * c.heads * c.d));
    expectClose(out, reference(c, q, k, v), TOL_TS);
  });
});

/** Scores 566, 560, 0, −566 (the last, current key lowest): exp(s) or exp(s − s_last) overflows, exp(s − max) does not. */
function wideScores(d: number, onHeap: boolean) {
  const c: Case = { heads: 1, kvHeads: 1, d, n: 1, startPos: 3 };
  const k = new Float32Array(4 * d);
  [40, 39.6, 0, -40].forEach((x, j) => (k[j * d] = x));
  const v = rand(4 * d, 51);
  const q = new Float32Array(d);
  q[0] = 40;
  const put = (a: Float32Array): Float32Array => (onHeap ? cpuBackend.upload(a) : a);
  const out = attention(put(q), put(cacheOf(k, 1, 4, d)), put(cacheOf(v, 1, 4, d)), { ...shapeOf(c, 4), scale: 1 / Math.sqrt(8) }, put(new Float32Array(d)));
  return { out, want: reference({ ...c, scale: 1 / Math.sqrt(8) }, q, k, v) };
}

describe('softmax inside attention subtracts the largest score', () => {
  test('TypeScript form: scores ±566 stay finite and equal the definition', () => {
    const { out, want } = wideScores(2, false);
    expectClose(out, want, TOL_TS);
  });

  test('SIMD form: scores ±566 stay finite and equal the definition', () => {
    const { out, want } = wideScores(8, true);
    expectClose(out, want, TOL_SIMD);
  });
});

describe('which form runs', () => {
  afterEach(() => vi.restoreAllMocks());
  const k = wasmKernels;

  test('WebAssembly is available here (else the SIMD tests below test nothing)', () => {
    expect(k).toBeDefined();
  });

  test('[ob:attention-window-softcap-scale] kernel-memory buffers with headDim % 8 = 0: SIMD form, scratch for every visible score, equal to the definition', () => {
    const cases: Case[] = [
      { heads: 6, kvHeads: 2, d: 8, n: 3, startPos: 5 },
      { heads: 2, kvHeads: 1, d: 16, n: 4, startPos: 1, window: 3, softcap: 1.5 },
      { heads: 4, kvHeads: 4, d: 8, n: 1, startPos: 0, scale: 0.6 },
    ];
    cases.forEach((c, ci) => {
      const P = c.startPos + c.n;
      const capacity = P + 1;
      const kr = rand(P * c.kvHeads * c.d, 60 + ci);
      const vr = rand(P * c.kvHeads * c.d, 70 + ci);
      const q = rand(c.n * c.heads * c.d, 80 + ci);
      const spy = vi.spyOn(k!, 'scratch');
      const out = attention(cpuBackend.upload(q), cpuBackend.upload(cacheOf(kr, c.kvHeads, capacity, c.d)), cpuBackend.upload(cacheOf(vr, c.kvHeads, capacity, c.d)), shapeOf(c, capacity), cpuBackend.alloc(c.n * c.heads * c.d));
      expectClose(out, reference(c, q, kr, vr), TOL_SIMD);
      // one scratch request per (row, head), each large enough for that row's visible float32 scores
      expect(spy).toHaveBeenCalledTimes(c.n * c.heads);
      spy.mock.calls.forEach(([bytes], call) => {
        const p = c.startPos + Math.floor(call / c.heads);
        const visible = c.window === undefined ? p + 1 : Math.min(p + 1, c.window);
        expect(bytes).toBeGreaterThanOrEqual(4 * visible);
      });
      spy.mockRestore();
    });
  });

  test('headDim 4 in kernel memory, or a plain output buffer: TypeScript form (no scratch), still the definition', () => {
    const c: Case = { heads: 2, kvHeads: 1, d: 4, n: 2, startPos: 1 };
    const kr = rand(3 * c.d, 91);
    const vr = rand(3 * c.d, 92);
    const q = rand(c.n * c.heads * c.d, 93);
    const spy = vi.spyOn(k!, 'scratch');
    const up = (a: Float32Array): Float32Array => cpuBackend.upload(a);
    const out = attention(up(q), up(cacheOf(kr, 1, 3, 4)), up(cacheOf(vr, 1, 3, 4)), shapeOf(c, 3), cpuBackend.alloc(16));
    expectClose(out, reference(c, q, kr, vr), TOL_TS);
    const c8: Case = { ...c, d: 8 };
    const kr8 = rand(3 * 8, 94);
    const vr8 = rand(3 * 8, 95);
    const q8 = rand(32, 96);
    const plainOut = attention(up(q8), up(cacheOf(kr8, 1, 3, 8)), up(cacheOf(vr8, 1, 3, 8)), shapeOf(c8, 3), new Float32Array(32));
    expectClose(plainOut, reference(c8, q8, kr8, vr8), TOL_TS);
    expect(spy).not.toHaveBeenCalled();
  });
});

describe('a fresh module without WebAssembly (APR_KERNELS=js)', () => {
  test('long contexts grow the score buffer (past 1024, then past 2048 at once), headDim 264 grows the accumulator', async () => {
    vi.resetModules();
    process.env['APR_KERNELS'] = 'js';
    const fresh = await import('../../src/kernels/cpu/attention.js').finally(() => delete process.env['APR_KERNELS']);
    // headDim 8 on plain arrays: the form that would be SIMD if WebAssembly were there
    const small: Case = { heads: 2, kvHeads: 1, d: 8, n: 2, startPos: 1 };
    const [ks, vs, qs] = [rand(24, 1), rand(24, 2), rand(32, 3)];
    expectClose(fresh.attention(qs, cacheOf(ks, 1, 3, 8), cacheOf(vs, 1, 3, 8), shapeOf(small, 3), new Float32Array(32)), reference(small, qs, ks, vs), TOL_TS);
    // 1100 rows from position 200 in one call (positions up to 1299): every row, the last included
    const long: Case = { heads: 1, kvHeads: 1, d: 2, n: 1100, startPos: 200 };
    const [kl, vl, ql] = [rand(1300 * 2, 4), rand(1300 * 2, 5), rand(1100 * 2, 6)];
    expectClose(fresh.attention(ql, cacheOf(kl, 1, 1300, 2), cacheOf(vl, 1, 1300, 2), shapeOf(long, 1300), new Float32Array(2200)), reference(long, ql, kl, vl), TOL_TS);
    // then one row at position 4200: more than twice the buffer grown above
    const far: Case = { heads: 2, kvHeads: 1, d: 2, n: 1, startPos: 4200 };
    const [kf, vf, qf] = [rand(4201 * 2, 7), rand(4201 * 2, 8), rand(4, 9)];
    expectClose(fresh.attention(qf, cacheOf(kf, 1, 4201, 2), cacheOf(vf, 1, 4201, 2), shapeOf(far, 4201), new Float32Array(4)), reference(far, qf, kf, vf), TOL_TS);
    const wide: Case = { heads: 1, kvHeads: 1, d: 264, n: 2, startPos: 1 };
    const [kw, vw, qw] = [rand(3 * 264, 10), rand(3 * 264, 11), rand(2 * 264, 12, -0.1, 0.1)];
    expectClose(fresh.attention(qw, cacheOf(kw, 1, 3, 264), cacheOf(vw, 1, 3, 264), shapeOf(wide, 3), new Float32Array(2 * 264)), reference(wide, qw, kw, vw), TOL_TS);
  });
});

describe('kvStore', () => {
  test('[ob:kv-store-layout] rows land at [g][startPos + t][:]; a longer src does not spill row n into the cache', () => {
    const [n, kvHeads, d, startPos, capacity] = [2, 3, 2, 1, 5];
    const src = rand((n + 1) * kvHeads * d, 5);
    const cache = kvStore(new Float32Array(kvHeads * capacity * d).fill(-9), src, n, kvHeads, d, startPos, capacity);
    for (let g = 0; g < kvHeads; g++) for (let j = 0; j < capacity; j++) for (let i = 0; i < d; i++) {
      const t = j - startPos;
      expect(cache[(g * capacity + j) * d + i]).toBe(t >= 0 && t < n ? src[(t * kvHeads + g) * d + i] : -9);
    }
  });

  test('preconditions, each clause on its own', () => {
    const pre = (o: Partial<{ cache: Float32Array; src: Float32Array; n: number; kvHeads: number; headDim: number; startPos: number; capacity: number }>): string =>
      violatedClause(() => kvStoreContract.checkPre({ cache: new Float32Array(2 * 4 * 3), src: new Float32Array(2 * 2 * 3), n: 2, kvHeads: 2, headDim: 3, startPos: 2, capacity: 4, ...o }));
    expect(pre({})).toBe('none');
    for (const startPos of [1.5, -1, 3]) expect(pre({ startPos })).toBe('positions fit the capacity');
    expect(pre({ cache: new Float32Array(23) })).toBe('cache holds kvHeads·capacity·headDim floats');
    expect(pre({ src: new Float32Array(11) })).toBe('src holds n·kvHeads·headDim floats');
  });
});

describe('attention contract clauses', () => {
  // n 2, heads 4, kvHeads 2, headDim 3, capacity 5: q/out 24 floats, caches 30
  const base = { q: new Float32Array(24), kCache: new Float32Array(30), vCache: new Float32Array(30), out: new Float32Array(24) };
  const s0: AttentionShape = { n: 2, startPos: 3, heads: 4, kvHeads: 2, headDim: 3, capacity: 5 };
  const pre = (shape: Partial<AttentionShape>, bufs: Partial<typeof base> = {}): string => violatedClause(() => attentionContract.checkPre({ ...base, ...bufs, shape: { ...s0, ...shape } }));

  test('preconditions, each clause on its own', () => {
    expect(pre({})).toBe('none');
    expect(pre({ window: 1, softcap: 0.5, scale: 2 })).toBe('none');
    for (const kvHeads of [3, -2]) expect(pre({ kvHeads })).toBe('heads divisible by kvHeads');
    for (const startPos of [-1, 4]) expect(pre({ startPos })).toBe('positions fit the capacity');
    for (const b of [{ q: new Float32Array(23) }, { out: new Float32Array(23) }]) expect(pre({}, b)).toBe('q and out hold n·heads·headDim floats');
    for (const b of [{ kCache: new Float32Array(29) }, { vCache: new Float32Array(29) }]) expect(pre({}, b)).toBe('caches hold kvHeads·capacity·headDim floats');
    for (const o of [{ window: 0 }, { window: 1.5 }, { softcap: 0 }, { scale: -1 }, { scale: Number.POSITIVE_INFINITY }, { softcap: Number.NaN }, { softcap: 1, scale: 0 }]) {
      expect(pre(o)).toBe('window, softcap and scale positive when given');
    }
  });

  test('postcondition: every one of the n·heads·headDim outputs finite', () => {
    const post = (i: number): string => {
      const out = new Float32Array(25);
      out[i] = Number.NaN;
      return violatedClause(() => attentionContract.checkPost({ ...base, shape: s0 }, out));
    };
    expect(post(24)).toBe('none');
    expect(post(23)).toBe('finite output');
  });
});

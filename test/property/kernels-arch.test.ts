/**
 * The kernel options the newer architectures need (src/tensor/arch.ts): sliding-window, soft-capped and
 * rescaled attention (Mistral, Gemma), partial RoPE (Phi-3), the GELU-tanh gate, scaling and soft-capping
 * (Gemma) — each against an independent float64 computation written here from its definition.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { attention, cpuBackend, geglu, kvStore, rope, scale, softcap } from '../../src/kernels/cpu/index.js';
import type { AttentionShape } from '../../src/kernels/types.js';
import { randomF32 } from './kernels-helpers.js';

interface Opts {
  window?: number;
  softcap?: number;
  scale?: number;
}

/** Attention from the definition: key j visible from query p iff j ≤ p and p − j < window; s = cap(σ·q·k). */
function naive(q: Float32Array, k: Float32Array, v: Float32Array, total: number, heads: number, kvHeads: number, d: number, o: Opts): Float64Array {
  const out = new Float64Array(total * heads * d);
  for (let p = 0; p < total; p++) for (let h = 0; h < heads; h++) {
    const g = Math.floor((h * kvHeads) / heads);
    const w: number[] = [];
    for (let j = 0; j < total; j++) {
      let s = 0;
      for (let i = 0; i < d; i++) s += q[(p * heads + h) * d + i]! * k[(j * kvHeads + g) * d + i]!;
      s *= o.scale ?? 1 / Math.sqrt(d);
      if (o.softcap !== undefined) s = o.softcap * Math.tanh(s / o.softcap);
      const visible = j <= p && (o.window === undefined || p - j < o.window);
      w.push(visible ? s : -Infinity);
    }
    const m = Math.max(...w);
    const e = w.map((s) => Math.exp(s - m));
    const z = e.reduce((a, b) => a + b, 0);
    for (let i = 0; i < d; i++) out[(p * heads + h) * d + i] = e.reduce((acc, ej, j) => acc + (ej / z) * v[(j * kvHeads + g) * d + i]!, 0);
  }
  return out;
}

const cases = fc.record({
  kvHeads: fc.integer({ min: 1, max: 2 }),
  group: fc.integer({ min: 1, max: 3 }),
  d: fc.constantFrom(4, 8, 16),
  total: fc.integer({ min: 1, max: 14 }),
  window: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
  softcap: fc.option(fc.constantFrom(0.5, 2, 30), { nil: undefined }),
  scale: fc.option(fc.constantFrom(0.1, 0.25, 1.7), { nil: undefined }),
  simd: fc.boolean(),
  seed: fc.integer(),
});

type Case = typeof cases extends fc.Arbitrary<infer T> ? T : never;

/** Buffers in the kernel memory (`simd`: the WebAssembly path when headDim % 8 = 0) or plain arrays. */
function buffers(c: Case) {
  const heads = c.kvHeads * c.group;
  const buf = (data: Float32Array): Float32Array => (c.simd ? cpuBackend.upload(data) : Float32Array.from(data));
  const kRows = randomF32(c.total * c.kvHeads * c.d, c.seed);
  const vRows = randomF32(c.total * c.kvHeads * c.d, c.seed + 1);
  const q = buf(randomF32(c.total * heads * c.d, c.seed + 2).map((x) => 3 * x));
  const kc = buf(new Float32Array(c.kvHeads * c.total * c.d));
  const vc = buf(new Float32Array(c.kvHeads * c.total * c.d));
  kvStore(kc, kRows, c.total, c.kvHeads, c.d, 0, c.total);
  kvStore(vc, vRows, c.total, c.kvHeads, c.d, 0, c.total);
  const shape: AttentionShape = { n: c.total, startPos: 0, heads, kvHeads: c.kvHeads, headDim: c.d, capacity: c.total, window: c.window, softcap: c.softcap, scale: c.scale };
  const alloc = (length: number): Float32Array => buf(new Float32Array(length));
  return { heads, kRows, vRows, q, kc, vc, shape, out: alloc(c.total * heads * c.d), alloc };
}

describe('attention options', () => {
  test('[ob:attention-window-softcap-scale] window, soft-cap and scale equal the float64 definition (TypeScript and SIMD paths)', () => {
    fc.assert(fc.property(cases, (c) => {
      const b = buffers(c);
      const got = attention(b.q, b.kc, b.vc, b.shape, b.out);
      const ref = naive(b.q, b.kRows, b.vRows, c.total, b.heads, c.kvHeads, c.d, c);
      // float64 path: ≤ 1e-6; SIMD path: float32 scores and weighted sums over ≤ 14 terms of |v| ≤ 1 (≤ 2e-6 measured)
      ref.forEach((v, i) => expect(Math.abs(got[i]! - v)).toBeLessThanOrEqual(1e-5));
    }), { numRuns: 150 });
  });

  test('[ob:attention-window-batch-invariant] with the options, a batched call equals one-row calls bit for bit', () => {
    fc.assert(fc.property(cases, (c) => {
      const b = buffers(c);
      const row = b.heads * c.d;
      const batched = Float32Array.from(attention(b.q, b.kc, b.vc, b.shape, b.out));
      for (let t = 0; t < c.total; t++) {
        const one = attention(b.q.subarray(t * row, (t + 1) * row), b.kc, b.vc, { ...b.shape, n: 1, startPos: t }, b.alloc(row));
        expect(Array.from(one)).toEqual(Array.from(batched.subarray(t * row, (t + 1) * row)));
      }
    }), { numRuns: 60 });
  });

  test('[ob:attention-window-softcap-scale] a window of at least the sequence length changes nothing', () => {
    const c: Case = { kvHeads: 2, group: 2, d: 8, total: 9, window: undefined, softcap: undefined, scale: undefined, simd: true, seed: 7 };
    const b = buffers(c);
    const full = Float32Array.from(attention(b.q, b.kc, b.vc, b.shape, b.out));
    expect(Array.from(attention(b.q, b.kc, b.vc, { ...b.shape, window: 9 }, b.alloc(full.length)))).toEqual(Array.from(full));
  });
});

describe('partial RoPE', () => {
  test('[ob:rope-partial] rotaryDim r < d: the first r dims of each head are RoPE over r dims, the rest unchanged', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 200 }), fc.integer(), (halfRot, extra, heads, startPos, seed) => {
      const r = 2 * halfRot;
      const d = r + 2 * extra;
      const n = 2;
      const x = randomF32(n * heads * d, seed);
      const orig = Float32Array.from(x);
      rope(x, n, heads, d, startPos, 10000, r);
      for (let t = 0; t < n; t++) for (let h = 0; h < heads; h++) {
        const o = (t * heads + h) * d;
        const head = orig.slice(o, o + r);
        rope(head, 1, 1, r, startPos + t, 10000);
        expect(Array.from(x.subarray(o, o + r))).toEqual(Array.from(head));
        expect(Array.from(x.subarray(o + r, o + d))).toEqual(Array.from(orig.subarray(o + r, o + d)));
      }
    }), { numRuns: 100 });
  });
});

describe('GELU-tanh gate, scale, soft-cap', () => {
  const values = fc.array(fc.oneof(fc.float({ min: -8, max: 8, noNaN: true }), fc.constantFrom(-40, -30, -10, 0, 10, 30, 40)), { minLength: 1, maxLength: 64 });

  test('[ob:geglu-definition] geglu equals ½g(1 + tanh(√(2/π)(g + 0.044715g³)))·u to one float32 rounding', () => {
    fc.assert(fc.property(values, fc.integer(), (g, seed) => {
      const gate = Float32Array.from(g);
      const up = randomF32(g.length, seed);
      const out = geglu(gate, up, g.length, new Float32Array(g.length));
      g.forEach((_x, i) => {
        const x = gate[i]!;
        const ref = 0.5 * x * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3))) * up[i]!;
        expect(Number.isFinite(out[i]!)).toBe(true);
        expect(Math.abs(out[i]! - ref)).toBeLessThanOrEqual(Math.abs(ref) * 2 ** -23 + 1e-30);
      });
    }), { numRuns: 200 });
  });

  test('[ob:scale-definition] scale writes float32(s·x) in place', () => {
    fc.assert(fc.property(values, fc.double({ min: -100, max: 100, noNaN: true }), (vals, s) => {
      const x = Float32Array.from(vals);
      const want = Array.from(x, (v) => Math.fround(v * s));
      expect(Array.from(scale(x, x.length, s))).toEqual(want);
    }), { numRuns: 200 });
  });

  test('[ob:softcap-definition] softcap equals c·tanh(x/c) to one float32 rounding, bounded by c and monotone', () => {
    fc.assert(fc.property(fc.array(fc.float({ min: -1e4, max: 1e4, noNaN: true }), { minLength: 1, maxLength: 64 }), fc.constantFrom(0.5, 5, 30, 50), (vals, c) => {
      const sorted = Float32Array.from(vals).sort();
      const x = Float32Array.from(sorted);
      softcap(x, x.length, c);
      sorted.forEach((v, i) => {
        const ref = c * Math.tanh(v / c);
        expect(Math.abs(x[i]! - ref)).toBeLessThanOrEqual(Math.abs(ref) * 2 ** -24 + 1e-45);
        expect(Math.abs(x[i]!)).toBeLessThanOrEqual(c);
        if (i > 0) expect(x[i]!).toBeGreaterThanOrEqual(x[i - 1]!);
      });
    }), { numRuns: 200 });
  });
});

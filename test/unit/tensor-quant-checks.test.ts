/**
 * The quantizer contracts' building blocks as guards (each refuses what breaks it, at the boundary its statement
 * draws), the encode/decode dispatch, and the lazy converted tensors of a quantized bundle.
 */
import { describe, expect, it } from 'vitest';
import type { ModelBundle } from '../../src/tensor/bundle.js';
import { absMax, finiteWithin, imatrixRows, withinBlockBound } from '../../src/tensor/quant/checks.js';
import { canDecode, canEncode, decode, encode } from '../../src/tensor/quant/index.js';
import { affineWithin, quantizeQ4_1 } from '../../src/tensor/quant/legacy.js';
import { convertedRef, quantizedBundle, type QuantPlan } from '../../src/tensor/quant/model.js';
import { weightedWithin } from '../../src/tensor/quant/weighted.js';
import { MemoryTensorStore } from '../../src/tensor/store.js';

const holds = (clause: readonly [string, (x: Float32Array) => boolean], ...v: number[]): boolean => clause[1](Float32Array.from(v));

/** Deterministic values in (−1, 1) (an LCG). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 31 - 1);
}

describe('contract clauses', () => {
  it('finiteWithin: every value, |x| ≤ limit inclusive, no NaN or infinity', () => {
    const c = finiteWithin(4);
    expect(holds(c, 1, -4, 4)).toBe(true);
    expect(holds(c, 1, 2, 4.5)).toBe(false);
    expect(holds(c, 1, 2, Number.NaN)).toBe(false);
    expect(holds(c, Number.NEGATIVE_INFINITY)).toBe(false);
    expect(c[0]).toBe('finite values with |x| ≤ 4');
  });

  it('withinBlockBound: every element of every block against its own block\'s bound, inclusive', () => {
    const x = Float32Array.of(0, 0, 0, 0, 0, 0);
    const bounds = [0.5, 0.25, 1];
    const seen: number[] = [];
    const bound = (b: number): number => (seen.push(b), bounds[b]!);
    expect(withinBlockBound(x, Float32Array.of(0.5, -0.5, 0.25, 0.25, 1, -1), 2, bound)).toBe(true);
    expect(seen).toEqual([0, 1, 2]);
    expect(withinBlockBound(x, Float32Array.of(0, 0, 0, 0.5, 0, 0), 2, bound)).toBe(false);
    expect(withinBlockBound(x, Float32Array.of(0, 0, 0, 0, 0, -1.5), 2, bound)).toBe(false);
    expect(withinBlockBound(x, Float32Array.of(0, 0, 0, 0, 0, Number.NaN), 2, bound)).toBe(false);
  });

  it('imatrixRows: none is fine; else finite, ≥ 0, whole blocks, dividing the values into rows', () => {
    const [, ok] = imatrixRows(2);
    const x = new Float32Array(8);
    const w = (...v: number[]): Float32Array => Float32Array.from(v);
    expect(ok({ x })).toBe(true);
    expect(ok({ x, imatrix: w(1, 0, 2, 3) })).toBe(true);
    expect(ok({ x, imatrix: w() })).toBe(false);
    expect(ok({ x, imatrix: w(1, 2, 3) })).toBe(false);
    expect(ok({ x: new Float32Array(6), imatrix: w(1, 2, 3, 4) })).toBe(false);
    expect(ok({ x, imatrix: w(1, -1, 2, 3) })).toBe(false);
    expect(ok({ x, imatrix: w(1, Number.NaN, 2, 3) })).toBe(false);
    expect(ok({ x, imatrix: w(1, Number.POSITIVE_INFINITY, 2, 3) })).toBe(false);
  });

  it('absMax reads exactly x[from, from + n)', () => {
    const x = Float32Array.of(9, -2, 3, -9);
    expect(absMax(x, 1, 2)).toBe(3);
    expect(absMax(x, 0, 4)).toBe(9);
  });

  it('the Q4_1 and weighted bounds accept the real encoding and refuse one element moved by a step', () => {
    const x = values(64, 3);
    const bytes = quantizeQ4_1(x);
    expect(affineWithin('Q4_1', x, bytes)).toBe(true);
    const imatrix = Float32Array.from({ length: 32 }, (_v, i) => 1 + (i % 5));
    expect(weightedWithin('Q4_1', x, imatrix, bytes)).toBe(true);
    // block 1, element 0: its nibble +8 levels (or −8), far beyond d/2 + rounding slack
    const bad = Uint8Array.from(bytes);
    bad[20 + 4] = (bad[20 + 4]! & 0xf0) | (((bad[20 + 4]! & 0xf) + 8) & 0xf);
    expect(affineWithin('Q4_1', x, bad)).toBe(false);
    expect(weightedWithin('Q4_1', x, Float32Array.from({ length: 32 }, () => 1), bad)).toBe(false);
  });
});

describe('encode / decode dispatch', () => {
  it('knows which dtypes it can encode and decode', () => {
    for (const d of ['NF4', 'APR_Q8', 'APR_Q4', 'Q4_K', 'IQ2_XXS', 'F16'] as const) expect(canDecode(d)).toBe(true);
    expect(canDecode('I32')).toBe(false);
    expect(canEncode('Q8_0')).toBe(true);
    expect(canEncode('IQ2_XXS')).toBe(false);
    expect(() => encode('IQ2_XXS', new Float32Array(256))).toThrow('no encoder for dtype IQ2_XXS');
  });

  it('F32: encodes the raw little-endian floats; decodes them as a view when aligned, a copy when not, or into `out`', () => {
    const v = Float32Array.of(1.5, -2.25, 3e-8, 7);
    const raw = encode('F32', v);
    expect(raw).toHaveLength(16);
    expect(Array.from(new Float32Array(raw.buffer))).toEqual(Array.from(v));
    const view = decode('F32', raw, 4);
    expect(view.buffer).toBe(raw.buffer);
    const shifted = new Uint8Array(17);
    shifted.set(raw, 1);
    const copy = decode('F32', shifted.subarray(1), 4);
    expect(Array.from(copy)).toEqual(Array.from(v));
    const out = new Float32Array(6).fill(9);
    expect(decode('F32', raw, 4, out)).toBe(out);
    expect(Array.from(out)).toEqual([...Array.from(v), 9, 9]);
  });

  it('decode fills a given output for the extra dtypes as well', () => {
    const v = values(64, 9);
    const out = new Float32Array(64);
    expect(decode('NF4', encode('NF4', v), 64, out)).toBe(out);
    expect(out.some((x) => x !== 0)).toBe(true);
  });
});

describe('converted tensors', () => {
  const x = values(64, 5);
  const store = new MemoryTensorStore();
  store.add('a.weight', 'F32', [2, 32], encode('F32', x));
  store.add('b.weight', 'F32', [64], encode('F32', x));
  store.add('c.weight', 'F32', [64], encode('F32', x));

  it('convertedRef: the target dtype, shape and byte size; read() encodes (or passes the bytes through) and reports', () => {
    const reads: [string, number][] = [];
    const ref = convertedRef(store.get('a.weight')!, 'Q8_0', (name, n) => reads.push([name, n]));
    expect(ref).toMatchObject({ name: 'a.weight', dtype: 'Q8_0', shape: [2, 32], byteLength: 68 });
    expect(Array.from(ref.read())).toEqual(Array.from(encode('Q8_0', x)));
    expect(reads).toEqual([['a.weight', 64]]);
    const same = convertedRef(store.get('b.weight')!, 'F32');
    expect(same.read()).toBe(store.get('b.weight')!.read());
    const imatrix = Float32Array.from({ length: 32 }, (_v, i) => (i % 3) + 0.5);
    expect(Array.from(convertedRef(store.get('a.weight')!, 'Q4_0', undefined, imatrix).read())).toEqual(Array.from(encode('Q4_0', x, imatrix)));
  });

  it('quantizedBundle: the planned tensors only, each converted with its own importance weights; close closes the source', () => {
    let closed = 0;
    const bundle = { config: {}, tensors: { names: () => store.names(), get: (n: string) => store.get(n), close: () => void closed++ } } as unknown as ModelBundle;
    const plan = { entries: [{ name: 'a.weight', to: 'Q8_0' }, { name: 'b.weight', to: 'Q4_0' }, { name: 'missing', to: 'Q8_0' }] } as unknown as QuantPlan;
    const asked: string[] = [];
    const out = quantizedBundle(bundle, plan, undefined, (n) => (asked.push(n), undefined));
    expect(out.tensors.names()).toEqual(['a.weight', 'b.weight']);
    expect(asked).toEqual(['a.weight', 'b.weight']);
    expect(out.tensors.get('b.weight')!.dtype).toBe('Q4_0');
    expect(Array.from(out.tensors.get('b.weight')!.read())).toEqual(Array.from(encode('Q4_0', x)));
    out.tensors.close();
    expect(closed).toBe(1);
  });
});

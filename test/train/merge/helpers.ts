import fc from 'fast-check';
import { expect } from 'vitest';
import type { ParamValues, TensorJob } from '../../../src/train/merge/method.js';

/** A merge job on small tensors (the shape defaults to one row). */
export function job(base: Float32Array | undefined, inputs: Float32Array[], params: ParamValues, modelParams: ParamValues[], opts: { shape?: number[]; seed?: number; baseParams?: ParamValues } = {}): TensorJob {
  const n = (base ?? inputs[0])?.length ?? 0;
  return {
    name: 'model.layers.0.mlp.up_proj.weight',
    shape: opts.shape ?? [1, n],
    base,
    inputs,
    params,
    modelParams,
    seed: opts.seed ?? 0,
    ...(opts.baseParams ? { baseParams: opts.baseParams } : {}),
  };
}

export const f32 = (xs: number[]): Float32Array => Float32Array.from(xs);
export const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
export const norm = (a: ArrayLike<number>): number => Math.sqrt(Array.from(a).reduce((s, x) => s + x * x, 0));

/**
 * The merged float32 tensor against a float64 reference computed in the test: the method rounds once to
 * float32 (half an ulp, ≤ 2^-24 relative), and the reference's own float64 summation order differs from the
 * method's (≤ 1e-12 absolute for entries of order 1); 2^-23 relative leaves a factor two of margin.
 */
export function expectClose(out: Float32Array, ref: ArrayLike<number>): void {
  expect(out.length).toBe(ref.length);
  out.forEach((o, i) => {
    const r = ref[i] as number;
    expect(Math.abs(o - r), `entry ${i}: ${o} vs ${r}`).toBeLessThanOrEqual(2 ** -23 * Math.abs(r) + 1e-12);
  });
}

const finite = { noNaN: true, noDefaultInfinity: true, min: -100, max: 100 } as const;
/** float32 vectors of length n, −0 included. */
export const vec = (n: number): fc.Arbitrary<Float32Array> => fc.float32Array({ ...finite, minLength: n, maxLength: n });
/** Vectors of distinct non-zero magnitudes (no ties in magnitude orders). */
export const distinct = (n: number): fc.Arbitrary<Float32Array> =>
  fc.uniqueArray(fc.integer({ min: 1, max: 100_000 }), { minLength: n, maxLength: n }).chain((mags) =>
    fc.array(fc.boolean(), { minLength: n, maxLength: n }).map((signs) => Float32Array.from(mags, (m, i) => (signs[i] ? -m : m) / 1000)),
  );

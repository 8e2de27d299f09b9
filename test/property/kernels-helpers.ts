import { afterAll, beforeAll, expect } from 'vitest';
import { threadPool } from '../../src/kernels/cpu/index.js';
import { DTYPES, type DType } from '../../src/tensor/dtype.js';
import { f32ToF16 } from '../../src/tensor/half.js';

/** Random but finite block bytes: random payload, f16 scale fields set to moderate finite values. */
export function randomBlocks(dtype: DType, rows: number, cols: number, seed: number): Uint8Array {
  const { blockSize, blockBytes } = DTYPES[dtype];
  const nBlocks = (rows * cols) / blockSize;
  const bytes = new Uint8Array(nBlocks * blockBytes);
  let s = seed >>> 0 || 1;
  const rnd = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rnd() * 256);
  const setHalf = (o: number, v: number): void => {
    const h = f32ToF16(v);
    bytes[o] = h & 0xff;
    bytes[o + 1] = h >> 8;
  };
  for (let b = 0; b < nBlocks; b++) {
    const o = b * blockBytes;
    if (dtype === 'Q8_0' || dtype === 'Q4_0' || dtype === 'Q5_0' || dtype === 'IQ4_NL') setHalf(o, (rnd() - 0.5) * 0.05);
    if (dtype === 'Q4_K' || dtype === 'Q5_K') {
      setHalf(o, rnd() * 0.01);
      setHalf(o + 2, rnd() * 0.01);
    }
    if (dtype === 'Q4_1' || dtype === 'Q5_1') {
      setHalf(o, rnd() * 0.05);
      setHalf(o + 2, (rnd() - 0.5) * 0.5);
    }
    if (dtype === 'Q6_K') setHalf(o + 208, (rnd() - 0.5) * 0.01);
    if (dtype === 'Q3_K') setHalf(o + 108, (rnd() - 0.5) * 0.01);
    if (dtype === 'Q2_K') {
      setHalf(o + 80, rnd() * 0.01);
      setHalf(o + 82, rnd() * 0.01);
    }
  }
  return bytes;
}

export function randomF32(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 7;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) - 0.5) * 2 * scale;
  return out;
}

/** Straightforward float64 reference: Σ_c W[r,c]·x[t,c]. */
export function naiveMatmul(w: Float32Array, rows: number, cols: number, x: Float32Array, n: number): Float64Array {
  const out = new Float64Array(n * rows);
  for (let t = 0; t < n; t++) for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += w[r * cols + c]! * x[t * cols + c]!;
    out[t * rows + r] = s;
  }
  return out;
}


/**
 * Hooks for the calling suite: before it, wait until the workers of the 2- and 3-thread pools run (until then
 * products stay on this thread, and a thread-count test would compare the caller's thread with itself);
 * after it, close those pools.
 */
export function withReadyThreadPools(): void {
  beforeAll(async () => {
    for (let i = 0; i < 600 && ![2, 3].every((t) => threadPool(t)?.isReady); i++) await new Promise((r) => setTimeout(r, 50));
    expect([2, 3].every((t) => threadPool(t)?.isReady)).toBe(true);
  }, 60_000);
  afterAll(async () => {
    await Promise.all([2, 3].map((t) => threadPool(t)?.close() ?? Promise.resolve()));
  });
}

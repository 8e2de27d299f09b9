import { afterAll, describe, expect, test, vi } from 'vitest';
import { ContractViolation } from '../../src/contract/index.js';
import { contractMode, setContractMode } from '../../src/contract/mode.js';
import { cpuBackend as be, decodeBlockRow, embed, matmul, matmulThreaded, threadPool } from '../../src/kernels/cpu/index.js';
import type { WeightMatrix } from '../../src/kernels/types.js';
import { dequantize } from '../../src/tensor/codecs/index.js';
import { DTYPES, type DType } from '../../src/tensor/dtype.js';
import { violatedClause } from '../helpers.js';
import { randomBlocks, randomF32 } from '../property/kernels-helpers.js';

/**
 * Edge cases of the float products, the row decoders and the threaded product (matmul.ts, blocks.ts,
 * threaded.ts): each contract clause on its own, the documented summation order, writes that must stay
 * inside the output, the errors of contracts-off mode, and which form (this thread or the pool) a threaded
 * product takes. References: a float64 dot product written out here, and src/tensor/codecs dequantize.
 */

const bits = (a: Float32Array): number[] => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const SENTINEL = 7.25;
const clause = violatedClause;

/** `contractId clause` of the violation `fn` throws, 'none' when it passes. */
function violation(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof ContractViolation)) throw err;
    return `${err.contractId} '${err.clause}'`;
  }
  return 'none';
}

/** Runs `fn` with contract checks off (the production setting APR_CONTRACTS=off). */
function contractsOff(fn: () => void): void {
  const saved = contractMode();
  setContractMode('off');
  try {
    fn();
  } finally {
    setContractMode(saved);
  }
}

/** The documented order: four float64 partial sums over i ≡ 0..3 (mod 4), (s0 + s1) + (s2 + s3), then the tail. */
function dotInOrder(w: ArrayLike<number>, wo: number, x: ArrayLike<number>, xo: number, n: number): number {
  const s = [0, 0, 0, 0];
  const n4 = n - (n % 4);
  for (let i = 0; i < n4; i++) s[i % 4]! += w[wo + i]! * x[xo + i]!;
  let sum = s[0]! + s[1]! + (s[2]! + s[3]!);
  for (let i = n4; i < n; i++) sum += w[wo + i]! * x[xo + i]!;
  return sum;
}

/** float64 W·x of the (dequantized) weight, and Σ|W·x| per output for the tolerance. */
function exact(w: WeightMatrix, x: Float32Array, n: number): { value: number[]; mag: number[] } {
  const wf = w.data instanceof Float32Array ? w.data : dequantize(w.dtype, w.data, w.rows * w.cols);
  const value: number[] = [];
  const mag: number[] = [];
  for (let t = 0; t < n; t++) for (let r = 0; r < w.rows; r++) {
    let v = 0;
    let m = 0;
    for (let c = 0; c < w.cols; c++) {
      v += wf[r * w.cols + c]! * x[t * w.cols + c]!;
      m += Math.abs(wf[r * w.cols + c]! * x[t * w.cols + c]!);
    }
    value.push(v);
    mag.push(m);
  }
  return { value, mag };
}

/** float32 inputs, float32 output (float32 sums in the SIMD kernels): within 2^-20·Σ|w·x|. */
function expectClose(got: Float32Array, w: WeightMatrix, x: Float32Array, n: number): void {
  const { value, mag } = exact(w, x, n);
  value.forEach((v, i) => expect(Math.abs(got[i]! - v)).toBeLessThanOrEqual(2 ** -20 * mag[i]! + 1e-30));
}

describe('matmul (TypeScript form)', () => {
  test('[ob:matmul-definition] sums in the documented order: 2^60 + 1 − 2^60 + 1 gives 0, not 1 (row pairs and the odd row)', () => {
    const cols = 9;
    const x = new Float32Array(2 * cols);
    x.set([2 ** 60, 1, -(2 ** 60), 1, 2 ** 60, 1, -(2 ** 60), 1, 0.5]);
    x.set([1, 2 ** 60, 1, -(2 ** 60), 0, 0, 0, 0, 3], cols);
    const w = { dtype: 'F32' as const, rows: 3, cols, data: new Float32Array(3 * cols).fill(1) };
    w.data[cols + 8] = 2;
    const out = matmul(w, x, 2, new Float32Array(6));
    for (let t = 0; t < 2; t++) for (let r = 0; r < 3; r++) expect(out[t * 3 + r]).toBe(Math.fround(dotInOrder(w.data, r * cols, x, t * cols, cols)));
    // (2^60 + 1) + (−2^60 + 1) in float64 is 0; then the tail
    expect(Array.from(out)).toEqual([0.5, 1, 0.5, 3, 6, 3]);
  });

  test('writes n·rows outputs and nothing after them (row pairs and the odd row)', () => {
    const w = { dtype: 'F32' as const, rows: 3, cols: 8, data: randomF32(24, 1) };
    const x = randomF32(16, 2);
    const out = new Float32Array(12).fill(SENTINEL);
    matmul(w, x, 2, out);
    expect(Array.from(out.subarray(6))).toEqual(new Array(6).fill(SENTINEL));
    expectClose(out, w, x, 2);
  });

  test('each precondition on its own', () => {
    const w = { dtype: 'F32' as const, rows: 2, cols: 4, data: randomF32(8, 3) };
    const x = randomF32(8, 4);
    const out = new Float32Array(4);
    const m = (ww: WeightMatrix, n: number, xx = x, o = out): string => clause(() => matmul(ww, xx, n, o));
    const shape = 'weight bytes match dtype and shape';
    expect(m({ ...w, data: w.data.subarray(0, 7) }, 1)).toBe(shape);
    expect(m({ ...w, data: w.data.subarray(0, 4) }, 1)).toBe(shape);
    expect(m({ ...w, data: new Uint8Array(64) }, 1)).toBe(shape);
    const q = { dtype: 'Q8_0' as const, rows: 2, cols: 32, data: randomBlocks('Q8_0', 2, 32, 5) };
    const xq = randomF32(64, 6);
    expect(m({ ...q, data: q.data.subarray(0, 67) }, 1, xq)).toBe(shape);
    expect(m({ ...q, data: new Float32Array(32) }, 1, xq)).toBe(shape);
    expect(m({ ...q, cols: 48, data: new Uint8Array(136) }, 1, xq)).toBe(shape);
    expect(m({ dtype: 'BF16', rows: 2, cols: 4, data: new Uint8Array(16) }, 1)).toBe(shape);
    expect(m(w, 0)).toBe('n ≥ 1');
    expect(m(w, 1.5)).toBe('n ≥ 1');
    expect(m(w, 1, x.subarray(0, 3))).toBe('x holds n·cols floats');
    expect(m(w, 2, x.subarray(0, 4))).toBe('x holds n·cols floats');
    expect(m(w, 1, x, out.subarray(0, 1))).toBe('out holds n·rows floats');
    expect(m(w, 2, x, out.subarray(0, 2))).toBe('out holds n·rows floats');
    expect(m(w, 2)).toBe('none');
    expect(m(q, 2, xq)).toBe('none');
  });

  test('the finite-output postcondition looks at all n·rows outputs', () => {
    if (contractMode() !== 'full') return;
    const w = { dtype: 'F32' as const, rows: 4, cols: 4, data: randomF32(16, 7) };
    w.data[2 * 4 + 1] = Number.NaN;
    expect(clause(() => matmul(w, randomF32(4, 8), 1, new Float32Array(4)))).toBe('finite output');
  });

  test('with contracts off, a dtype without a row decoder is refused by name', () => {
    contractsOff(() => {
      const w = { dtype: 'BF16' as const, rows: 1, cols: 4, data: new Uint8Array(8) };
      expect(() => matmul(w, new Float32Array(4), 1, new Float32Array(1))).toThrow('matmul: no row decoder for BF16');
      expect(() => embed({ ...w, rows: 2 }, [1], new Float32Array(4))).toThrow('embed: no row decoder for BF16');
      expect(() => decodeBlockRow('BF16', new Uint8Array(8), 0, 4, new Float32Array(4))).toThrow('no row decoder for dtype BF16');
    });
  });
});

describe('matmul (SIMD form)', () => {
  test('[ob:quant-matmul-equals-dequant] kernel-memory weights of a type without a float SIMD kernel (Q5_K, Q4_1) are still computed', () => {
    for (const dtype of ['Q5_K', 'Q4_1'] as const) {
      const cols = DTYPES[dtype].blockSize * 2;
      const w = { dtype, rows: 3, cols, data: randomBlocks(dtype, 3, cols, 9) };
      const x = randomF32(2 * cols, 10);
      const got = matmul(be.prepareWeight(w), be.upload(x), 2, be.alloc(6));
      // the row decoder reproduces the codec, then the TypeScript order
      const wf = dequantize(dtype, w.data, 3 * cols);
      for (let t = 0; t < 2; t++) for (let r = 0; r < 3; r++) expect(got[t * 3 + r]).toBe(Math.fround(dotInOrder(wf, r * cols, x, t * cols, cols)));
    }
  });
});

describe('embed', () => {
  const table = { dtype: 'F32' as const, rows: 3, cols: 4, data: randomF32(12, 11) };

  test('each clause on its own', () => {
    expect(clause(() => embed(table, [0, 2], new Float32Array(7)))).toBe('out holds n·dim floats');
    expect(clause(() => embed(table, [0, 2], new Float32Array(4)))).toBe('out holds n·dim floats');
    expect(clause(() => embed(table, [0, 2], new Float32Array(8)))).toBe('none');
    if (contractMode() !== 'full') return;
    const bad = { ...table, data: table.data.slice() };
    bad.data[4 + 3] = Number.NaN;
    expect(clause(() => embed(bad, [0, 1], new Float32Array(8)))).toBe('finite output');
  });

  test('[ob:embed-gather] quantized rows: exactly the codec rows, nothing written after n·dim', () => {
    const q = { dtype: 'Q8_0' as const, rows: 3, cols: 32, data: randomBlocks('Q8_0', 3, 32, 12) };
    const out = new Float32Array(96).fill(SENTINEL);
    embed(q, [2, 0], out);
    const wf = dequantize('Q8_0', q.data, 96);
    expect(bits(out.subarray(0, 64))).toEqual(bits(Float32Array.from([...wf.subarray(64, 96), ...wf.subarray(0, 32)])));
    expect(Array.from(out.subarray(64))).toEqual(new Array(32).fill(SENTINEL));
  });
});

describe('decodeBlockRow', () => {
  test('[ob:block-decode-matches-ggml] every directly decoded type: the codec\'s row, nothing written after cols', () => {
    for (const dtype of ['Q8_0', 'Q4_0', 'Q4_K', 'Q6_K'] as const) {
      const { blockSize } = DTYPES[dtype];
      const cols = 2 * blockSize;
      const data = randomBlocks(dtype, 2, cols, 13);
      const wf = dequantize(dtype, data, 2 * cols);
      for (const row of [0, 1]) {
        const out = new Float32Array(cols + 300).fill(SENTINEL);
        decodeBlockRow(dtype, data, row, cols, out);
        expect(bits(out.subarray(0, cols))).toEqual(bits(wf.subarray(row * cols, (row + 1) * cols)));
        expect(out.subarray(cols).every((v) => v === SENTINEL)).toBe(true);
      }
    }
  });

  test('each precondition on its own', () => {
    const data = randomBlocks('Q8_0', 2, 32, 14);
    const d = (dtype: DType, row: number, cols: number, out = new Float32Array(64)): string => clause(() => decodeBlockRow(dtype, data, row, cols, out));
    expect(d('BF16', 0, 32)).toBe('dtype has a row decoder');
    expect(d('Q8_0', 0, 48)).toBe('cols is a multiple of the block size');
    expect(d('Q8_0', -1, 32)).toBe('row lies inside data');
    expect(d('Q8_0', 2, 32)).toBe('row lies inside data');
    expect(d('Q8_0', 1, 32, new Float32Array(31))).toBe('out holds cols floats');
    expect(d('Q8_0', 1, 32)).toBe('none');
  });
});

describe('matmulThreaded', () => {
  afterAll(async () => {
    await threadPool(2)?.close();
  });
  const threads = (clauseName: string): string => `kernel-threads-v1 '${clauseName}'`;

  test('each precondition on its own, named by the threaded contract itself', () => {
    const pool = threadPool(2)!;
    const t = (w: WeightMatrix, n: number, x: Float32Array, out: Float32Array): string => violation(() => matmulThreaded(pool, w, x, n, out));
    const f = (rows: number, cols: number, len: number): WeightMatrix => ({ dtype: 'F32', rows, cols, data: randomF32(len, 15) });
    const x = randomF32(16, 16);
    const out = new Float32Array(16);
    const shape = threads('weight bytes match dtype and shape');
    expect(t(f(1.5, 4, 8), 1, x, out)).toBe(shape);
    expect(t(f(0, 4, 8), 1, x, out)).toBe(shape);
    expect(t(f(2, 4, 4), 1, x, out)).toBe(shape);
    expect(t(f(2, 4, 7), 1, x, out)).toBe(shape);
    expect(t({ dtype: 'Q8_0', rows: 1, cols: 48, data: new Uint8Array(68) }, 1, randomF32(48, 17), out)).toBe(shape);
    const w = f(2, 4, 8);
    expect(t(w, 0, x, out)).toBe(threads('n ≥ 1'));
    expect(t(w, 1.5, x, out)).toBe(threads('n ≥ 1'));
    expect(t(w, 1, x.subarray(0, 3), out)).toBe(threads('x holds n·cols floats'));
    expect(t(w, 2, x.subarray(0, 4), out)).toBe(threads('x holds n·cols floats'));
    expect(t(w, 1, x, out.subarray(0, 1))).toBe(threads('out holds n·rows floats'));
    expect(t(w, 2, x, out.subarray(0, 2))).toBe(threads('out holds n·rows floats'));
    expect(t(w, 2, x, out)).toBe('none');
  });

  test('the finite-output postcondition of a pooled product looks at all n·rows outputs', () => {
    if (contractMode() !== 'full') return;
    const w = { dtype: 'F32' as const, rows: 8, cols: 8, data: randomF32(64, 18) };
    w.data[3 * 8 + 2] = Number.NaN;
    expect(violation(() => matmulThreaded(threadPool(2)!, be.prepareWeight(w), be.upload(randomF32(8, 19)), 1, be.alloc(8), 0))).toBe(threads('finite output'));
  });

  test('[ob:threads-invariant] the pool takes big products of kernel-memory buffers with ≥ 8 rows and cols a multiple of 4', () => {
    const pool = threadPool(2)!;
    const cases: [dtype: 'F32' | 'Q8_0', rows: number, cols: number, n: number, minWork: (work: number) => number, pooled: boolean][] = [
      ['F32', 8, 8, 1, () => 0, true],
      ['F32', 7, 8, 1, () => 0, false],
      ['F32', 8, 8, 2, (wk) => wk, true],
      ['F32', 8, 8, 2, (wk) => wk + 1, false],
      ['F32', 9, 6, 1, () => 0, false],
      ['Q8_0', 8, 32, 1, () => 0, true],
    ];
    for (const [dtype, rows, cols, n, minWork, pooled] of cases) {
      const w = { dtype, rows, cols, data: dtype === 'F32' ? randomF32(rows * cols, 20 + rows) : randomBlocks(dtype, rows, cols, 20 + rows) };
      const x = randomF32(n * cols, 30 + n);
      const spy = vi.spyOn(pool, 'matmul');
      let got: Float32Array;
      try {
        got = matmulThreaded(pool, be.prepareWeight(w), be.upload(x), n, be.alloc(n * rows), minWork(rows * cols * n));
        expect(spy.mock.calls.map(([job]) => [job.kind, job.rowBytes])).toEqual(pooled ? [[dtype, (cols / DTYPES[dtype].blockSize) * DTYPES[dtype].blockBytes]] : []);
      } finally {
        spy.mockRestore();
      }
      expectClose(got, w, x, n);
    }
  });
});

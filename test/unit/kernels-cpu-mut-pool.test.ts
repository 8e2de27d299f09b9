/**
 * The worker pool's host side (src/kernels/cpu/pool.ts) and the threaded CPU backend's dispatch
 * (createCpuBackend in src/kernels/cpu/index.ts): start-up (products on the caller alone until every worker
 * runs), per-thread decode scratch accounting, job hand-off (every row written when matmul returns, worker
 * chunk counts within the job's chunks), closing and replacement, the contracts' clauses, and which path
 * (thread count, exact or integer-dot, threaded or not by minWork) a backend takes. Products use small
 * integers, so the expected values are exact sums written out here.
 */
import { availableParallelism } from 'node:os';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { cpuBackend, cpuBackendContract, createCpuBackend, threadPool } from '../../src/kernels/cpu/index.js';
import { threadPoolContract, type MatmulJob, type ThreadPool } from '../../src/kernels/cpu/pool.js';
import { wasmKernels } from '../../src/kernels/cpu/wasm/runtime.js';
import { applyEnv, violatedClause } from '../helpers.js';

const k = wasmKernels!;
const opened = new Set<ThreadPool>();
function pool(threads: number): ThreadPool {
  const p = threadPool(threads);
  if (p === undefined) throw new Error('no WebAssembly kernels on this runtime');
  opened.add(p);
  return p;
}
afterAll(async () => {
  await Promise.all([...opened].map((p) => p.close()));
});

async function ready(p: ThreadPool): Promise<void> {
  for (let i = 0; i < 600 && !p.isReady; i++) await new Promise((r) => setTimeout(r, 50));
  expect(p.isReady).toBe(true);
}

const wAt = (r: number, c: number): number => ((r * 7 + c * 3) % 11) - 5;
const qAt = (r: number, c: number): number => ((r * 3 + c) % 9) - 4;
const xAt = (t: number, c: number): number => ((t * 5 + c) % 7) - 3;
/** out[t·rows + r] = Σ_c W(r, c)·x(t, c) in float64 (small integers: exact in float32 too). */
function reference(at: (r: number, c: number) => number, rows: number, cols: number, n: number): number[] {
  const out: number[] = [];
  for (let t = 0; t < n; t++) for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += at(r, c) * xAt(t, c);
    out.push(s);
  }
  return out;
}

interface Product {
  job: MatmulJob;
  out: Float32Array;
  want: number[];
}
function inputs(rows: number, cols: number, n: number): { x: Float32Array; out: Float32Array } {
  const x = k.allocF32(n * cols)!;
  for (let t = 0; t < n; t++) for (let c = 0; c < cols; c++) x[t * cols + c] = xAt(t, c);
  return { x, out: k.allocF32(n * rows)!.fill(NaN) };
}
function f32Product(rows: number, cols: number, n: number): Product {
  const w = k.allocF32(rows * cols)!;
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) w[r * cols + c] = wAt(r, c);
  const { x, out } = inputs(rows, cols, n);
  const job: MatmulJob = { kind: 'F32', w: w.byteOffset, x: x.byteOffset, out: out.byteOffset, rows, cols, n, rowBytes: 4 * cols };
  return { job, out, want: reference(wAt, rows, cols, n) };
}
/** Q8_0 blocks with scale 1.0 (f16 0x3C00) and int8 values qAt. */
function q8Product(rows: number, cols: number, n: number): Product {
  const rowBytes = (cols / 32) * 34;
  const w = k.allocBytes(rows * rowBytes)!;
  for (let r = 0; r < rows; r++) for (let b = 0; b < cols / 32; b++) {
    const o = r * rowBytes + b * 34;
    w[o + 1] = 0x3c;
    for (let i = 0; i < 32; i++) w[o + 2 + i] = qAt(r, 32 * b + i) & 0xff;
  }
  const { x, out } = inputs(rows, cols, n);
  const job: MatmulJob = { kind: 'Q8_0', w: w.byteOffset, x: x.byteOffset, out: out.byteOffset, rows, cols, n, rowBytes };
  return { job, out, want: reference(qAt, rows, cols, n) };
}
/** Runs the product; returns the bytes it allocated (the scratch) and the chunks the workers ran. */
function run(p: ThreadPool, { job, out, want }: Product): { allocated: number; workerChunks: number } {
  out.fill(NaN);
  const [a0, c0] = [k.allocatedBytes(), p.workerChunks];
  p.matmul(job);
  const result = { allocated: k.allocatedBytes() - a0, workerChunks: p.workerChunks - c0 };
  expect(Array.from(out)).toEqual(want);
  return result;
}

describe('a pool before its workers run (4 threads)', () => {
  test('products run on the caller alone, with the same results and the same scratch', async () => {
    const p = pool(4);
    // checked at once: starting a worker thread takes milliseconds
    expect(p.isReady).toBe(false);
    expect(run(p, f32Product(40, 64, 3))).toEqual({ allocated: 0, workerChunks: 0 });
    // decode scratch: 16·cols bytes for each of the 4 threads
    expect(run(p, q8Product(40, 64, 2))).toEqual({ allocated: 4 * 1024, workerChunks: 0 });
    await p.close();
  });

  test('while any worker is still starting, no worker takes part (twice, on a new pool each time)', async () => {
    const prod = f32Product(16, 64, 1);
    for (let round = 0; round < 2; round++) {
      const p = pool(4);
      expect(p.isReady).toBe(false);
      const t0 = performance.now();
      while (performance.now() - t0 < 20_000) {
        const { workerChunks } = run(p, prod);
        // isReady only ever turns true: false now means it was false when this product started
        if (p.isReady) break;
        expect(workerChunks).toBe(0);
        expect(p.workerChunks).toBe(0);
      }
      expect(p.isReady).toBe(true);
      await p.close();
    }
  });
});

describe('a running pool (2 threads)', () => {
  test('[ob:threads-invariant] per-thread scratch: none for F32, 16·cols bytes per thread for Q8_0, kept while large enough, replaced when not', async () => {
    const p = pool(2);
    await ready(p);
    const f32 = run(p, f32Product(64, 64, 2));
    expect(f32.allocated).toBe(0);
    expect(f32.workerChunks).toBeGreaterThanOrEqual(0);
    expect(f32.workerChunks).toBeLessThanOrEqual(8); // 4 chunks per thread
    expect(run(p, q8Product(64, 64, 2)).allocated).toBe(2 * 1024);
    expect(run(p, q8Product(64, 64, 1)).allocated).toBe(0);
    expect(run(p, q8Product(64, 32, 1)).allocated).toBe(0);
    // 4096 bytes per thread: each old 1024-byte scratch released, a new one allocated
    expect(run(p, q8Product(16, 256, 1)).allocated).toBe(2 * (4096 - 1024));
  });

  test('a scratch that cannot grow leaves none behind: the next product allocates afresh rather than use the released block', async () => {
    const p = pool(2);
    await ready(p);
    run(p, q8Product(64, 64, 1)); // the pool (shared per thread count) now holds a scratch per thread
    const before = k.allocatedBytes();
    const huge: MatmulJob = { kind: 'Q8_0', w: 0, x: 0, out: 0, rows: 8, cols: 2 ** 29, n: 1, rowBytes: 0 };
    expect(() => p.matmul(huge)).toThrow(RangeError);
    // thread 0's scratch was released before its growth failed
    expect(k.allocatedBytes()).toBeLessThan(before);
    expect(run(p, q8Product(64, 64, 1)).allocated).toBeGreaterThanOrEqual(1024);
  });

  test('[ob:threads-invariant] every row is written when matmul returns; workers run at most the job\'s chunks', () => {
    const p = pool(2);
    // 8 chunks over 8 or 4 rows: only the chunks holding the row blocks compute anything, so the last of them
    // may still be running on a worker when the caller runs out of chunks to claim
    const prods = [f32Product(8, 1 << 15, 8), f32Product(4, 1 << 15, 8)];
    let workers = 0;
    for (let i = 0; i < 40; i++) {
      const prod = prods[i % 2]!;
      prod.out.fill(NaN);
      const c0 = p.workerChunks;
      p.matmul(prod.job);
      // read at once: a row still being written by a worker would show as NaN
      expect(prod.out.findIndex((v) => Number.isNaN(v))).toBe(-1);
      const ran = p.workerChunks - c0;
      expect(ran).toBeGreaterThanOrEqual(0);
      expect(ran).toBeLessThanOrEqual(8);
      workers += ran;
      expect(Array.from(prod.out)).toEqual(prod.want);
    }
    expect(workers).toBeGreaterThan(0);
  });

  test('[ob:threads-lifecycle] a scratch beyond the memory is a RangeError; a closed pool refuses jobs and a backend replaces it', async () => {
    const p = pool(2);
    const be = createCpuBackend({ threads: 2, minWork: 0 });
    const huge: MatmulJob = { kind: 'Q8_0', w: 0, x: 0, out: 0, rows: 8, cols: 2 ** 29, n: 1, rowBytes: 0 };
    expect(() => p.matmul(huge)).toThrow(new RangeError('thread scratch of 8589934592 bytes does not fit the WebAssembly memory'));
    expect(p.isClosed).toBe(false);
    await p.close();
    expect(p.isClosed).toBe(true);
    const { job } = f32Product(8, 16, 1);
    expect(() => p.matmul(job)).toThrow(new Error('thread pool was closed'));
    // the backend's next product takes the new pool of 2 threads
    const q = pool(2);
    expect(q).not.toBe(p);
    const spy = vi.spyOn(q, 'matmul');
    const w = cpuBackend.prepareWeight({ dtype: 'F32', rows: 8, cols: 16, data: Float32Array.from({ length: 128 }, (_, i) => wAt(i >> 4, i & 15)) });
    const x = cpuBackend.upload(Float32Array.from({ length: 16 }, (_, c) => xAt(0, c)));
    const out = cpuBackend.alloc(8);
    be.matmul(w, x, 1, out);
    expect(spy).toHaveBeenCalledTimes(1);
    spy.mockRestore();
    expect(Array.from(out)).toEqual(reference(wAt, 8, 16, 1));
  });
});

describe('contracts', () => {
  const POOL_PRE = 'threads an integer in [1, 64]';
  const POOL_POST = 'a pool of exactly T threads (none for T = 1 or without WebAssembly)';
  const BACKEND_PRE = 'threads an integer in [1, 64] when given';

  test('threadPool: threads an integer in [1, 64]; one thread is no pool', () => {
    for (const threads of [0, -1, 1.5, 65, Number.NaN]) expect(violatedClause(() => threadPoolContract.checkPre({ threads }))).toBe(POOL_PRE);
    for (const threads of [1, 2, 64]) expect(violatedClause(() => threadPoolContract.checkPre({ threads }))).toBe('none');
    expect(violatedClause(() => threadPool(0))).toBe(POOL_PRE);
    expect(threadPool(1)).toBeUndefined();
  });

  test('threadPool: no pool only for one thread (WebAssembly is available here); a pool has exactly T threads', () => {
    const p2 = pool(2);
    expect(violatedClause(() => threadPoolContract.checkPost({ threads: 2 }, undefined))).toBe(POOL_POST);
    expect(violatedClause(() => threadPoolContract.checkPost({ threads: 1 }, undefined))).toBe('none');
    expect(violatedClause(() => threadPoolContract.checkPost({ threads: 3 }, p2))).toBe(POOL_POST);
    expect(violatedClause(() => threadPoolContract.checkPost({ threads: 2 }, p2))).toBe('none');
  });

  test('createCpuBackend: threads, when given, an integer in [1, 64]', () => {
    for (const threads of [0, 1.5, 65]) expect(violatedClause(() => cpuBackendContract.checkPre({ threads }))).toBe(BACKEND_PRE);
    for (const opts of [{}, { threads: 1 }, { threads: 64 }]) expect(violatedClause(() => cpuBackendContract.checkPre(opts))).toBe('none');
    expect(violatedClause(() => createCpuBackend({ threads: 0 }))).toBe(BACKEND_PRE);
  });
});

/** Runs `fn` with the given environment variables (undefined: unset), restoring them after. */
function withEnv<T>(env: Record<string, string | undefined>, fn: () => T): T {
  const saved = applyEnv(env);
  try {
    return fn();
  } finally {
    applyEnv(saved);
  }
}

describe('createCpuBackend', () => {
  test('names and paths by thread count and integerDot', () => {
    expect(createCpuBackend({ threads: 1 })).toBe(cpuBackend);
    expect(createCpuBackend({ threads: 1, integerDot: false }).name).toBe('cpu-simd-exact');
    expect(createCpuBackend({ threads: 2 }).name).toBe('cpu-simd-2t');
    expect(createCpuBackend({ threads: 2, integerDot: false }).name).toBe('cpu-simd-2t-exact');
    pool(2);
  });

  test('the default thread count: APR_THREADS when a positive integer, else min(cores, 8)', () => {
    const d = Math.max(1, Math.min(availableParallelism(), 8));
    const defaultName = d === 1 ? cpuBackend.name : `cpu-simd-${d}t`;
    withEnv({ APR_THREADS: '3' }, () => {
      expect(createCpuBackend().name).toBe('cpu-simd-3t');
      expect(createCpuBackend({ threads: 2 }).name).toBe('cpu-simd-2t');
    });
    pool(3);
    withEnv({ APR_THREADS: '1' }, () => expect(createCpuBackend()).toBe(cpuBackend));
    for (const v of ['0', '2.5', '-3', 'x']) withEnv({ APR_THREADS: v }, () => expect(createCpuBackend().name).toBe(defaultName));
    if (d > 1) pool(d);
  });

  test('products below minWork multiply-adds stay on the caller (minWork, else APR_THREAD_MIN_WORK, else 2^17)', () => {
    const p = pool(2);
    // 8 × 16 weights, one token: 128 multiply-adds
    const w = cpuBackend.prepareWeight({ dtype: 'F32', rows: 8, cols: 16, data: Float32Array.from({ length: 128 }, (_, i) => wAt(i >> 4, i & 15)) });
    const x = cpuBackend.upload(Float32Array.from({ length: 16 }, (_, c) => xAt(0, c)));
    const want = reference(wAt, 8, 16, 1);
    const threadedCalls = (opts: { minWork?: number }, env?: string): number => {
      const be = withEnv({ APR_THREAD_MIN_WORK: env, APR_THREADS: undefined }, () => createCpuBackend({ threads: 2, ...opts }));
      const spy = vi.spyOn(p, 'matmul');
      const out = cpuBackend.alloc(8).fill(NaN);
      be.matmul(w, x, 1, out);
      const calls = spy.mock.calls.length;
      spy.mockRestore();
      expect(Array.from(out)).toEqual(want);
      return calls;
    };
    expect(threadedCalls({ minWork: 5 })).toBe(1);
    expect(threadedCalls({ minWork: 5 }, '1000')).toBe(1);
    expect(threadedCalls({ minWork: 129 })).toBe(0);
    expect(threadedCalls({})).toBe(0);
    expect(threadedCalls({}, '7')).toBe(1);
    expect(threadedCalls({}, '0')).toBe(1);
    expect(threadedCalls({}, '128')).toBe(1);
    expect(threadedCalls({}, '129')).toBe(0);
    expect(threadedCalls({}, '-3')).toBe(0);
    expect(threadedCalls({}, '2.5')).toBe(0);
    expect(threadedCalls({}, 'x')).toBe(0);
  });
});

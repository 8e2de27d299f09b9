import { afterAll, describe, expect, test, vi } from 'vitest';
import { cpuBackend as be, matmul, matmulIntThreaded, threadPool } from '../../src/kernels/cpu/index.js';
import { actRowBytes, quantizeActivations } from '../../src/kernels/cpu/int-act.js';
import { INT_TYPES } from '../../src/kernels/cpu/int-ref.js';
import { randomF32 } from '../property/kernels-helpers.js';
import { bits, exact, reference, weight } from './kernels-int-helpers.js';

/** The integer-dot products on the thread pool, and without WebAssembly kernels (see kernels-cpu-mut-int.test.ts). */

describe('matmulIntThreaded: which form a product takes', () => {
  afterAll(async () => {
    await threadPool(2)?.close();
  });

  test('[ob:int-matmul-threads-invariant] pool for big products of kernel-memory buffers with ≥ 8 rows, else this thread', () => {
    const pool = threadPool(2)!;
    const cols = 64;
    const cases: [rows: number, n: number, minWork: (work: number) => number, place: 'dev' | 'heapW' | 'heapOut', pooled: boolean][] = [
      [8, 1, () => 0, 'dev', true],
      [8, 2, (wk) => wk, 'dev', true],
      [8, 2, (wk) => wk + 1, 'dev', false],
      [7, 1, () => 0, 'dev', false],
      [9, 1, () => 0, 'heapW', false],
      [9, 1, () => 0, 'heapOut', false],
    ];
    for (const [rows, n, minWork, place, pooled] of cases) {
      const host = weight('Q8_0', rows, cols, 80 + rows + n);
      const x = randomF32(n * cols, 90 + rows);
      const w = place === 'heapW' ? host : be.prepareWeight(host);
      const out = place === 'heapOut' ? new Float32Array(n * rows) : be.alloc(n * rows);
      const spy = vi.spyOn(pool, 'matmul');
      try {
        matmulIntThreaded(pool, w, be.upload(x), n, out, minWork(rows * cols * n));
        expect(spy.mock.calls.map(([job]) => job.kind)).toEqual(pooled ? [n === 1 ? 'INT_Q8_0' : 'GEMM_Q8_0'] : []);
      } finally {
        spy.mockRestore();
      }
      expect(bits(out)).toEqual(bits(reference(host, x, n)));
    }
  });

  test('types without an integer kernel go to matmulThreaded', () => {
    const w = { dtype: 'F32' as const, rows: 8, cols: 16, data: randomF32(128, 95) };
    const x = randomF32(16, 96);
    const got = matmulIntThreaded(threadPool(2)!, be.prepareWeight(w), be.upload(x), 1, be.alloc(8), 0);
    const { value, mag } = exact(w, x, 1);
    value.forEach((v, i) => expect(Math.abs(got[i]! - v)).toBeLessThanOrEqual(2 ** -20 * mag[i]! + 1e-30));
  });
});

describe('without WebAssembly kernels, and with APR_QUANT_DOT=f32', () => {
  type Fresh = typeof import('../../src/kernels/cpu/int-matmul.js') & typeof import('../../src/kernels/cpu/int-act.js');
  async function fresh(env: Record<string, string>): Promise<Fresh> {
    const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
    Object.assign(process.env, env);
    vi.resetModules();
    try {
      return { ...(await import('../../src/kernels/cpu/int-matmul.js')), ...(await import('../../src/kernels/cpu/int-act.js')) };
    } finally {
      for (const [key, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[key];
        else process.env[key] = v;
      }
    }
  }

  test('APR_KERNELS=js: heap buffers throughout, the activation buffer grows on the heap; the scalar reference\'s values', async () => {
    const m = await fresh({ APR_KERNELS: 'js' });
    for (const [dtype, n] of [['Q8_0', 1], ['Q4_K', 1], ['Q4_K', 3], ['Q8_0', 4]] as const) {
      const w = weight(dtype, 9, INT_TYPES[dtype].block, 100 + n);
      const x = randomF32(n * w.cols, 101 + n);
      expect(bits(m.matmulInt(w, x, n, new Float32Array(n * 9)))).toEqual(bits(reference(w, x, n)));
      const fakePool = { threads: 2, matmul: () => { throw new Error('no pool without kernels'); } } as unknown as Parameters<typeof m.matmulIntThreaded>[0];
      expect(bits(m.matmulIntThreaded(fakePool, w, x, n, new Float32Array(n * 9), 0))).toEqual(bits(reference(w, x, n)));
    }
    const x = randomF32(512, 105);
    const heapAct = new Uint8Array(2 * actRowBytes('Q8_K', 256));
    m.quantizeActivations('Q8_K', x, 2, 256, heapAct.buffer, 0);
    const ref = new Uint8Array(heapAct.length);
    quantizeActivations('Q8_K', x, 2, 256, ref.buffer, 0);
    expect(Array.from(heapAct)).toEqual(Array.from(ref));
  });

  test('APR_QUANT_DOT=f32: every product is the float matmul', async () => {
    const m = await fresh({ APR_KERNELS: 'js', APR_QUANT_DOT: 'f32' });
    const w = weight('Q8_0', 3, 64, 110);
    const x = randomF32(128, 111);
    expect(bits(m.matmulInt(w, x, 2, new Float32Array(6)))).toEqual(bits(matmul(w, x, 2, new Float32Array(6))));
  });
});

/**
 * The host side of the WebAssembly kernels (src/kernels/cpu/wasm/runtime.ts) and the CPU backend's buffer
 * functions (src/kernels/cpu/index.ts): the kernel memory's first-fit free list (placement, coalescing,
 * growth), the scratch region, what happens when the memory is exhausted, the relaxed-SIMD probe and its
 * fallback, and the backend without WebAssembly. Heap layouts are worked out by hand from the documented
 * policy (64-byte alignment, first fit in address order, neighbours merged on free, growth by
 * max(needed, half the current size) pages, at most 65536 pages), on a fresh runtime (re-imported), so
 * earlier allocations do not shift the addresses.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { applyEnv } from '../helpers.js';
import { cpuBackend, cpuPortableBackend } from '../../src/kernels/cpu/index.js';
import type { WeightMatrix } from '../../src/kernels/types.js';

const PAGE = 65536;
const M = 256 * PAGE; // the initial kernel memory: 256 pages
const TABLE = 65536 * 4; // the f16 → f32 table, the first allocation (at byte 64)
const FIRST = 64 + TABLE; // where the first buffer after the table goes

type Runtime = typeof import('../../src/kernels/cpu/wasm/runtime.js');
type Kernels = NonNullable<Runtime['wasmKernels']>;

/** A fresh copy of `path` (and everything it imports) evaluated under `env` and, if given, a replaced WebAssembly API. */
async function fresh<T>(load: () => Promise<T>, env: Record<string, string | undefined> = {}, api?: object): Promise<T> {
  const saved = applyEnv(env);
  if (api !== undefined) vi.stubGlobal('WebAssembly', api);
  vi.resetModules();
  try {
    return await load();
  } finally {
    applyEnv(saved);
    vi.unstubAllGlobals();
  }
}
const freshRuntime = (env: Record<string, string | undefined> = {}, api?: object): Promise<Runtime> =>
  fresh(() => import('../../src/kernels/cpu/wasm/runtime.js'), { APR_KERNELS: undefined, ...env }, api);
const kernelsOf = (r: Runtime): Kernels => {
  if (r.wasmKernels === undefined) throw new Error('no WebAssembly kernels on this runtime');
  return r.wasmKernels;
};

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('kernel memory: first-fit free list', () => {
  test('placement, accounting, coalescing with both neighbours, double release', async () => {
    const k = kernelsOf(await freshRuntime());
    expect(k.allocatedBytes()).toBe(TABLE);
    const a = k.allocBytes(1000)!;
    expect(a.byteOffset).toBe(FIRST);
    expect(k.allocatedBytes()).toBe(TABLE + 1024); // rounded up to 64 bytes
    const b = k.allocBytes(1000)!;
    expect(b.byteOffset).toBe(FIRST + 1024);
    k.release(a);
    expect(k.allocatedBytes()).toBe(TABLE + 1024);
    // the 1024-byte hole at FIRST is too small and not adjacent to the free tail (b lies between)
    const c = k.allocBytes(2000)!;
    expect(c.byteOffset).toBe(FIRST + 2048);
    k.release(c); // merges with the tail after it
    k.release(b); // merges with the hole before it and the tail after it: one block from FIRST again
    expect(k.allocatedBytes()).toBe(TABLE);
    const d = k.allocBytes(2048)!;
    expect(d.byteOffset).toBe(FIRST);
    // releasing a buffer twice does nothing the second time, even once its address is reused
    k.release(d);
    const e = k.allocBytes(2048)!;
    expect(e.byteOffset).toBe(FIRST);
    e.fill(7);
    k.release(d);
    expect(k.allocatedBytes()).toBe(TABLE + 2048);
    expect(e.every((v) => v === 7)).toBe(true);
    // a view outside the kernel memory is ignored
    k.release(new Float32Array(4));
    expect(k.allocatedBytes()).toBe(TABLE + 2048);
  });

  test('growth: by max(needed, half) pages, merged with a free tail, a new block after an allocated tail', async () => {
    const k = kernelsOf(await freshRuntime());
    const e = k.allocBytes(2048)!;
    const g = k.allocBytes(1000)!;
    const h = k.allocBytes(1000)!;
    expect([e.byteOffset, g.byteOffset, h.byteOffset]).toEqual([FIRST, FIRST + 2048, FIRST + 3072]);
    k.release(g); // a small hole before the free tail
    const tail = FIRST + 4096;
    // M bytes do not fit: the memory grows by max(256, 128) pages and the tail block takes them
    const f = k.allocBytes(M)!;
    expect(k.memory.buffer.byteLength).toBe(2 * M);
    expect(f.byteOffset).toBe(tail);
    expect(k.owns(f) && k.owns(e)).toBe(true);
    // fill the rest exactly; the free list is then the hole alone
    const t = k.allocBytes(2 * M - tail - M)!;
    expect(t.byteOffset).toBe(tail + M);
    // M more bytes: growth by max(256, 256) pages, a block of exactly M bytes after the old end
    const u = k.allocBytes(M)!;
    expect(k.memory.buffer.byteLength).toBe(3 * M);
    expect(u.byteOffset).toBe(2 * M);
    f[0] = 1;
    u[M - 1] = 2;
    expect([f[0], u[M - 1], h[0]]).toEqual([1, 2, 0]);
    // releasing the highest buffer puts it after the hole, so first fit still takes the hole
    k.release(u);
    expect(k.allocBytes(1000)!.byteOffset).toBe(FIRST + 2048);
    expect(k.allocBytes(1000)!.byteOffset).toBe(2 * M);
  });

  test('requests beyond 4 GiB: undefined, the memory unchanged', async () => {
    const k = kernelsOf(await freshRuntime());
    const before = k.memory.buffer.byteLength;
    expect(k.allocF32(2 ** 31)).toBeUndefined();
    expect(k.allocBytes(2 ** 33)).toBeUndefined();
    expect(k.memory.buffer.byteLength).toBe(before);
    expect(k.allocatedBytes()).toBe(TABLE);
  });

  test('scratch: reused while large enough, the old region freed when it grows, an error when it cannot fit', async () => {
    const k = kernelsOf(await freshRuntime());
    const p = k.scratch(1000);
    expect(p).toBe(FIRST);
    expect(k.allocatedBytes()).toBe(TABLE + 1024);
    expect(k.scratch(1000)).toBe(p);
    expect(k.scratch(10)).toBe(p);
    expect(k.allocatedBytes()).toBe(TABLE + 1024);
    // grows to max(5000, 2·1000) bytes; the old 1024 bytes are freed
    const q = k.scratch(5000);
    expect(k.allocatedBytes()).toBe(TABLE + 5056);
    expect(q + 5000).toBeLessThanOrEqual(k.memory.buffer.byteLength);
    expect(() => k.scratch(2 ** 33)).toThrow(new RangeError('kernel scratch of 8589934592 bytes does not fit the WebAssembly memory'));
    // the failed growth freed the old region and holds none: the next request allocates afresh instead of
    // handing out the freed block
    expect(k.allocatedBytes()).toBe(TABLE);
    k.scratch(100);
    expect(k.allocatedBytes()).toBeGreaterThanOrEqual(TABLE + 100);
  });
});

/** A WebAssembly API whose memory can pretend to be `pages` pages large and whose grow() fails (recording its argument). */
function fakeApi(): { api: object; memory: { pages?: number; grows: number[] } } {
  const memory: { pages?: number; grows: number[] } = { grows: [] };
  class Memory {
    private readonly real: SharedArrayBuffer;
    constructor(d: { initial: number }) {
      this.real = new SharedArrayBuffer(d.initial * PAGE);
    }
    get buffer(): ArrayBufferLike {
      return memory.pages === undefined ? this.real : ({ byteLength: memory.pages * PAGE } as ArrayBufferLike);
    }
    grow(n: number): number {
      memory.grows.push(n);
      throw new RangeError('WebAssembly.Memory.grow(): maximum memory size exceeded');
    }
  }
  class Module {}
  class Instance {
    readonly exports = {};
  }
  return { api: { Memory, Module, Instance }, memory };
}

describe('kernel memory near the 4 GiB limit (a memory that pretends to be 43700 pages)', () => {
  test('growth stops at 65536 pages, a request that cannot fit does not grow, a failed grow is no allocation', async () => {
    const { api, memory } = fakeApi();
    const k = kernelsOf(await freshRuntime({ APR_RELAXED_SIMD: '0' }, api));
    memory.pages = 43700;
    // needed 20000 pages, half is 21850, the limit leaves 65536 − 43700 = 21836
    expect(k.allocBytes(20000 * PAGE)).toBeUndefined();
    expect(memory.grows).toEqual([21836]);
    // 30000 pages can never fit: no attempt to grow
    expect(k.allocBytes(30000 * PAGE)).toBeUndefined();
    expect(memory.grows).toEqual([21836]);
  });
});

describe('relaxed SIMD: used only when the probe gives exact sums, the plain kernels otherwise', () => {
  const W = (globalThis as unknown as { WebAssembly: unknown }).WebAssembly as {
    Memory: new (d: object) => object;
    Module: new (b: Uint8Array) => object;
    Instance: new (m: object, i: object) => { exports: object };
  };
  /** The real API, except for the probe (the small module) and, optionally, the kernel module. */
  function wrapped(probe: 'wrong' | 'throws', kernels: 'ok' | 'throws' = 'ok'): { api: object; compiled: Uint8Array[] } {
    const probes = new WeakSet<object>();
    const compiled: Uint8Array[] = [];
    function Module(bytes: Uint8Array): object {
      compiled.push(bytes);
      const isProbe = bytes.length < 1000;
      if (isProbe && probe === 'throws') throw new Error('CompileError: invalid opcode');
      if (!isProbe && kernels === 'throws') throw new Error('CompileError: out of memory');
      const m = new W.Module(bytes);
      if (isProbe) probes.add(m);
      return m;
    }
    function Instance(m: object, imports: object): { exports: object } {
      // a probe that writes nothing: its lanes read 0, not the pairwise sums
      return probes.has(m) ? { exports: { probe: () => undefined } } : new W.Instance(m, imports);
    }
    return { api: { Memory: W.Memory, Module, Instance }, compiled };
  }

  test('a probe with wrong lanes: relaxed off, the plain module compiled, and it computes', async () => {
    const { api, compiled } = wrapped('wrong');
    const r = await freshRuntime({ APR_RELAXED_SIMD: undefined }, api);
    const mod = await import('../../src/kernels/cpu/wasm/module.js'); // the copy the fresh runtime uses
    const k = kernelsOf(r);
    expect(k.relaxed).toBe(false);
    expect(compiled.at(-1)).toBe(mod.KERNEL_WASM.plain);
    // 4×4 · 4 with small integers: exact
    const w = k.allocF32(16)!;
    const x = k.allocF32(4)!;
    const out = k.allocF32(4)!;
    w.set(Array.from({ length: 16 }, (_, i) => i - 5));
    x.set([1, -2, 3, 2]);
    k.fn.matmul_f32(w.byteOffset, x.byteOffset, out.byteOffset, 4, 4, 1, 4);
    const want = [0, 1, 2, 3].map((r) => [0, 1, 2, 3].reduce((s, c) => s + (4 * r + c - 5) * [1, -2, 3, 2][c]!, 0));
    expect(Array.from(out)).toEqual(want);
  });

  test('a probe that does not compile: relaxed is false', async () => {
    const k = kernelsOf(await freshRuntime({ APR_RELAXED_SIMD: undefined }, wrapped('throws').api));
    expect(k.relaxed).toBe(false);
  });

  test('a kernel module that does not compile: no kernels (TypeScript forms)', async () => {
    const r = await freshRuntime({ APR_RELAXED_SIMD: '0' }, wrapped('throws', 'throws').api);
    expect(r.wasmKernels).toBeUndefined();
  });
});

describe('the CPU backend without WebAssembly (APR_KERNELS=js)', () => {
  test('plain Float32Arrays, release is a no-op, no thread pool for any thread count', async () => {
    const cpu = await fresh(() => import('../../src/kernels/cpu/index.js'), { APR_KERNELS: 'js', APR_CONTRACTS: 'full' });
    const be = cpu.cpuBackend;
    expect(be.name).toBe('cpu');
    const buf = be.alloc(5);
    expect(buf).toBeInstanceOf(Float32Array);
    expect(Array.from(buf)).toEqual([0, 0, 0, 0, 0]);
    const w: WeightMatrix = { dtype: 'F32', rows: 1, cols: 2, data: Float32Array.of(1, 2) };
    expect(be.prepareWeight(w)).toBe(w);
    expect(() => be.release!(buf)).not.toThrow();
    expect(() => be.releaseWeight!(w)).not.toThrow();
    // threadPool's postcondition holds with no pool: no WebAssembly
    expect(cpu.threadPool(4)).toBeUndefined();
    expect(cpu.createCpuBackend({ threads: 4 })).toBe(be);
    expect(cpu.createCpuBackend({ threads: 4, integerDot: false }).name).toBe('cpu-exact');
  });
});

describe('backend buffer functions', () => {
  test.each([cpuBackend, cpuPortableBackend])('$name: read, readAsync (a copy) and copy take [offset, offset + length)', async (be) => {
    const buf = be.upload(Float32Array.from({ length: 10 }, (_, i) => i));
    expect(Array.from(be.read(buf, 2, 3))).toEqual([2, 3, 4]);
    const later = be.readAsync(buf, 2, 3);
    buf[2] = 99;
    expect(Array.from(await later)).toEqual([2, 3, 4]);
    const dst = be.alloc(6);
    be.copy(buf, 5, dst, 1, 3);
    expect(Array.from(dst)).toEqual([0, 5, 6, 7, 0, 0]);
  });

  test('prepareWeight copies into the kernel memory once; a weight already there is returned as is', () => {
    const w: WeightMatrix = { dtype: 'F32', rows: 2, cols: 2, data: Float32Array.of(1, 2, 3, 4) };
    const p = cpuBackend.prepareWeight(w);
    expect(p).not.toBe(w);
    expect(Array.from(p.data as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(cpuBackend.prepareWeight(p)).toBe(p);
    const q: WeightMatrix = { dtype: 'Q8_0', rows: 1, cols: 32, data: Uint8Array.from({ length: 34 }, (_, i) => i) };
    const pq = cpuBackend.prepareWeight(q);
    expect(pq.data).toBeInstanceOf(Uint8Array);
    expect(pq.data).not.toBe(q.data);
    expect(Array.from(pq.data)).toEqual(Array.from(q.data));
    expect(cpuBackend.prepareWeight(pq)).toBe(pq);
  });

  test('prepareWeight keeps a weight where it is when the kernel memory cannot hold it', () => {
    // views that claim to be larger than 4 GiB (the kernel memory's limit)
    const f = new Float32Array(4);
    Object.defineProperty(f, 'length', { value: 2 ** 31 });
    const wf: WeightMatrix = { dtype: 'F32', rows: 1, cols: 4, data: f };
    expect(cpuBackend.prepareWeight(wf)).toBe(wf);
    const b = new Uint8Array(34);
    Object.defineProperty(b, 'byteLength', { value: 2 ** 33 });
    const wb: WeightMatrix = { dtype: 'Q8_0', rows: 1, cols: 32, data: b };
    expect(cpuBackend.prepareWeight(wb)).toBe(wb);
  });
});

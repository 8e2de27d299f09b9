import { setFlagsFromString } from 'node:v8';
import { f16ToF32 } from '../../../tensor/half.js';
import { KERNEL_WASM, RELAXED_PROBE_WASM } from './module.js';

/**
 * The WebAssembly SIMD kernels and the memory they work in. Buffers the CPU backend allocates (activations,
 * KV caches, weights) live in one shared WebAssembly.Memory, so TypeScript kernels read them as ordinary
 * Float32Arrays and the SIMD kernels take their byte offsets; a kernel uses its SIMD form only when every
 * buffer it touches lives there. Memory is managed by a first-fit free list with coalescing; a buffer is
 * released explicitly or when its view is garbage-collected. Unavailable (no WebAssembly SIMD, or
 * APR_KERNELS=js): every kernel runs its TypeScript form.
 */

interface KernelExports {
  matmul_f32(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number): void;
  matmul_q8_0(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  matmul_q4_0(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  matmul_q4_k(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  matmul_f16(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  matmul_q6_k(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qdot_q8_0(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qdot_q4_0(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qdot_q2_k(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qdot_q3_k(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qdot_q5_0(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qdot_iq4_nl(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qdot_q4_1(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qdot_q5_1(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qdot_q4_k(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qdot_q5_k(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qdot_q6_k(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qgemm_q8_0(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qgemm_q4_0(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qgemm_q2_k(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qgemm_q3_k(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qgemm_q5_0(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qgemm_iq4_nl(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qgemm_q4_1(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qgemm_q5_1(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qgemm_q4_k(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qgemm_q5_k(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  qgemm_q6_k(w: number, x: number, out: number, rows: number, cols: number, n: number, ldo: number, scratch: number, tab: number): void;
  decode_q8_0(src: number, dst: number, nb: number, tab: number): void;
  decode_q4_0(src: number, dst: number, nb: number, tab: number): void;
  decode_q4_k(src: number, dst: number, nb: number, tab: number): void;
  decode_f16(src: number, dst: number, nb: number, tab: number): void;
  decode_q6_k(src: number, dst: number, nb: number, tab: number): void;
  attn_scores(q: number, k: number, s: number, len: number, d: number, scale: number): void;
  attn_wsum(p: number, v: number, out: number, len: number, d: number): void;
  quant_q8_k(x: number, dst: number, n: number, cols: number, stride: number): void;
}

export interface WasmKernels {
  readonly fn: KernelExports;
  /** Whether the K-quant integer dots use relaxed SIMD (chosen at start-up, see `relaxedSimd`). */
  readonly relaxed: boolean;
  /** The shared memory and the compiled module, for worker threads that instantiate the same kernels on it. */
  readonly memory: WasmMemory;
  readonly module: object;
  /** Byte offset of the f16 → f32 table. */
  readonly f16Table: number;
  /** Whether `view` lives in the kernel memory (its byteOffset is then its address). */
  owns(view: ArrayBufferView): boolean;
  /** A zero-filled float32 buffer in the kernel memory, or undefined when the memory is exhausted. */
  allocF32(length: number): Float32Array | undefined;
  allocBytes(length: number): Uint8Array | undefined;
  /** Frees a buffer returned by allocF32/allocBytes now (instead of at garbage collection). */
  release(view: ArrayBufferView): void;
  /** A grow-only scratch region of at least `bytes` bytes, reused by every call (single-threaded). */
  /** (A failed growth leaves no scratch, never the freed block.) */
  scratch(bytes: number): number;
  /** A float32 view of `length` floats at byte offset `ptr` of the current memory. */
  viewF32(ptr: number, length: number): Float32Array;
  /** Bytes currently allocated (for tests and reports). */
  allocatedBytes(): number;
}

/** The parts of the WebAssembly JS API used here (the project's TypeScript lib has no DOM typings). */
export interface WasmMemory {
  readonly buffer: ArrayBufferLike;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (d: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
}

const PAGE = 65536;
const ALIGN = 64;
const MAX_PAGES = 65536;

class Heap {
  private readonly freeList: [number, number][] = [];
  private readonly sizes = new Map<number, number>();
  private readonly buffers = new WeakSet<ArrayBufferLike>();
  private allocated = 0;

  constructor(readonly memory: WasmMemory) {
    this.buffers.add(memory.buffer);
    this.freeList.push([ALIGN, memory.buffer.byteLength - ALIGN]);
  }

  get buffer(): ArrayBufferLike {
    const b = this.memory.buffer;
    this.buffers.add(b);
    return b;
  }

  owns(view: ArrayBufferView): boolean {
    return this.buffers.has(view.buffer);
  }

  used(): number {
    return this.allocated;
  }

  alloc(bytes: number): number | undefined {
    const size = Math.ceil(Math.max(bytes, 1) / ALIGN) * ALIGN;
    let i = this.freeList.findIndex(([, s]) => s >= size);
    if (i < 0 && !this.grow(size)) return undefined;
    if (i < 0) i = this.freeList.findIndex(([, s]) => s >= size);
    const block = this.freeList[i];
    if (!block) return undefined;
    const [start, s] = block;
    if (s === size) {
      this.freeList.splice(i, 1);
    } else {
      block[0] = start + size;
      block[1] = s - size;
    }
    this.sizes.set(start, size);
    this.allocated += size;
    return start;
  }

  free(ptr: number): void {
    const size = this.sizes.get(ptr);
    if (size === undefined) return;
    this.sizes.delete(ptr);
    this.allocated -= size;
    new Uint8Array(this.buffer, ptr, size).fill(0);
    let i = this.freeList.findIndex(([s]) => s > ptr);
    if (i < 0) i = this.freeList.length;
    this.freeList.splice(i, 0, [ptr, size]);
    this.coalesce(i);
    if (i > 0) this.coalesce(i - 1);
  }

  private coalesce(i: number): void {
    const a = this.freeList[i];
    const b = this.freeList[i + 1];
    if (a && b && a[0] + a[1] === b[0]) {
      a[1] += b[1];
      this.freeList.splice(i + 1, 1);
    }
  }

  private grow(size: number): boolean {
    const pages = this.memory.buffer.byteLength / PAGE;
    const want = Math.min(MAX_PAGES - pages, Math.max(Math.ceil(size / PAGE), Math.ceil(pages / 2)));
    // Stryker disable next-line BooleanLiteral: with want·PAGE < size no block can fit, so alloc's second first-fit search finds none and returns undefined whether grow answers false or true
    if (want * PAGE < size) return false;
    const start = pages * PAGE;
    try {
      this.memory.grow(want);
    } catch {
      // Stryker disable next-line BooleanLiteral: a failed grow added no block, so alloc's second first-fit search finds none and returns undefined whether grow answers false or true
      return false;
    }
    this.buffers.add(this.memory.buffer);
    const last = this.freeList[this.freeList.length - 1];
    if (last && last[0] + last[1] === start) last[1] += want * PAGE;
    else this.freeList.push([start, want * PAGE]);
    return true;
  }
}

/**
 * Whether i16x8.relaxed_dot_i8x16_i7x16_s can be used: Node 20's V8 validates it only behind
 * --experimental-wasm-relaxed-simd (turned on here, before any kernel is compiled; V8 flags are per process,
 * so the worker threads that instantiate the same module share it), and the instruction must give the exact
 * pairwise sums on a probe whose second operand spans 0..127 and first −128..127. APR_RELAXED_SIMD=0 turns it off.
 */
function relaxedSimd(api: WasmApi): boolean {
  if (process.env['APR_RELAXED_SIMD'] === '0') return false;
  try {
    setFlagsFromString('--experimental-wasm-relaxed-simd');
    const memory = new api.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    const probe = new api.Instance(new api.Module(RELAXED_PROBE_WASM), { env: { memory } }).exports as { probe(): void };
    const bytes = new Int8Array(memory.buffer, 0, 32);
    const cases = [[-128, 127, 127, 127], [127, -128, 7, 22], [-1, 5, 64, 100]];
    for (const [x0, x1, w0, w1] of cases) {
      for (let m = 0; m < 8; m++) {
        bytes.set([(x0 as number) + m, (x1 as number) - m], 2 * m);
        bytes.set([(w0 as number) - m, (w1 as number) - 3 * m], 16 + 2 * m);
      }
      probe.probe();
      const got = new Int16Array(memory.buffer, 32, 8);
      for (let m = 0; m < 8; m++) {
        const want = (bytes[2 * m] as number) * (bytes[16 + 2 * m] as number) + (bytes[2 * m + 1] as number) * (bytes[17 + 2 * m] as number);
        if (got[m] !== want) return false;
      }
    }
    return true;
  } catch {
    return false;
  }
}

function instantiate(): WasmKernels | undefined {
  const api = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
  if (process.env['APR_KERNELS'] === 'js' || api === undefined) return undefined;
  let memory: WasmMemory;
  let fn: KernelExports;
  let module: object;
  const relaxed = relaxedSimd(api);
  try {
    memory = new api.Memory({ initial: 256, maximum: MAX_PAGES, shared: true });
    module = new api.Module(relaxed ? KERNEL_WASM.relaxed : KERNEL_WASM.plain);
    const instance = new api.Instance(module, { env: { memory } });
    fn = instance.exports as unknown as KernelExports;
  } catch {
    return undefined;
  }
  const heap = new Heap(memory);
  const registry = new FinalizationRegistry<number>((ptr) => heap.free(ptr));
  const tab = heap.alloc(65536 * 4) ?? 0;
  const table = new Float32Array(heap.buffer, tab, 65536);
  for (let h = 0; h < 65536; h++) table[h] = f16ToF32(h);
  let scratchPtr = 0;
  let scratchBytes = 0;
  const track = <T extends ArrayBufferView>(view: T, ptr: number): T => {
    registry.register(view, ptr, view);
    return view;
  };
  return {
    fn,
    relaxed,
    memory,
    module,
    f16Table: tab,
    owns: (view) => heap.owns(view),
    allocF32: (length) => {
      const ptr = heap.alloc(length * 4);
      return ptr === undefined ? undefined : track(new Float32Array(heap.buffer, ptr, length), ptr);
    },
    allocBytes: (length) => {
      const ptr = heap.alloc(length);
      return ptr === undefined ? undefined : track(new Uint8Array(heap.buffer, ptr, length), ptr);
    },
    release: (view) => {
      if (heap.owns(view) && registry.unregister(view)) heap.free(view.byteOffset);
    },
    scratch: (bytes) => {
      if (bytes > scratchBytes) {
        const size = Math.max(bytes, 2 * scratchBytes);
        if (scratchBytes > 0) heap.free(scratchPtr);
        scratchBytes = 0;
        const ptr = heap.alloc(size);
        if (ptr === undefined) throw new RangeError(`kernel scratch of ${size} bytes does not fit the WebAssembly memory`);
        scratchPtr = ptr;
        scratchBytes = size;
      }
      return scratchPtr;
    },
    viewF32: (ptr, length) => new Float32Array(heap.buffer, ptr, length),
    allocatedBytes: () => heap.used(),
  };
}

/** The SIMD kernels, or undefined where they cannot run. */
export const wasmKernels: WasmKernels | undefined = instantiate();

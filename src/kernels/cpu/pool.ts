import { Worker } from 'node:worker_threads';
import { slice } from '../../tensor/row-partition.js';
import { defineContract } from '../../contract/index.js';
import { type WasmKernels, wasmKernels } from './wasm/runtime.js';

/**
 * A pool of worker threads that run the WebAssembly matmul kernels on the kernel memory (a shared
 * WebAssembly.Memory: weights, activations and outputs are visible to every thread without copies). The
 * calling thread writes one job into a shared control block and wakes the workers; then every thread,
 * the caller included, claims chunks of output rows (4 per thread, cut at multiples of the kernels' row
 * block) from an atomic counter until none is left, and the caller blocks (Atomics.wait) until all are
 * done. A worker the OS does not schedule soon just claims nothing, so a busy machine costs no stall.
 * Every row is computed by the same kernel code with the same summation order whichever thread runs
 * it, so the result does not depend on the number of threads or on who ran which chunk.
 */

/** Control block slots (Int32). */
const GEN = 0;
const DONE = 1;
const STOP = 2;
/** Chunks per job (fixed per pool), the next unclaimed chunk. */
const CHUNKS = 3;
const NEXT = 6;
/** Chunks the workers (not the caller) have run, for tests and reports. */
const WORKER_CHUNKS = 7;
const SPIN = 4;
const READY = 5;
const JOB = 8;
const SCRATCH = 32;
export const MAX_THREADS = 64;
/** More chunks than threads: a thread the OS does not run soon leaves its chunks to the others. */
const CHUNKS_PER_THREAD = 4;

/** Kernel codes, in the order of KERNELS: the f32/decode products, then the integer-dot ones (`x` quantized). */
export const MATMUL_KINDS = { F32: 0, Q8_0: 1, Q4_0: 2, Q4_K: 3, Q6_K: 4, INT_Q8_0: 5, INT_Q4_0: 6, INT_Q4_K: 7, INT_Q6_K: 8, GEMM_Q8_0: 9, GEMM_Q4_0: 10, GEMM_Q4_K: 11, GEMM_Q6_K: 12, INT_Q5_K: 13, GEMM_Q5_K: 14, INT_Q2_K: 15, GEMM_Q2_K: 16, INT_Q3_K: 17, GEMM_Q3_K: 18, F16: 19, INT_Q5_0: 20, GEMM_Q5_0: 21, INT_IQ4_NL: 22, GEMM_IQ4_NL: 23, INT_Q4_1: 24, GEMM_Q4_1: 25, INT_Q5_1: 26, GEMM_Q5_1: 27 } as const;
const KERNELS = ['matmul_f32', 'matmul_q8_0', 'matmul_q4_0', 'matmul_q4_k', 'matmul_q6_k', 'qdot_q8_0', 'qdot_q4_0', 'qdot_q4_k', 'qdot_q6_k', 'qgemm_q8_0', 'qgemm_q4_0', 'qgemm_q4_k', 'qgemm_q6_k', 'qdot_q5_k', 'qgemm_q5_k', 'qdot_q2_k', 'qgemm_q2_k', 'qdot_q3_k', 'qgemm_q3_k', 'matmul_f16', 'qdot_q5_0', 'qgemm_q5_0', 'qdot_iq4_nl', 'qgemm_iq4_nl', 'qdot_q4_1', 'qgemm_q4_1', 'qdot_q5_1', 'qgemm_q5_1'] as const;
/**
 * The kinds that unpack weight rows into a per-thread scratch (16·cols bytes): the decode-to-float products
 * other than F32, and the multi-token integer products of 32-value blocks (K-quants unpack in registers).
 */
const SCRATCH_KINDS: readonly boolean[] = KERNELS.map((k) => (k.startsWith('matmul_') && k !== 'matmul_f32') || (k.startsWith('qgemm_') && !k.endsWith('_k')));
// Stryker disable next-line BooleanLiteral: kind is always a MATMUL_KINDS index (MatmulJob.kind is typed), where SCRATCH_KINDS is defined, so the fallback is never read
const needsScratch = (kind: number): boolean => SCRATCH_KINDS[kind] ?? false;
export type MatmulKind = keyof typeof MATMUL_KINDS;

/** Plain JavaScript that runs as CommonJS or as a module (dynamic import), whatever --input-type says. */
function workerSource(): string {
  return `
import('node:worker_threads').then(({ workerData }) => {
  const { module, memory, ctrl, part, gen } = workerData;
  const c = new Int32Array(ctrl);
  const fn = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const kernels = ${JSON.stringify(KERNELS)}.map((name) => fn[name]);
  const slice = (${slice.toString()});
  // claims chunks until none is left; the job is read after each claim (see Pool.matmul for why that is safe)
  function work() {
    for (;;) {
      const C = c[${CHUNKS}];
      const i = Atomics.add(c, ${NEXT}, 1);
      if (i >= C) return;
      const kind = c[${JOB}], w = c[${JOB + 1}], x = c[${JOB + 2}], out = c[${JOB + 3}], rows = c[${JOB + 4}], cols = c[${JOB + 5}], n = c[${JOB + 6}], rowBytes = c[${JOB + 7}], tab = c[${JOB + 8}];
      const [a, b] = slice(rows, i, C);
      const k = kernels[kind];
      if (b > a) k(w + a * rowBytes, x, out + a * 4, b - a, cols, n, rows, c[${SCRATCH} + part], tab);
      Atomics.add(c, ${WORKER_CHUNKS}, 1);
      if (Atomics.add(c, ${DONE}, 1) + 1 === C) Atomics.notify(c, ${DONE});
    }
  }
  // the generation when the pool was made; the caller posts jobs only once every worker is ready
  let seen = gen;
  Atomics.add(c, ${READY}, 1);
  for (;;) {
    let spins = c[${SPIN}];
    while (Atomics.load(c, ${GEN}) === seen) {
      // a bounded wait: a worker blocked in Atomics.wait cannot be terminated, which would hang process exit
      if (spins-- <= 0) Atomics.wait(c, ${GEN}, seen, 50);
    }
    seen = Atomics.load(c, ${GEN});
    if (Atomics.load(c, ${STOP}) !== 0) break;
    work();
  }
});
`;
}

export interface MatmulJob {
  kind: MatmulKind;
  /** Byte addresses in the kernel memory. */
  w: number;
  x: number;
  out: number;
  rows: number;
  cols: number;
  n: number;
  /** Bytes per weight row. */
  rowBytes: number;
}

/** Threads of one pool, the calling thread included. */
export interface ThreadPool {
  readonly threads: number;
  readonly isClosed: boolean;
  /** Whether every worker has started (until then products run on the calling thread alone). */
  readonly isReady: boolean;
  /** Chunks run by worker threads so far (the rest ran on the calling thread). */
  readonly workerChunks: number;
  /** Runs the product on all threads; returns when every slice is written. */
  matmul(job: MatmulJob): void;
  /** Stops and terminates the workers (the pool is unusable after). */
  close(): Promise<void>;
}

function envInt(name: string, fallback: number): number {
  const v = Number(process.env[name]);
  // Stryker disable next-line ConditionalExpression,EqualityOperator: APR_THREAD_SPIN only sets how long a thread spins before it sleeps in Atomics.wait; results and chunk counts are the same for any spin count
  return Number.isInteger(v) && v >= 0 ? v : fallback;
}

class Pool implements ThreadPool {
  private readonly ctrl: Int32Array;
  private readonly workers: Worker[] = [];
  private readonly scratch: (Uint8Array | undefined)[] = [];
  private readonly mainSpin = envInt('APR_THREAD_SPIN', 2000);
  private closed = false;

  get isClosed(): boolean {
    return this.closed;
  }

  get workerChunks(): number {
    return Atomics.load(this.ctrl, WORKER_CHUNKS);
  }

  get isReady(): boolean {
    return Atomics.load(this.ctrl, READY) >= this.threads - 1;
  }

  constructor(
    private readonly k: WasmKernels,
    readonly threads: number,
  ) {
    this.ctrl = new Int32Array(new SharedArrayBuffer(4 * (SCRATCH + MAX_THREADS)));
    this.ctrl[CHUNKS] = CHUNKS_PER_THREAD * threads;
    this.ctrl[SPIN] = this.mainSpin;
    const source = workerSource();
    for (let p = 1; p < threads; p++) {
      const worker = new Worker(source, { eval: true, execArgv: [], workerData: { module: k.module, memory: k.memory, ctrl: this.ctrl.buffer, part: p, gen: 0 } });
      worker.unref();
      this.workers.push(worker);
    }
  }

  /** Per-thread decode scratch of `bytes` bytes (grow-only), its address stored in the control block. */
  private ensureScratch(bytes: number): void {
    for (let p = 0; p < this.threads; p++) {
      const cur = this.scratch[p];
      if (cur && cur.byteLength >= bytes) continue;
      if (cur) this.k.release(cur);
      // forget the released block before allocating: if the allocation fails, no later job may use it
      this.scratch[p] = undefined;
      this.ctrl[SCRATCH + p] = 0;
      const s = this.k.allocBytes(Math.max(bytes, 2 * (cur?.byteLength ?? 0)));
      if (s === undefined) throw new RangeError(`thread scratch of ${bytes} bytes does not fit the WebAssembly memory`);
      this.scratch[p] = s;
      this.ctrl[SCRATCH + p] = s.byteOffset | 0;
    }
  }

  matmul(job: MatmulJob): void {
    if (this.closed) throw new Error('thread pool was closed');
    const c = this.ctrl;
    const kind = MATMUL_KINDS[job.kind];
    if (!this.isReady) {
      // workers still starting (or failed to start): every slice on this thread, the same bits
      this.runAll(kind, job);
      return;
    }
    if (needsScratch(kind)) this.ensureScratch(4 * 4 * job.cols);
    // Order matters: the job first, then DONE and NEXT reset, then the new generation. A worker still
    // claiming from the previous job gets an index ≥ CHUNKS until NEXT is reset, and any index below
    // CHUNKS it gets after the reset belongs to this job, whose fields it reads after claiming.
    const fields = [kind, job.w, job.x, job.out, job.rows, job.cols, job.n, job.rowBytes, this.k.f16Table];
    fields.forEach((v, i) => (c[JOB + i] = v | 0));
    Atomics.store(c, DONE, 0);
    Atomics.store(c, NEXT, 0);
    Atomics.add(c, GEN, 1);
    Atomics.notify(c, GEN);
    const chunks = c[CHUNKS] ?? 1;
    for (let i = Atomics.add(c, NEXT, 1); i < chunks; i = Atomics.add(c, NEXT, 1)) {
      this.runChunk(kind, job, i, 0);
      Atomics.add(c, DONE, 1);
    }
    this.waitChunks(chunks);
  }

  private runAll(kind: number, job: MatmulJob): void {
    if (needsScratch(kind)) this.ensureScratch(4 * 4 * job.cols);
    const chunks = this.ctrl[CHUNKS] ?? 1;
    for (let i = 0; i < chunks; i++) this.runChunk(kind, job, i, 0);
  }

  /** Chunk i of the job on this thread, with the scratch of thread `part`. */
  private runChunk(kind: number, job: MatmulJob, i: number, part: number): void {
    const [a, b] = slice(job.rows, i, this.ctrl[CHUNKS] ?? 1);
    if (b <= a) return;
    // Stryker disable next-line StringLiteral: KERNELS has a name for every MATMUL_KINDS index, so the fallback name is never used
    const name = KERNELS[kind] ?? 'matmul_f32';
    // Stryker disable next-line ArithmeticOperator: the calling thread always runs its chunks with part 0, where SCRATCH − part = SCRATCH + part
    const s = this.ctrl[SCRATCH + part] ?? 0;
    this.k.fn[name](job.w + a * job.rowBytes, job.x, job.out + a * 4, b - a, job.cols, job.n, job.rows, s, this.k.f16Table);
  }

  /** Waits (spinning a little, then sleeping) until every chunk is done. */
  private waitChunks(chunks: number): void {
    const c = this.ctrl;
    let spins = this.mainSpin;
    for (;;) {
      const done = Atomics.load(c, DONE);
      if (done >= chunks) return;
      // Stryker disable next-line ConditionalExpression,EqualityOperator,UpdateOperator: spinning or sleeping only changes latency: Atomics.wait returns at once when DONE has moved, and the worker that completes the last chunk notifies, so every variant returns once DONE ≥ chunks
      if (spins-- <= 0) Atomics.wait(c, DONE, done, 1000);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctrl, STOP, 1);
    Atomics.add(this.ctrl, GEN, 1);
    Atomics.notify(this.ctrl, GEN);
    await Promise.all(this.workers.map((w) => w.terminate()));
    for (const s of this.scratch) if (s) this.k.release(s);
  }
}

const pools = new Map<number, Pool>();

export const threadPoolContract = defineContract<{ threads: number }, ThreadPool | undefined>({
  id: 'kernel-threads-v1',
  equation: 'thread_pool',
  spec: 'pool(T) = the caller + T−1 workers on the kernel memory; job slices [a_p, b_p) partition [0, rows) at multiples of 4',
  pre: [['threads an integer in [1, 64]', ({ threads }) => Number.isInteger(threads) && threads >= 1 && threads <= MAX_THREADS]],
  post: [['a pool of exactly T threads (none for T = 1 or without WebAssembly)', ({ threads }, p) => (p === undefined ? threads === 1 || wasmKernels === undefined : p.threads === threads)]],
});

/** The shared pool of `threads` threads (created on first use), or undefined without WebAssembly kernels. */
export function threadPool(threads: number): ThreadPool | undefined {
  return threadPoolContract.run({ threads }, () => {
    const k = wasmKernels;
    if (k === undefined || threads < 2) return undefined;
    let pool = pools.get(threads);
    if (!pool || pool.isClosed) {
      pool = new Pool(k, threads);
      pools.set(threads, pool);
    }
    return pool;
  });
}

import { defineContract } from '../../contract/index.js';
import { dequantize } from '../../tensor/codecs/index.js';
import { DTYPES } from '../../tensor/dtype.js';
import type { AttentionShape, InputNorm, SlotBuffers, SlotPlace, WeightMatrix } from '../types.js';
import type { GpuBuf, GpuWeight, WebGpuBackend, WebGpuBackendOptions } from './backend-api.js';
import type { GpuHandle } from './device.js';
import { planKernels } from './limits.js';
import { type Bindable, bufferIds, type CommandRecorder, GPU_USAGE, type GpuCounters, recorders } from './encoder.js';
import { ATTEND_ROW, ATTEND_ROWS, ATTEND_ROWS_MAX, ATTENTION, ATTN_MAX_HEAD_DIM } from './wgsl-attention.js';
import { MATMUL_WGSL, MATVEC_MAX_N, MATVEC_ROWS, type TileConfig } from './wgsl-matmul.js';
import { MATMUL4_WGSL } from './wgsl-matmul-v4.js';
import { BLOCKED_MATVEC, BLOCKED_MAX_N, MATVEC_GLU, MATVEC_GLU_NORM, MATVEC_QKV, MATVEC_QKV_NORM } from './wgsl-matvec.js';
import { ADD, ADD_BIAS, ARGMAX, KV_STORE, RMSNORM_WGSL, ROPE, ROPE_KV, SOFTMAX, SWIGLU } from './wgsl-ops.js';
import { WDECODE } from './wgsl-quant.js';
import { type RopeTable, ropeTables, type RopeTableSet } from './rope-table.js';

export type { GpuBuf, GpuWeight, WebGpuBackend, WebGpuBackendOptions, WebGpuFault } from './backend-api.js';

/** Dispatches per submission by default (see WebGpuBackendOptions.submitEvery). */
const DEFAULT_SUBMIT_EVERY = 40;

/** Largest n whose fused products normalize their input themselves (see normSplit). */
const NORM_FUSE_MAX_N = 8;

function padded(bytes: number): number {
  return Math.max(4, Math.ceil(bytes / 4) * 4);
}

class WebGpu implements WebGpuBackend {
  readonly name = 'webgpu';
  private readonly rec: CommandRecorder;
  private readonly ropeTables: RopeTableSet<GpuBuf>;
  private readonly tile: TileConfig;
  private readonly vecMax: number;
  /** Mappable read-back buffers by size, reused so that a decode step creates none. */
  private readonly stagingPool = new Map<number, GPUBuffer[]>();

  constructor(private readonly gpu: GpuHandle, private readonly opts: WebGpuBackendOptions) {
    this.tile = opts.tile ?? gpu.tile;
    const fit = planKernels({ limits: gpu.limits, tile: this.tile });
    if (!fit.ok) throw new RangeError(`webgpu: ${gpu.description}: ${fit.reason}`);
    this.rec = recorders.open(gpu.device, opts.submitEvery ?? DEFAULT_SUBMIT_EVERY);
    this.ropeTables = ropeTables.create<GpuBuf>((data) => this.upload(data), (b) => this.release(b));
    this.vecMax = Math.max(1, Math.min(MATVEC_MAX_N, opts.matvecMaxN ?? MATVEC_MAX_N));
  }

  get description(): string {
    return this.gpu.description;
  }

  get firstError(): string | undefined {
    return this.rec.firstError;
  }

  get recorder(): CommandRecorder {
    return this.rec;
  }

  ropeTable(headDim: number, theta: number, positions: number): RopeTable<GpuBuf> {
    return this.ropeTables.table(headDim, theta, positions);
  }

  counters(): GpuCounters {
    return { ...this.rec.counters };
  }

  private buffer(bytes: number, data?: Uint8Array): GPUBuffer {
    const size = padded(bytes);
    if (size > this.gpu.limits.maxStorageBufferBindingSize) {
      throw new RangeError(`webgpu: a ${size}-byte buffer exceeds the device's maxStorageBufferBindingSize ${this.gpu.limits.maxStorageBufferBindingSize}`);
    }
    const usage = GPU_USAGE.STORAGE | GPU_USAGE.COPY_SRC | GPU_USAGE.COPY_DST;
    if (!data) return this.rec.createBuffer({ size, usage });
    const buf = this.rec.createBuffer({ size, usage, mappedAtCreation: true });
    new Uint8Array(buf.getMappedRange()).set(data);
    buf.unmap();
    return buf;
  }

  alloc(length: number): GpuBuf {
    return { buffer: this.buffer(length * 4), length, id: bufferIds.next() };
  }

  upload(data: Float32Array): GpuBuf {
    return { buffer: this.buffer(data.byteLength, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)), length: data.length, id: bufferIds.next() };
  }

  read(): Float32Array {
    throw new Error('webgpu backend: results come back only asynchronously (readAsync / model.forwardAsync)');
  }

  async readAsync(buf: GpuBuf, offset: number, length: number): Promise<Float32Array> {
    const bytes = padded(length * 4);
    const staging = this.stagingPool.get(bytes)?.pop() ?? this.rec.createBuffer({ size: bytes, usage: GPU_USAGE.MAP_READ | GPU_USAGE.COPY_DST });
    this.rec.commands().copyBufferToBuffer(buf.buffer, byteOffset(buf, offset), staging, 0, length * 4);
    this.rec.flush();
    await staging.mapAsync(1);
    const out = new Float32Array(staging.getMappedRange().slice(0, length * 4));
    staging.unmap();
    this.rec.counters.bytesRead += length * 4;
    const free = this.stagingPool.get(bytes) ?? [];
    if (free.length < 8) this.stagingPool.set(bytes, [...free, staging]);
    else staging.destroy();
    if (this.rec.firstError !== undefined) throw new Error(`webgpu: device error: ${this.rec.firstError}`);
    return out;
  }

  copy(src: GpuBuf, srcOffset: number, dst: GpuBuf, dstOffset: number, length: number): void {
    if (length <= 0) return;
    const enc = this.rec.commands();
    const [from, to] = [byteOffset(src, srcOffset), byteOffset(dst, dstOffset)];
    if (src.buffer !== dst.buffer) return enc.copyBufferToBuffer(src.buffer, from, dst.buffer, to, length * 4);
    // WebGPU copies never read and write one buffer (two slots of one allocation): go through a bounce buffer.
    const bounce = this.bounceBuffer(length * 4);
    enc.copyBufferToBuffer(src.buffer, from, bounce, 0, length * 4);
    enc.copyBufferToBuffer(bounce, 0, dst.buffer, to, length * 4);
  }

  private bounce: GPUBuffer | undefined;

  private bounceBuffer(bytes: number): GPUBuffer {
    if (this.bounce === undefined || this.bounce.size < bytes) {
      if (this.bounce) this.rec.destroyLater(this.bounce);
      this.bounce = this.rec.createBuffer({ size: padded(bytes), usage: GPU_USAGE.COPY_SRC | GPU_USAGE.COPY_DST });
    }
    return this.bounce;
  }

  release(buf: GpuBuf): void {
    this.rec.forget(buf.id);
    if (buf.view === undefined) this.rec.destroyLater(buf.buffer);
  }

  allocSlots(length: number, slots: number): SlotBuffers<GpuBuf> | undefined {
    const align = this.gpu.device.limits.minStorageBufferOffsetAlignment;
    const strideBytes = Math.ceil(padded(length * 4) / align) * align;
    const bytes = strideBytes * slots;
    if (bytes > this.gpu.limits.maxStorageBufferBindingSize || bytes > this.gpu.device.limits.maxBufferSize) return undefined;
    const whole = this.alloc(bytes / 4);
    const views = Array.from({ length: slots }, (_, i): GpuBuf => ({ buffer: whole.buffer, length, id: bufferIds.next(), view: { offset: i * strideBytes, size: padded(length * 4) } }));
    return { whole, slots: views, stride: strideBytes / 4 };
  }

  prepareWeight(w: WeightMatrix): GpuWeight {
    const { rows, cols } = w;
    if (w.data instanceof Float32Array) return { dtype: 'F32', rows, cols, id: bufferIds.next(), buffer: this.buffer(w.data.byteLength, new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength)) };
    if (WDECODE[w.dtype] !== undefined) {
      const { blockSize, blockBytes } = DTYPES[w.dtype];
      const bytes = (rows * cols / blockSize) * blockBytes;
      return { dtype: w.dtype, rows, cols, id: bufferIds.next(), buffer: this.buffer(bytes, w.data.subarray(0, bytes)) };
    }
    const f = dequantize(w.dtype, w.data, rows * cols);
    return { dtype: 'F32', rows, cols, id: bufferIds.next(), buffer: this.buffer(f.byteLength, new Uint8Array(f.buffer, f.byteOffset, f.byteLength)) };
  }

  releaseWeight(w: GpuWeight): void {
    this.rec.forget(w.id);
    this.rec.destroyLater(w.buffer);
  }

  private get dropColumn(): number {
    return this.opts.fault === 'matmul-drop-last-column' ? 1 : 0;
  }

  /** Whether the blocked matrix-vector kernel serves this product. */
  private blockedFits(w: GpuWeight, n: number): boolean {
    const blocked = this.opts.blockedMatvec !== false && BLOCKED_MATVEC[w.dtype] !== undefined && (w.cols - this.dropColumn) % 4 === 0;
    return blocked && n <= Math.max(this.vecMax, this.opts.chunkedMatvecMaxN ?? 32);
  }

  /** The blocked matvec, BLOCKED_MAX_N rows of x per dispatch; `accumulate` adds the product to out. */
  private blocked(w: GpuWeight, x: GpuBuf, n: number, out: GpuBuf, accumulate: boolean): void {
    const src = BLOCKED_MATVEC[w.dtype] ?? '';
    const cols = w.cols - this.dropColumn;
    for (let tb = 0; tb < n; tb += BLOCKED_MAX_N) {
      this.rec.dispatch(`matvec4:${w.dtype}`, () => src, [w.rows, cols, Math.min(BLOCKED_MAX_N, n - tb), accumulate ? 1 : 0, tb], [w, x, out], recorders.fold(Math.ceil(w.rows / MATVEC_ROWS)));
    }
  }

  matmulAdd(w: GpuWeight, x: GpuBuf, n: number, out: GpuBuf, tmp: GpuBuf): void {
    if (this.blockedFits(w, n)) return this.blocked(w, x, n, out, true);
    this.matmul(w, x, n, tmp);
    this.add(out, tmp, n * w.rows, out);
  }

  matmulSwiglu(gate: GpuWeight, up: GpuWeight, xIn: GpuBuf, n: number, out: GpuBuf, tmp: GpuBuf, normIn?: InputNorm<GpuBuf>): void {
    const same = gate.dtype === up.dtype && gate.rows === up.rows && gate.cols === up.cols;
    if (MATVEC_GLU[gate.dtype] === undefined || !same || this.opts.fault !== undefined || !this.blockedFits(gate, n)) {
      const input = this.normedInput(xIn, n, gate.cols, normIn);
      this.matmul(gate, input, n, out);
      this.matmul(up, input, n, tmp);
      return this.swiglu(out, tmp, n * gate.rows, out);
    }
    const { x, norm } = this.normSplit(xIn, n, gate.cols, normIn);
    const src = (norm ? MATVEC_GLU_NORM : MATVEC_GLU)[gate.dtype] ?? '';
    const extra = norm ? [norm.weight] : [];
    for (let tb = 0; tb < n; tb += BLOCKED_MAX_N) {
      const params = [gate.rows, gate.cols, Math.min(BLOCKED_MAX_N, n - tb), 0, tb, 0, 0, norm ? f32Bits(norm.eps) : 0];
      this.rec.dispatch(`glu:${gate.dtype}:${norm !== undefined}`, () => src, params, [gate, up, x, ...extra, out], recorders.fold(Math.ceil(gate.rows / MATVEC_ROWS)));
    }
  }

  matmul3(w0: GpuWeight, w1: GpuWeight, w2: GpuWeight, xIn: GpuBuf, n: number, out0: GpuBuf, out1: GpuBuf, out2: GpuBuf, normIn?: InputNorm<GpuBuf>): void {
    const same = [w1, w2].every((w) => w.dtype === w0.dtype && w.cols === w0.cols);
    if (MATVEC_QKV[w0.dtype] === undefined || !same || this.opts.fault !== undefined || !this.blockedFits(w0, n)) {
      const input = this.normedInput(xIn, n, w0.cols, normIn);
      this.matmul(w0, input, n, out0);
      this.matmul(w1, input, n, out1);
      return this.matmul(w2, input, n, out2);
    }
    const { x, norm } = this.normSplit(xIn, n, w0.cols, normIn);
    const src = (norm ? MATVEC_QKV_NORM : MATVEC_QKV)[w0.dtype] ?? '';
    const groups = [w0, w1, w2].reduce((a, w) => a + Math.ceil(w.rows / MATVEC_ROWS), 0);
    const extra = norm ? [norm.weight] : [];
    for (let tb = 0; tb < n; tb += BLOCKED_MAX_N) {
      const params = [w0.rows, w0.cols, Math.min(BLOCKED_MAX_N, n - tb), 0, tb, w1.rows, w2.rows, norm ? f32Bits(norm.eps) : 0];
      this.rec.dispatch(`qkv:${w0.dtype}:${norm !== undefined}`, () => src, params, [w0, w1, w2, x, ...extra, out0, out1, out2], recorders.fold(groups));
    }
  }

  /**
   * The input norm stays fused for n ≤ NORM_FUSE_MAX_N; above, the RMSNorm kernel writes norm.tmp first (every
   * workgroup of a fused product recomputes all n row norms, which at n = 32 reads more than the weights).
   * Both give a row the same bits (the fused prologue repeats the kernel's loop and tree), so batch invariance holds.
   */
  private normSplit(x: GpuBuf, n: number, cols: number, norm: InputNorm<GpuBuf> | undefined): { x: GpuBuf; norm: InputNorm<GpuBuf> | undefined } {
    if (norm === undefined || n <= NORM_FUSE_MAX_N) return { x, norm };
    return { x: this.normedInput(x, n, cols, norm), norm: undefined };
  }

  /** x itself, or its RMSNorm written to norm.tmp (the unfused path of a product with an input norm). */
  private normedInput(x: GpuBuf, n: number, cols: number, norm: InputNorm<GpuBuf> | undefined): GpuBuf {
    if (norm === undefined) return x;
    this.rmsnorm(x, norm.weight, norm.eps, n, cols, norm.tmp);
    return norm.tmp;
  }

  matmul(w: GpuWeight, x: GpuBuf, n: number, out: GpuBuf): void {
    const cols = w.cols - this.dropColumn;
    if (this.blockedFits(w, n)) return this.blocked(w, x, n, out, false);
    if (n <= this.vecMax) {
      this.rec.dispatch(`matvec:${w.dtype}`, () => MATMUL_WGSL.matvec(w.dtype), [w.rows, cols, n], [w, x, out], recorders.fold(Math.ceil(w.rows / MATVEC_ROWS)));
      return;
    }
    this.tiled(w, x, n, out, cols);
  }

  /** Prefill product: the vec4 kernel when the shapes allow it, else the scalar tiled kernel. */
  private tiled(w: GpuWeight, x: GpuBuf, n: number, out: GpuBuf, cols: number): void {
    const { tm, tn, bk } = this.tile;
    const grid: [number, number] = [Math.ceil(w.rows / (16 * tn)), Math.ceil(n / (16 * tm))];
    const vec4 = (this.opts.kernel ?? 'v4') === 'v4' && [cols, tm, tn, bk].every((v) => v % 4 === 0);
    if (vec4) this.rec.dispatch(`tiled4:${w.dtype}:${tm}x${tn}x${bk}`, () => MATMUL4_WGSL.tiled(w.dtype, this.tile), [w.rows, cols, n], [w, x, out], grid);
    else this.rec.dispatch(`tiled:${w.dtype}:${tm}x${tn}x${bk}`, () => MATMUL_WGSL.tiled(w.dtype, this.tile), [w.rows, cols, n], [w, x, out], grid);
  }

  embedPicked(table: GpuWeight, ids: GpuBuf, offset: number, n: number, out: GpuBuf): void {
    const grid = recorders.fold(Math.ceil((n * table.cols) / 256));
    this.rec.dispatch(`embedPicked:${table.dtype}`, () => MATMUL_WGSL.embed(table.dtype, true), [table.rows, table.cols, n, offset], [table, ids, out], grid);
  }

  embed(table: GpuWeight, tokens: ArrayLike<number>, out: GpuBuf): void {
    const ids = Uint32Array.from(tokens);
    const idBuf = this.rec.transient(ids);
    const grid = recorders.fold(Math.ceil((ids.length * table.cols) / 256));
    this.rec.dispatch(`embed:${table.dtype}`, () => MATMUL_WGSL.embed(table.dtype), [table.rows, table.cols, ids.length], [table, idBuf, out], grid);
  }

  private flat(key: string, src: string, params: readonly number[], bufs: readonly Bindable[], count: number): void {
    if (count > 0) this.rec.dispatch(key, () => src, params, bufs, recorders.fold(Math.ceil(count / 256)));
  }

  rmsnorm(x: GpuBuf, weight: GpuBuf, eps: number, n: number, dim: number, out: GpuBuf): void {
    const inPlace = x.id === out.id;
    const params = [n, dim, f32Bits(eps)];
    this.rec.dispatch(`rmsnorm:${inPlace}`, () => RMSNORM_WGSL.shader(inPlace), params, inPlace ? [weight, x] : [weight, x, out], recorders.fold(n));
  }

  addBias(x: GpuBuf, bias: GpuBuf, n: number, dim: number): void {
    this.flat('addBias', ADD_BIAS, [n * dim, dim], [x, bias], n * dim);
  }

  add(a: GpuBuf, b: GpuBuf, length: number, out: GpuBuf): void {
    if (out.id === b.id && out.id !== a.id) return this.add(b, a, length, out);
    if (out.id !== a.id) this.copy(a, 0, out, 0, length);
    if (a.id === b.id && out.id === a.id) throw new RangeError('webgpu add: a, b and out are one buffer');
    this.flat('add', ADD, [length], [out, b], length);
  }

  swiglu(gate: GpuBuf, up: GpuBuf, length: number, out: GpuBuf): void {
    if (out.id === up.id) return this.flat('swiglu', SWIGLU, [length, 1], [up, gate], length);
    if (out.id !== gate.id) this.copy(gate, 0, out, 0, length);
    this.flat('swiglu', SWIGLU, [length, 0], [out, up], length);
  }

  rope(x: GpuBuf, n: number, heads: number, headDim: number, startPos: number, theta: number): void {
    const t = this.ropeTables.table(headDim, theta, startPos + n);
    const src = this.opts.fault === 'rope-sign' ? ROPE.replace('a * c - b * s', 'a * c + b * s') : ROPE;
    this.flat(`rope:${this.opts.fault ?? ''}`, src, [n, heads, headDim, startPos, t.sinOffset], [x, t.buf], (n * heads * headDim) / 2);
  }

  ropeKv(q: GpuBuf, k: GpuBuf, kCache: GpuBuf, s: AttentionShape, theta: number): void {
    const t = this.ropeTables.table(s.headDim, theta, s.startPos + s.n);
    const src = this.opts.fault === 'rope-sign' ? ROPE_KV.replaceAll('a * c - b * s', 'a * c + b * s') : ROPE_KV;
    const params = [s.n, s.heads, s.headDim, s.startPos, t.sinOffset, s.kvHeads, s.capacity];
    this.flat(`ropeKv:${this.opts.fault ?? ''}`, src, params, [q, k, kCache, t.buf], (s.n * Math.max(s.heads, s.kvHeads) * s.headDim) / 2);
  }

  kvStore(cache: GpuBuf, src: GpuBuf, n: number, kvHeads: number, headDim: number, startPos: number, capacity: number): void {
    this.flat('kvStore', KV_STORE, [n, kvHeads, headDim, startPos, capacity], [cache, src], n * kvHeads * headDim);
  }

  attention(q: GpuBuf, kCache: GpuBuf, vCache: GpuBuf, s: AttentionShape, out: GpuBuf): void {
    if (s.headDim > ATTN_MAX_HEAD_DIM) throw new RangeError(`webgpu attention: headDim ${s.headDim} > ${ATTN_MAX_HEAD_DIM}`);
    const params = [s.n, s.startPos, s.heads, s.kvHeads, s.headDim, s.capacity, f32Bits(1 / Math.sqrt(s.headDim))];
    if (s.n > 0) this.rec.dispatch('attention', () => ATTENTION, params, [q, kCache, vCache, out], [s.heads, s.n]);
  }

  attendRow(q: GpuBuf, k: GpuBuf, v: GpuBuf, row: number, kCache: GpuBuf, vCache: GpuBuf, s: AttentionShape, theta: number, out: GpuBuf): void {
    if (s.headDim > ATTN_MAX_HEAD_DIM) throw new RangeError(`webgpu attendRow: headDim ${s.headDim} > ${ATTN_MAX_HEAD_DIM}`);
    const t = this.ropeTables.table(s.headDim, theta, s.startPos + 1);
    const src = this.opts.fault === 'rope-sign' ? ATTEND_ROW.replaceAll('a * c - b * s', 'a * c + b * s') : ATTEND_ROW;
    const params = [row, s.startPos, s.heads, s.kvHeads, s.headDim, s.capacity, f32Bits(1 / Math.sqrt(s.headDim)), t.sinOffset];
    this.rec.dispatch(`attendRow:${this.opts.fault ?? ''}`, () => src, params, [q, k, v, kCache, vCache, t.buf, out], [s.heads, 1]);
  }

  attendRows(q: GpuBuf, k: GpuBuf, v: GpuBuf, n: number, kSlots: SlotBuffers<GpuBuf>, vSlots: SlotBuffers<GpuBuf>, places: readonly SlotPlace[], s: AttentionShape, theta: number, out: GpuBuf): void {
    if (s.headDim > ATTN_MAX_HEAD_DIM) throw new RangeError(`webgpu attendRows: headDim ${s.headDim} > ${ATTN_MAX_HEAD_DIM}`);
    if (kSlots.stride !== vSlots.stride) throw new RangeError('webgpu attendRows: K and V slot sets differ in stride');
    const packed = places.slice(0, n).map(packPlace);
    const top = places.slice(0, n).reduce((m, p) => Math.max(m, p.pos), 0);
    const t = this.ropeTables.table(s.headDim, theta, top + 1);
    const src = this.opts.fault === 'rope-sign' ? ATTEND_ROWS.replaceAll('a * c - b * s', 'a * c + b * s') : ATTEND_ROWS;
    const head = [0, 0, s.heads, s.kvHeads, s.headDim, s.capacity, f32Bits(1 / Math.sqrt(s.headDim)), t.sinOffset, kSlots.stride, 0, 0, 0, 0, 0, 0, 0];
    for (let r0 = 0; r0 < n; r0 += ATTEND_ROWS_MAX) {
      const rows = Math.min(ATTEND_ROWS_MAX, n - r0);
      head[0] = r0;
      this.rec.dispatch(`attendRows:${this.opts.fault ?? ''}`, () => src, [...head, ...packed.slice(r0, r0 + rows)], [q, k, v, kSlots.whole, vSlots.whole, t.buf, out], [s.heads, rows]);
    }
  }

  argmax(x: GpuBuf, n: number, dim: number, out: GpuBuf, outOffset = 0): void {
    if (n > 0) this.rec.dispatch('argmax', () => ARGMAX, [n, dim, outOffset], [x, out], recorders.fold(n));
  }

  softmax(x: GpuBuf, n: number, dim: number): void {
    if (n > 0) this.rec.dispatch('softmax', () => SOFTMAX, [n, dim], [x], recorders.fold(n));
  }

  flush(): void {
    this.rec.flush();
  }

  async finish(): Promise<void> {
    this.rec.flush();
    await this.gpu.device.queue.onSubmittedWorkDone();
  }
}

/** Byte offset of float `offset` of `buf` in its GPUBuffer (a slot view starts inside a larger one). */
function byteOffset(buf: GpuBuf, offset: number): number {
  return (buf.view?.offset ?? 0) + offset * 4;
}

/** One attendRows place as its parameter word: slot << 24 | pos (slots < 256, positions < 2²⁴). */
function packPlace(p: SlotPlace): number {
  if (!(p.slot >= 0 && p.slot < 256 && p.pos >= 0 && p.pos < 2 ** 24)) throw new RangeError(`webgpu attendRows: slot ${p.slot} / position ${p.pos} out of range`);
  return ((p.slot << 24) | p.pos) >>> 0;
}

const { f32Bits } = recorders;

export const webgpuBackendContract = defineContract<{ gpu: GpuHandle; opts: WebGpuBackendOptions }, WebGpuBackend>({
  id: 'webgpu-backend-v1',
  equation: 'webgpu_kernels',
  spec: 'every WGSL kernel computes the CPU kernel of the same name (src/kernels/cpu) up to float32 reassociation; quantized weights decode bit-for-bit as the CPU row decoders',
  pre: [['tile sizes are positive', ({ opts }) => opts.tile === undefined || (opts.tile.tm >= 1 && opts.tile.tn >= 1 && opts.tile.bk >= 1)]],
  post: [['named webgpu', (_i, be) => be.name === 'webgpu']],
});

/** The WebGPU compute backend over an acquired device. */
export function createWebGpuBackend(gpu: GpuHandle, opts: WebGpuBackendOptions = {}): WebGpuBackend {
  return webgpuBackendContract.run({ gpu, opts }, () => new WebGpu(gpu, opts));
}

/**
 * Command recording for the WebGPU backend: one compute pass per submission, a uniform arena of 256-byte
 * parameter slots written once per submission, cached pipelines and bind groups, and buffers whose
 * destruction waits until the commands that use them have been submitted.
 */

const SLOT_WORDS = 64;
const SLOTS = 4096;
const MAX_WG = 65535;
export const GPU_USAGE = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 } as const;

export interface Bindable {
  readonly buffer: GPUBuffer;
  readonly id: number;
  /** A view: the range [offset, offset + size) bytes of `buffer` (it binds only that range). */
  readonly view?: { readonly offset: number; readonly size: number };
}

/** Most parameter words of one dispatch (word 15 is the grid's x, so a long list leaves it free). */
const MAX_PARAM_WORDS = SLOT_WORDS;

let nextId = 1;

/** Fresh buffer ids (they key the bind-group cache). */
export const bufferIds = { next: (): number => nextId++ } as const;

/** Running totals of the host-side work the recorder and backend do (decode instrumentation). */
export interface GpuCounters {
  /** Compute dispatches recorded. */
  dispatches: number;
  /** Command buffers submitted to the queue. */
  submissions: number;
  /** GPUBuffers created (activations, weights, staging, token ids). */
  bufferCreations: number;
  /** Bytes mapped back to the host. */
  bytesRead: number;
}

class Recorder {
  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  private readonly pipelines = new Map<string, { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout }>();
  private readonly groups = new Map<string, GPUBindGroup>();
  /** Cached bind-group keys per buffer id, so releasing a buffer drops exactly its groups. */
  private readonly keysOf = new Map<number, string[]>();
  private readonly uniform: GPUBuffer;
  private readonly staging = new Uint32Array(SLOTS * SLOT_WORDS);
  private slot = 0;
  private doomed: GPUBuffer[] = [];
  private error: string | undefined;
  /** Small id buffers, one per `transient` call since the last flush, reused across submissions. */
  private readonly scratch: { buf: Bindable; bytes: number }[] = [];
  private scratchUsed = 0;
  readonly counters: GpuCounters = { dispatches: 0, submissions: 0, bufferCreations: 0, bytesRead: 0 };

  /** The pipeline set on the open pass (consecutive dispatches of one kernel, as a batch's rows, set it once). */
  private bound: GPUComputePipeline | undefined;
  /** Dispatches recorded since the last submission. */
  private pending = 0;

  /** `submitEvery` > 0 submits after that many dispatches, so the device starts on a long step while the host records the rest. */
  constructor(readonly device: GPUDevice, private readonly submitEvery = 0) {
    this.uniform = device.createBuffer({ size: SLOTS * SLOT_WORDS * 4, usage: GPU_USAGE.UNIFORM | GPU_USAGE.COPY_DST });
    device.addEventListener('uncapturederror', (ev) => {
      this.error ??= (ev).error.message.split('\n')[0];
    });
  }

  /** The first validation or out-of-memory error the device reported, if any. */
  get firstError(): string | undefined {
    return this.error;
  }

  private pipeline(key: string, source: () => string): { pipeline: GPUComputePipeline; layout: GPUBindGroupLayout } {
    let p = this.pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ code: source(), label: key });
      const pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
      p = { pipeline, layout: pipeline.getBindGroupLayout(0) };
      this.pipelines.set(key, p);
    }
    return p;
  }

  private computePass(): GPUComputePassEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    if (this.pass === undefined) {
      this.pass = this.encoder.beginComputePass();
      this.bound = undefined;
    }
    return this.pass;
  }

  /** The command encoder outside any pass (for copies). */
  commands(): GPUCommandEncoder {
    this.pass?.end();
    this.pass = undefined;
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  /**
   * Records one dispatch of kernel `key` with parameter words `params` (word 15 is set here for flat grids).
   * Up to 16 words the kernel sees 64 bytes of parameters; a longer list (at most 64 words, word 15 left
   * free) binds the whole 256-byte slot.
   */
  dispatch(key: string, source: () => string, params: readonly number[], bufs: readonly Bindable[], grid: readonly [number, number]): void {
    if (params.length > MAX_PARAM_WORDS) throw new RangeError(`webgpu dispatch ${key}: ${params.length} parameter words > ${MAX_PARAM_WORDS}`);
    if (this.slot === SLOTS || (this.submitEvery > 0 && this.pending >= this.submitEvery)) this.flush();
    this.pending++;
    const { pipeline, layout } = this.pipeline(key, source);
    const base = this.slot * SLOT_WORDS;
    const words = params.length > 16 ? SLOT_WORDS : 16;
    this.staging.fill(0, base, base + words);
    params.forEach((p, i) => (this.staging[base + i] = p >>> 0));
    this.staging[base + 15] = grid[0];
    const gkey = `${key}|${this.slot}|${bufs.map((b) => b.id).join(',')}`;
    let group = this.groups.get(gkey);
    if (!group) {
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.uniform, offset: this.slot * SLOT_WORDS * 4, size: words * 4 } }];
      bufs.forEach((b, i) => entries.push({ binding: i + 1, resource: b.view ? { buffer: b.buffer, offset: b.view.offset, size: b.view.size } : { buffer: b.buffer } }));
      group = this.device.createBindGroup({ layout, entries });
      if (this.groups.size > 20000) {
        this.groups.clear();
        this.keysOf.clear();
      }
      this.groups.set(gkey, group);
      for (const b of bufs) {
        const keys = this.keysOf.get(b.id);
        if (keys) keys.push(gkey);
        else this.keysOf.set(b.id, [gkey]);
      }
    }
    this.slot++;
    this.counters.dispatches++;
    const pass = this.computePass();
    if (pipeline !== this.bound) pass.setPipeline(pipeline);
    this.bound = pipeline;
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(grid[0], grid[1]);
  }

  /** A grid of `count` workgroups folded into (x ≤ 65,535, y). */
  static fold(count: number): [number, number] {
    const x = Math.max(1, Math.min(count, MAX_WG));
    return [x, Math.max(1, Math.ceil(count / x))];
  }

  /** Destroys `buf` once the commands recorded so far are submitted. */
  destroyLater(buf: GPUBuffer): void {
    this.doomed.push(buf);
  }

  /** Forgets cached bind groups that name a buffer id (call before its memory is reused). */
  forget(id: number): void {
    for (const k of this.keysOf.get(id) ?? []) this.groups.delete(k);
    this.keysOf.delete(id);
  }

  /** Creates a buffer and counts it. */
  createBuffer(desc: GPUBufferDescriptor): GPUBuffer {
    this.counters.bufferCreations++;
    return this.device.createBuffer(desc);
  }

  /**
   * A storage buffer holding `data` for the commands recorded until the next flush: the k-th call since the
   * last flush gets the k-th pooled buffer (grown when too small), so steady-state decode creates none. The
   * write goes through the queue now, ahead of this submission and after every earlier one.
   */
  transient(data: Uint32Array): Bindable {
    // A full uniform arena would flush inside the next dispatch and hand this buffer out again before it is used.
    if (this.slot === SLOTS) this.flush();
    const bytes = Math.max(4, data.byteLength);
    let slot = this.scratch[this.scratchUsed];
    if (!slot || slot.bytes < bytes) {
      if (slot) this.retire(slot.buf);
      const size = Math.max(256, 2 ** Math.ceil(Math.log2(bytes)));
      slot = { buf: { buffer: this.createBuffer({ size, usage: GPU_USAGE.STORAGE | GPU_USAGE.COPY_DST }), id: bufferIds.next() }, bytes: size };
      this.scratch[this.scratchUsed] = slot;
    }
    this.scratchUsed++;
    if (data.byteLength > 0) this.device.queue.writeBuffer(slot.buf.buffer, 0, data);
    return slot.buf;
  }

  private retire(b: Bindable): void {
    this.forget(b.id);
    this.destroyLater(b.buffer);
  }

  /** Writes the parameter slots and submits everything recorded. */
  flush(): void {
    this.pass?.end();
    this.pass = undefined;
    if (this.slot > 0) this.device.queue.writeBuffer(this.uniform, 0, this.staging, 0, this.slot * SLOT_WORDS);
    if (this.encoder) {
      this.device.queue.submit([this.encoder.finish()]);
      this.counters.submissions++;
    }
    this.encoder = undefined;
    this.slot = 0;
    this.pending = 0;
    this.scratchUsed = 0;
    for (const b of this.doomed) b.destroy();
    this.doomed = [];
  }
}

/** What the backend records through. */
export type CommandRecorder = Recorder;

const bitsView = new DataView(new ArrayBuffer(4));

/** The float32 bit pattern of v, for a parameter word (kernels bitcast it back). */
function f32Bits(v: number): number {
  bitsView.setFloat32(0, v, true);
  return bitsView.getUint32(0, true);
}

export const recorders = {
  open: (device: GPUDevice, submitEvery = 0): CommandRecorder => new Recorder(device, submitEvery),
  /** A grid of `count` workgroups folded into (x ≤ 65,535, y). */
  fold: (count: number): [number, number] => Recorder.fold(count),
  f32Bits,
} as const;

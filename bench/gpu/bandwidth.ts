/**
 * What bounds a decode step on the benchmark's card: the streaming-read bandwidth of a compute kernel (the
 * bound used), the device-to-device copy bandwidth of large copyBufferToBuffer calls (read + write bytes
 * counted, as STREAM copy does), the card's nominal HBM bandwidth looked up from the adapter name (or --card),
 * and the host + device cost of one small compute dispatch as the backend records it.
 */
import type { WebGpuBackend } from '../../src/kernels/webgpu/backend.js';
import { GPU_USAGE } from '../../src/kernels/webgpu/encoder.js';
import { flag } from './synthetic.js';

/** Nominal HBM bandwidth in GB/s of the cards the device machine lends, by name; null for others. */
export function nominalGbPerS(name: string): number | null {
  if (/H200/i.test(name)) return 4800;
  if (/H100/i.test(name)) return /PCIe/i.test(name) ? 2000 : 3350;
  return null;
}

/** The card's name: --card (e.g. from nvidia-smi), else the adapter description. */
export function cardName(adapter: string): string {
  return flag('card', adapter);
}

/**
 * GB/s of `reps` back-to-back copies between two buffers of up to 1 GiB (the device's maxBufferSize caps
 * it), after one warm-up copy: 2 · size · reps bytes over the wall time from submit to onSubmittedWorkDone.
 */
/** Seconds from submitting the encoder's commands to the queue having finished them. */
async function submitSeconds(device: GPUDevice, enc: GPUCommandEncoder): Promise<number> {
  const t0 = performance.now();
  device.queue.submit([enc.finish()]);
  await device.queue.onSubmittedWorkDone();
  return (performance.now() - t0) / 1000;
}

export async function copyGbPerS(device: GPUDevice, reps = 40): Promise<{ gbPerS: number; bufferBytes: number }> {
  const size = Math.floor(Math.min(2 ** 30, device.limits.maxBufferSize) / 256) * 256;
  const usage = GPU_USAGE.COPY_SRC | GPU_USAGE.COPY_DST;
  const a = device.createBuffer({ size, usage });
  const b = device.createBuffer({ size, usage });
  const run = async (n: number): Promise<number> => {
    const enc = device.createCommandEncoder();
    for (let i = 0; i < n; i++) enc.copyBufferToBuffer(i % 2 === 0 ? a : b, 0, i % 2 === 0 ? b : a, 0, size);
    return submitSeconds(device, enc);
  };
  await run(2);
  const s = await run(reps);
  a.destroy();
  b.destroy();
  return { gbPerS: (2 * size * reps) / s / 1e9, bufferBytes: size };
}

const READ_WGSL = `
@group(0) @binding(0) var<storage, read> src: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nw: vec3<u32>) {
  let stride = nw.x * 256u;
  let n = arrayLength(&src);
  var acc = vec4<u32>(0u);
  for (var i = g.x; i < n; i += stride) { acc ^= src[i]; }
  dst[g.x] = acc.x ^ acc.y ^ acc.z ^ acc.w;
}`;

/**
 * GB/s of a streaming-read compute kernel (the access pattern of decode's weight reads): `reps` dispatches,
 * each reading a buffer of up to 1 GiB once as vec4<u32> with a grid-stride loop over 4096 workgroups of 256
 * threads, in one submission after a warm-up; size · reps bytes over the wall time to onSubmittedWorkDone.
 */
export async function readGbPerS(device: GPUDevice, reps = 40): Promise<{ gbPerS: number; bufferBytes: number }> {
  const cap = Math.min(2 ** 30, device.limits.maxBufferSize, device.limits.maxStorageBufferBindingSize);
  const size = Math.floor(cap / 256) * 256;
  const groups = 4096;
  const src = device.createBuffer({ size, usage: GPU_USAGE.STORAGE });
  const dst = device.createBuffer({ size: groups * 256 * 4, usage: GPU_USAGE.STORAGE });
  const module = device.createShaderModule({ code: READ_WGSL });
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
  const group = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: src } }, { binding: 1, resource: { buffer: dst } }] });
  const run = async (n: number): Promise<number> => {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    for (let i = 0; i < n; i++) pass.dispatchWorkgroups(groups);
    pass.end();
    return submitSeconds(device, enc);
  };
  await run(2);
  const s = await run(reps);
  src.destroy();
  dst.destroy();
  return { gbPerS: (size * reps) / s / 1e9, bufferBytes: size };
}

/**
 * Microseconds per small dispatch: `count` in-place adds of `dim` floats recorded back to back, then one
 * submission; `host_us` is the recording time alone, `total_us` recording through completion.
 */
export async function dispatchCost(be: WebGpuBackend, count = 4000, dim = 2048): Promise<{ host_us: number; total_us: number }> {
  const a = be.alloc(dim);
  const b = be.alloc(dim);
  const once = async (): Promise<{ host_us: number; total_us: number }> => {
    await be.finish();
    const t0 = performance.now();
    for (let i = 0; i < count; i++) be.add(a, b, dim, a);
    const t1 = performance.now();
    await be.finish();
    return { host_us: ((t1 - t0) * 1000) / count, total_us: ((performance.now() - t0) * 1000) / count };
  };
  await once();
  const r = await once();
  be.release?.(a);
  be.release?.(b);
  return r;
}

export interface Bandwidths {
  card: string;
  nominal_gb_per_s: number | null;
  read_gb_per_s: number;
  copy_gb_per_s: number;
}

/** The card's name and its read, copy and nominal bandwidths (GB/s). */
export async function measureBandwidths(device: GPUDevice, adapter: string): Promise<Bandwidths> {
  const card = cardName(adapter);
  const read = await readGbPerS(device);
  const copy = await copyGbPerS(device);
  return { card, nominal_gb_per_s: nominalGbPerS(card), read_gb_per_s: read.gbPerS, copy_gb_per_s: copy.gbPerS };
}

/**
 * The weight-streaming bound (tokens/s if a token cost only reading its weight bytes once) at the measured
 * read bandwidth and at the nominal one, and the fraction of each that `tps` reaches.
 */
export function boundFields(b: Bandwidths, weightBytes: number, tps: number): Record<string, number | string | null> {
  const r3 = (v: number): number => Math.round(v * 1000) / 1000;
  const readBound = (b.read_gb_per_s * 1e9) / weightBytes;
  const nominalBound = b.nominal_gb_per_s === null ? null : (b.nominal_gb_per_s * 1e9) / weightBytes;
  return {
    card: b.card, nominal_gb_per_s: b.nominal_gb_per_s, read_gb_per_s: r3(b.read_gb_per_s), copy_gb_per_s: r3(b.copy_gb_per_s),
    bound_tokens_per_second_read: r3(readBound), fraction_of_read_bound: r3(tps / readBound),
    bound_tokens_per_second_nominal: nominalBound === null ? null : r3(nominalBound), fraction_of_nominal_bound: nominalBound === null ? null : r3(tps / nominalBound),
  };
}

import { defineContract } from '../../contract/index.js';
import { type KernelLimitName, type KernelLimits, KERNEL_NEEDS, planKernels } from './limits.js';
import { ATTENTION } from './wgsl-attention.js';
import { RMSNORM_BACK_X } from './wgsl-backward.js';
import { MATMUL_WGSL, type TileConfig } from './wgsl-matmul.js';
import { MATMUL4_WGSL } from './wgsl-matmul-v4.js';

/**
 * Acquiring a Dawn (npm `webgpu`) device. Tries Dawn's default backend (Vulkan; with no GPU that is Mesa ≥ 25
 * lavapipe), then OpenGL ES through EGL (surfaceless, compatibility feature level). Each adapter's limits go
 * through planKernels (src/kernels/webgpu/limits.ts): the device is requested with the limits the kernels
 * need and the prefill tile that fits, and the kernels that press hardest on each limit are compiled once
 * under an error scope, so an adapter that cannot run them is a one-line reason here, never a failure in
 * the middle of a forward pass. The object `create()` returns must stay referenced for the life of the
 * process (Dawn segfaults when it is collected), so every one is kept in `alive`.
 */

export type GpuBackendKind = 'vulkan' | 'opengles';

export interface GpuHandle {
  readonly device: GPUDevice;
  /** Which Dawn backend answered and what the adapter says it is. */
  readonly description: string;
  readonly kind: GpuBackendKind;
  /** The limits the device was granted. */
  readonly limits: KernelLimits;
  /** The prefill tile that fits those limits (the backend's default). */
  readonly tile: TileConfig;
}

export type GpuAcquired = { readonly ok: true; readonly gpu: GpuHandle } | { readonly ok: false; readonly reason: string };

export interface AcquireOptions {
  /** Backends to try, in order (default: APR_WEBGPU_BACKENDS, a comma list, else vulkan then opengles). */
  readonly backends?: readonly GpuBackendKind[];
  /** Dawn features to enable (benchmarks: disable_robustness, skip_validation, ...). */
  readonly dawnFeatures?: readonly string[];
}

const KINDS: readonly GpuBackendKind[] = ['vulkan', 'opengles'];
const alive: unknown[] = [];
const cached = new Map<string, Promise<GpuAcquired>>();

interface DawnModule {
  create(options: string[]): GPU;
}

const firstLine = (text: string): string => text.split('\n')[0] ?? '';

async function loadDawn(): Promise<DawnModule | string> {
  try {
    return (await import('webgpu'));
  } catch (err) {
    return `cannot load the npm package webgpu (${firstLine((err as Error).message)})`;
  }
}

/** The backends to try: the option, else APR_WEBGPU_BACKENDS (empty or `none` = none), else vulkan then opengles. */
function backendList(opts: AcquireOptions): readonly GpuBackendKind[] {
  if (opts.backends) return opts.backends;
  const env = process.env['APR_WEBGPU_BACKENDS'];
  if (env === undefined) return KINDS;
  return KINDS.filter((k) => env.split(',').map((s) => s.trim()).includes(k));
}

/** The kernels that press hardest on each limit: the tiled products (workgroup memory, 16×16 threads), matvec, attention, RMSNorm backward (five storage buffers). */
function probeKernels(tile: TileConfig): [string, string][] {
  const t = `${tile.tm}×${tile.tn}×${tile.bk}`;
  const probes: [string, string][] = [[`tiled ${t}`, MATMUL_WGSL.tiled('F32', tile)], ['matvec', MATMUL_WGSL.matvec('F32')], ['attention', ATTENTION], ['rmsnorm backward', RMSNORM_BACK_X]];
  if ([tile.tm, tile.tn, tile.bk].every((v) => v % 4 === 0)) probes.push([`tiled vec4 ${t}`, MATMUL4_WGSL.tiled('F32', tile)]);
  return probes;
}

/** Compiles each probe kernel under validation and internal error scopes; the first error, named, or undefined. */
async function probe(device: GPUDevice, tile: TileConfig): Promise<string | undefined> {
  for (const [name, code] of probeKernels(tile)) {
    device.pushErrorScope('internal');
    device.pushErrorScope('validation');
    const module = device.createShaderModule({ code, label: name });
    device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: name });
    const validation = device.popErrorScope();
    const internal = device.popErrorScope();
    const error = (await validation) ?? (await internal);
    if (error) return `the ${name} kernel does not compile (${firstLine(error.message).split(/\.\s/)[0] ?? ''})`;
  }
  return undefined;
}

function granted(limits: GPUSupportedLimits): KernelLimits {
  const names = Object.keys(KERNEL_NEEDS) as KernelLimitName[];
  return Object.fromEntries(names.map((k) => [k, limits[k]])) as Record<KernelLimitName, number>;
}

function adapterName(kind: GpuBackendKind, info: GPUAdapterInfo, features: readonly string[]): string {
  const label = features.length > 0 ? `${kind}+${features.join(',')}` : kind;
  return `${label}: ${[info.vendor, info.architecture, info.device, info.description].filter((s) => s !== '').join(' ') || 'unnamed adapter'}`;
}

/** The device of one Dawn backend, or why it has none that runs the kernels. */
async function tryBackend(dawn: DawnModule, kind: GpuBackendKind, features: readonly string[]): Promise<GpuHandle | string> {
  if (kind === 'opengles') process.env['EGL_PLATFORM'] ??= 'surfaceless';
  const flags = [...(kind === 'opengles' ? ['backend=opengles'] : []), ...(features.length > 0 ? [`enable-dawn-features=${features.join(',')}`] : [])];
  const gpu = dawn.create(flags);
  alive.push(gpu);
  const adapter = await gpu.requestAdapter(kind === 'opengles' ? { featureLevel: 'compatibility' } : {});
  if (adapter === null) return `${kind}: no adapter`;
  alive.push(adapter);
  const description = adapterName(kind, adapter.info, features);
  const plan = planKernels({ limits: adapter.limits });
  if (!plan.ok) return `${description}: ${plan.reason}`;
  const device = await adapter.requestDevice({ requiredLimits: plan.requiredLimits });
  alive.push(device);
  const broken = await probe(device, plan.tile);
  if (broken !== undefined) return `${description}: ${broken}`;
  return { device, description, kind, limits: granted(device.limits), tile: plan.tile };
}

async function acquire(backends: readonly GpuBackendKind[], features: readonly string[]): Promise<GpuAcquired> {
  const dawn = await loadDawn();
  if (typeof dawn === 'string') return { ok: false, reason: dawn };
  const tried: string[] = [];
  for (const kind of backends) {
    try {
      const gpu = await tryBackend(dawn, kind, features);
      if (typeof gpu !== 'string') return { ok: true, gpu };
      tried.push(gpu);
    } catch (err) {
      tried.push(`${kind}: ${firstLine((err as Error).message)}`);
    }
  }
  return { ok: false, reason: `no usable WebGPU adapter (${tried.length > 0 ? tried.join('; ') : 'no backend to try'}); run .ci/install-webgpu.sh for a software adapter` };
}

export const acquireContract = defineContract<AcquireOptions, Promise<GpuAcquired>>({
  id: 'webgpu-device-v1',
  equation: 'acquire_device',
  spec: 'acquire(backends) = the device of the first backend in order whose adapter answers and runs the kernels (plan_limits, probe compiles), else a reason naming each failure',
  pre: [['backends are vulkan or opengles', ({ backends }) => (backends ?? []).every((b) => KINDS.includes(b))]],
});

/** The process-wide WebGPU device (acquired once per backend list; later calls return the same answer). */
export function acquireGpu(opts: AcquireOptions = {}): Promise<GpuAcquired> {
  return acquireContract.run(opts, () => {
    const backends = backendList(opts);
    const features = opts.dawnFeatures ?? [];
    const key = `${backends.join(',')}|${features.join(',')}`;
    let answer = cached.get(key);
    if (!answer) cached.set(key, (answer = acquire(backends, features)));
    return answer;
  });
}

import { defineContract } from '../../contract/index.js';

/**
 * Acquiring a Dawn (npm `webgpu`) device. Tries Dawn's default backend (Vulkan; with no GPU that is Mesa ≥ 25
 * lavapipe), then OpenGL ES through EGL (surfaceless, compatibility feature level). The object `create()`
 * returns must stay referenced for the life of the process (Dawn segfaults when it is collected), so every
 * one is kept in `alive`.
 */

export type GpuBackendKind = 'vulkan' | 'opengles';

export interface GpuHandle {
  readonly device: GPUDevice;
  /** Which Dawn backend answered and what the adapter says it is. */
  readonly description: string;
  readonly kind: GpuBackendKind;
  readonly limits: { readonly maxStorageBufferBindingSize: number; readonly maxBufferSize: number };
}

export type GpuAcquired = { readonly ok: true; readonly gpu: GpuHandle } | { readonly ok: false; readonly reason: string };

export interface AcquireOptions {
  /** Backends to try, in order (default vulkan, then opengles). */
  readonly backends?: readonly GpuBackendKind[];
}

const alive: unknown[] = [];
const cached = new Map<string, Promise<GpuAcquired>>();

interface DawnModule {
  create(options: string[]): GPU;
}

async function loadDawn(): Promise<DawnModule | string> {
  try {
    return (await import('webgpu'));
  } catch (err) {
    return `cannot load the npm package webgpu (${(err as Error).message.split('\n')[0] ?? ''})`;
  }
}

async function tryBackend(dawn: DawnModule, kind: GpuBackendKind): Promise<GpuHandle | undefined> {
  if (kind === 'opengles') process.env['EGL_PLATFORM'] ??= 'surfaceless';
  const gpu = dawn.create(kind === 'opengles' ? ['backend=opengles'] : []);
  alive.push(gpu);
  const adapter = await gpu.requestAdapter(kind === 'opengles' ? { featureLevel: 'compatibility' } : {});
  if (adapter === null) return undefined;
  const al = adapter.limits;
  const requiredLimits = {
    maxStorageBufferBindingSize: al.maxStorageBufferBindingSize,
    maxBufferSize: al.maxBufferSize,
    maxComputeWorkgroupStorageSize: al.maxComputeWorkgroupStorageSize,
    maxComputeInvocationsPerWorkgroup: Math.min(1024, al.maxComputeInvocationsPerWorkgroup),
  };
  const device = await adapter.requestDevice({ requiredLimits });
  alive.push(adapter, device);
  const info = adapter.info;
  const description = `${kind}: ${[info.vendor, info.architecture, info.device, info.description].filter((s) => s !== '').join(' ') || 'unnamed adapter'}`;
  return { device, description, kind, limits: { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize } };
}

async function acquire(backends: readonly GpuBackendKind[]): Promise<GpuAcquired> {
  const dawn = await loadDawn();
  if (typeof dawn === 'string') return { ok: false, reason: dawn };
  const tried: string[] = [];
  for (const kind of backends) {
    try {
      const gpu = await tryBackend(dawn, kind);
      if (gpu) return { ok: true, gpu };
      tried.push(`${kind}: no adapter`);
    } catch (err) {
      tried.push(`${kind}: ${(err as Error).message.split('\n')[0] ?? ''}`);
    }
  }
  return { ok: false, reason: `no WebGPU adapter (${tried.join('; ')}); run .ci/install-webgpu.sh for a software adapter` };
}

export const acquireContract = defineContract<AcquireOptions, Promise<GpuAcquired>>({
  id: 'webgpu-device-v1',
  equation: 'acquire_device',
  spec: 'acquire(backends) = the device of the first backend in order whose adapter answers, else a reason naming each failure',
  pre: [['backends are vulkan or opengles', ({ backends }) => (backends ?? []).every((b) => b === 'vulkan' || b === 'opengles')]],
});

/** The process-wide WebGPU device (acquired once per backend list; later calls return the same answer). */
export function acquireGpu(opts: AcquireOptions = {}): Promise<GpuAcquired> {
  return acquireContract.run(opts, () => {
    const backends = opts.backends ?? ['vulkan', 'opengles'];
    const key = backends.join(',');
    let answer = cached.get(key);
    if (!answer) cached.set(key, (answer = acquire(backends)));
    return answer;
  });
}

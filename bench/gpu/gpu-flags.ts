/**
 * The benchmarks' device: acquireGpu() as the product does, or, with --dawn-features a,b (Dawn toggles such as
 * disable_robustness, disable_workgroup_init, skip_validation), a Vulkan device made here with those toggles
 * enabled, so a sweep can measure what the bounds clamps, workgroup zero-fill and validation cost.
 */
import { acquireGpu, type GpuHandle } from '../../src/kernels/webgpu/device.js';
import { flag } from './synthetic.js';

const alive: unknown[] = [];

export async function benchGpu(): Promise<GpuHandle> {
  const features = flag('dawn-features', '');
  if (features === '') {
    const a = await acquireGpu();
    if (!a.ok) throw new Error(a.reason);
    return a.gpu;
  }
  const dawn = (await import('webgpu')) as { create(options: string[]): GPU };
  const gpu = dawn.create([`enable-dawn-features=${features}`]);
  alive.push(gpu);
  const adapter = await gpu.requestAdapter();
  if (adapter === null) throw new Error('no Vulkan adapter');
  const al = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: { maxStorageBufferBindingSize: al.maxStorageBufferBindingSize, maxBufferSize: al.maxBufferSize, maxComputeWorkgroupStorageSize: al.maxComputeWorkgroupStorageSize, maxComputeInvocationsPerWorkgroup: Math.min(1024, al.maxComputeInvocationsPerWorkgroup) },
  });
  alive.push(adapter, device);
  const info = adapter.info;
  const description = `vulkan+${features}: ${[info.vendor, info.architecture, info.device, info.description].filter((s) => s !== '').join(' ')}`;
  return { device, description, kind: 'vulkan', limits: { maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize, maxBufferSize: device.limits.maxBufferSize } };
}

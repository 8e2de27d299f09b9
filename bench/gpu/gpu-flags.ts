/**
 * The benchmarks' device: acquireGpu() as the product does, or, with --dawn-features a,b (Dawn toggles such as
 * disable_robustness, disable_workgroup_init, skip_validation), a Vulkan device with those toggles enabled,
 * so a sweep can measure what the bounds clamps, workgroup zero-fill and validation cost.
 */
import { acquireGpu, type GpuHandle } from '../../src/kernels/webgpu/device.js';
import { flag } from './synthetic.js';

export async function benchGpu(): Promise<GpuHandle> {
  const features = flag('dawn-features', '');
  const a = await acquireGpu(features === '' ? {} : { backends: ['vulkan'], dawnFeatures: features.split(',') });
  if (!a.ok) throw new Error(a.reason);
  return a.gpu;
}

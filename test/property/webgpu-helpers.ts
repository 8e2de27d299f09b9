import { acquireGpu, type GpuHandle } from '../../src/kernels/webgpu/device.js';

/**
 * The shared WebGPU device for the webgpu test files, or the reason there is none: the suites then skip and
 * say why in their title, and the reason is printed once per file on stderr. `.ci/install-webgpu.sh`
 * installs the software Vulkan adapter (Mesa lavapipe); without it Dawn's OpenGL ES adapter is tried, and an
 * adapter whose limits the kernels do not fit is a reason too (src/kernels/webgpu/limits.ts).
 */
const acquired = await acquireGpu();
export const gpu: GpuHandle | undefined = acquired.ok ? acquired.gpu : undefined;
export const noGpuReason = acquired.ok ? '' : ` (skipped: ${acquired.reason})`;
if (!acquired.ok) process.stderr.write(`webgpu tests skipped: ${acquired.reason}\n`);

/** float32 unit roundoff. */
export const U32 = 2 ** -24;

export function f32Bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

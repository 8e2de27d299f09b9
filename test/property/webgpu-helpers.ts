import { acquireGpu, type GpuHandle } from '../../src/kernels/webgpu/device.js';

/**
 * The shared WebGPU device for the webgpu test files, or the reason there is none (the suites then skip
 * and say why in their title). `.ci/install-webgpu.sh` installs the software adapter (Mesa lavapipe).
 */
const acquired = await acquireGpu();
export const gpu: GpuHandle | undefined = acquired.ok ? acquired.gpu : undefined;
export const noGpuReason = acquired.ok ? '' : ` (skipped: ${acquired.reason})`;

/** float32 unit roundoff. */
export const U32 = 2 ** -24;

export function f32Bits(a: Float32Array): number[] {
  return Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
}

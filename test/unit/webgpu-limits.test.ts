import { afterEach, describe, expect, test } from 'vitest';
import { createWebGpuBackend } from '../../src/kernels/webgpu/backend.js';
import { acquireGpu, type GpuHandle } from '../../src/kernels/webgpu/device.js';
import { KERNEL_NEEDS, type KernelLimits, planKernels, TILE_CANDIDATES } from '../../src/kernels/webgpu/limits.js';
import { ATTEND_ROW, ATTENTION } from '../../src/kernels/webgpu/wgsl-attention.js';
import { RMSNORM_BACK_W, RMSNORM_BACK_X, SOFTMAX_CE_BACK, STRIDED_MATMUL } from '../../src/kernels/webgpu/wgsl-backward.js';
import { DEFAULT_TILE, MATMUL_WGSL, type TileConfig } from '../../src/kernels/webgpu/wgsl-matmul.js';
import { MATMUL4_WGSL } from '../../src/kernels/webgpu/wgsl-matmul-v4.js';
import { BLOCKED_MATVEC, MATVEC_GLU, MATVEC_GLU_NORM, MATVEC_QKV, MATVEC_QKV_NORM } from '../../src/kernels/webgpu/wgsl-matvec.js';
import { ADD, ADD_BIAS, KV_STORE, RMSNORM_WGSL, ROPE, SOFTMAX, SWIGLU } from '../../src/kernels/webgpu/wgsl-ops.js';
import { WDECODE } from '../../src/kernels/webgpu/wgsl-quant.js';

/**
 * Fitting the kernels to an adapter's limits (src/kernels/webgpu/limits.ts), without a GPU: the limits Dawn
 * reports for Mesa 22's OpenGL ES adapter (llvmpipe, compatibility mode) and its default device limits, the
 * WebGPU core defaults, and smaller workgroup memories; and KERNEL_NEEDS checked against every WGSL source.
 */

/** Mesa 22.3 llvmpipe through Dawn's OpenGL ES backend (featureLevel compatibility): the adapter's limits. */
const GLES_ADAPTER: KernelLimits = {
  maxComputeInvocationsPerWorkgroup: 1024,
  maxComputeWorkgroupSizeX: 1024,
  maxComputeWorkgroupSizeY: 1024,
  maxStorageBuffersPerShaderStage: 16,
  maxComputeWorkgroupStorageSize: 32768,
  maxStorageBufferBindingSize: 134217728,
  maxBufferSize: 2147483648,
};
/** What the same adapter's device gets when nothing is requested (the compatibility defaults). */
const GLES_DEVICE_DEFAULTS: KernelLimits = { ...GLES_ADAPTER, maxComputeInvocationsPerWorkgroup: 128, maxComputeWorkgroupSizeX: 128, maxComputeWorkgroupSizeY: 128, maxStorageBuffersPerShaderStage: 4, maxComputeWorkgroupStorageSize: 16384, maxBufferSize: 268435456 };
/** The WebGPU core defaults. */
const CORE_DEFAULTS: KernelLimits = { maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupSizeX: 256, maxComputeWorkgroupSizeY: 256, maxStorageBuffersPerShaderStage: 8, maxComputeWorkgroupStorageSize: 16384, maxStorageBufferBindingSize: 134217728, maxBufferSize: 268435456 };

const tileBytes = (t: TileConfig): number => Math.max(MATMUL_WGSL.tiledBytes(t), [t.tm, t.tn, t.bk].every((v) => v % 4 === 0) ? MATMUL4_WGSL.tiledBytes(t) : 0);

describe('planKernels (limits → requested limits and tile, or a reason)', () => {
  test('[ob:webgpu-limits-fit] the GL ES adapter fits: workgroup sizes, invocations and storage buffers are requested, the default tile kept', () => {
    const p = planKernels({ limits: GLES_ADAPTER });
    expect(p.ok).toBe(true);
    if (!p.ok) return;
    expect(p.tile).toEqual(DEFAULT_TILE);
    // The old acquisition requested neither: the device kept 128 threads along x and every 256-thread kernel failed.
    expect(p.requiredLimits.maxComputeWorkgroupSizeX).toBe(256);
    expect(p.requiredLimits.maxComputeInvocationsPerWorkgroup).toBe(256);
    expect(p.requiredLimits.maxStorageBuffersPerShaderStage).toBe(8);
    expect(p.requiredLimits.maxComputeWorkgroupStorageSize).toBe(32768);
    for (const [k, v] of Object.entries(p.requiredLimits) as [keyof KernelLimits, number][]) {
      expect(v, k).toBeLessThanOrEqual(GLES_ADAPTER[k]);
      expect(v, k).toBeGreaterThanOrEqual(KERNEL_NEEDS[k]);
    }
  });

  test('[ob:webgpu-limits-fit] the compatibility defaults cannot run the kernels: one line naming each shortfall', () => {
    const p = planKernels({ limits: GLES_DEVICE_DEFAULTS });
    expect(p).toEqual({
      ok: false,
      reason: 'allows 128 invocations per workgroup, the kernels need 256; allows 128 threads along workgroup x, the kernels need 256; allows 4 storage buffers per shader stage, the kernels need 8',
    });
  });

  test('[ob:webgpu-limits-fit] smaller workgroup memory picks a smaller proved tile; below the fixed kernels it is a reason', () => {
    const tileAt = (bytes: number): TileConfig | string => {
      const p = planKernels({ limits: { ...CORE_DEFAULTS, maxComputeWorkgroupStorageSize: bytes } });
      return p.ok ? p.tile : p.reason;
    };
    expect(tileAt(16384)).toEqual(DEFAULT_TILE);
    expect(tileAt(12288)).toEqual({ tm: 4, tn: 4, bk: 16 });
    expect(tileAt(8192)).toEqual({ tm: 2, tn: 2, bk: 8 });
    expect(tileAt(4096)).toBe('allows 4096 bytes of workgroup storage, the kernels need 8192');
    for (const t of TILE_CANDIDATES) expect(tileBytes(t)).toBeLessThanOrEqual(16384);
  });

  test('[ob:webgpu-limits-fit] a tile the caller insists on either fits or is the reason; the backend refuses it before touching the device', () => {
    const big = { tm: 8, tn: 8, bk: 32 };
    expect(planKernels({ limits: GLES_ADAPTER, tile: big })).toMatchObject({ ok: true, tile: big });
    expect(planKernels({ limits: CORE_DEFAULTS, tile: big })).toEqual({ ok: false, reason: 'allows 16384 bytes of workgroup storage, tile 8×8×32 needs 32768' });
    const gpu: GpuHandle = { device: {} as GPUDevice, description: 'test: no device', kind: 'vulkan', limits: CORE_DEFAULTS, tile: DEFAULT_TILE };
    expect(() => createWebGpuBackend(gpu, { tile: big })).toThrow('webgpu: test: no device: allows 16384 bytes of workgroup storage, tile 8×8×32 needs 32768');
  });
});

const TILES: readonly TileConfig[] = [...TILE_CANDIDATES, { tm: 8, tn: 8, bk: 16 }, { tm: 8, tn: 8, bk: 32 }, { tm: 4, tn: 4, bk: 8 }];

/** Every WGSL source the backends dispatch whose workgroup memory is fixed, by name (every dtype). */
function fixedKernels(): [string, string][] {
  const fixed: [string, string][] = Object.entries({ ADD, ADD_BIAS, KV_STORE, ROPE, SOFTMAX, SWIGLU, ATTENTION, ATTEND_ROW, STRIDED_MATMUL, RMSNORM_BACK_X, RMSNORM_BACK_W, SOFTMAX_CE_BACK });
  fixed.push(['rmsnorm in place', RMSNORM_WGSL.shader(true)], ['rmsnorm', RMSNORM_WGSL.shader(false)]);
  for (const [dt, src] of Object.entries(BLOCKED_MATVEC)) fixed.push([`matvec4 ${dt}`, src]);
  for (const [dt, src] of Object.entries(MATVEC_GLU)) fixed.push([`matvec glu ${dt}`, src]);
  for (const [name, set] of Object.entries({ MATVEC_QKV, MATVEC_QKV_NORM, MATVEC_GLU_NORM })) for (const [dt, src] of Object.entries(set)) fixed.push([`${name} ${dt}`, src]);
  for (const dt of Object.keys(WDECODE)) fixed.push([`matvec ${dt}`, MATMUL_WGSL.matvec(dt)], [`embed ${dt}`, MATMUL_WGSL.embed(dt)]);
  return fixed;
}

/** The tiled products (workgroup memory set by the tile), every dtype and tile. */
function tiledKernels(): [string, string][] {
  const out: [string, string][] = [];
  for (const t of TILES) {
    const name = `${t.tm}×${t.tn}×${t.bk}`;
    for (const dt of Object.keys(WDECODE)) {
      out.push([`tiled ${dt} ${name}`, MATMUL_WGSL.tiled(dt, t)]);
      if ([t.tm, t.tn, t.bk].every((v) => v % 4 === 0)) out.push([`tiled vec4 ${dt} ${name}`, MATMUL4_WGSL.tiled(dt, t)]);
    }
  }
  return out;
}

const ELEMENT_BYTES: Record<string, number> = { f32: 4, 'vec2<f32>': 8, 'vec4<f32>': 16, 'array<f32, 16>': 64 };

/** Workgroup memory a WGSL source declares, in bytes. */
function workgroupBytes(src: string): number {
  let total = 0;
  for (const m of src.matchAll(/var<workgroup>\s+\w+\s*:\s*array<(array<f32, 16>|vec[24]<f32>|f32),\s*(\d+)>/g)) total += (ELEMENT_BYTES[m[1] ?? ''] ?? Number.NaN) * Number(m[2]);
  return total;
}

function workgroupSize(src: string): number[] {
  const m = /@workgroup_size\(([^)]*)\)/.exec(src);
  return (m?.[1] ?? '').split(',').map((v) => Number(v.trim()));
}

describe('KERNEL_NEEDS against the WGSL sources', () => {
  test('[ob:webgpu-limits-fit] no kernel needs more threads, storage buffers or (tile aside) workgroup memory than KERNEL_NEEDS says', () => {
    const fixed = fixedKernels();
    const all = [...fixed, ...tiledKernels()];
    for (const [name, src] of all) {
      const [x = 1, y = 1] = workgroupSize(src);
      expect(x * y, name).toBeLessThanOrEqual(KERNEL_NEEDS.maxComputeInvocationsPerWorkgroup);
      expect(x, name).toBeLessThanOrEqual(KERNEL_NEEDS.maxComputeWorkgroupSizeX);
      expect(y, name).toBeLessThanOrEqual(KERNEL_NEEDS.maxComputeWorkgroupSizeY);
      expect(src.match(/var<storage/g)?.length ?? 0, name).toBeLessThanOrEqual(KERNEL_NEEDS.maxStorageBuffersPerShaderStage);
    }
    for (const [name, src] of fixed) expect(workgroupBytes(src), name).toBeLessThanOrEqual(KERNEL_NEEDS.maxComputeWorkgroupStorageSize);
    const most = (f: (src: string) => number): number => Math.max(...all.map(([, src]) => f(src)));
    expect(most((src) => src.match(/var<storage/g)?.length ?? 0)).toBe(KERNEL_NEEDS.maxStorageBuffersPerShaderStage);
    expect(most((src) => workgroupSize(src).reduce((a, b) => a * b, 1))).toBe(KERNEL_NEEDS.maxComputeInvocationsPerWorkgroup);
    expect(Math.max(...fixed.map(([, src]) => workgroupBytes(src)))).toBe(KERNEL_NEEDS.maxComputeWorkgroupStorageSize);
  });

  test('[ob:webgpu-limits-fit] the tiled products declare exactly the workgroup memory the planner charges them', () => {
    for (const t of TILES) {
      expect(workgroupBytes(MATMUL_WGSL.tiled('Q4_K', t)), `v1 ${JSON.stringify(t)}`).toBe(MATMUL_WGSL.tiledBytes(t));
      if ([t.tm, t.tn, t.bk].every((v) => v % 4 === 0)) expect(workgroupBytes(MATMUL4_WGSL.tiled('F32', t)), `v4 ${JSON.stringify(t)}`).toBe(MATMUL4_WGSL.tiledBytes(t));
    }
  });
});

describe('acquireGpu with no backend to try', () => {
  const saved = process.env['APR_WEBGPU_BACKENDS'];
  afterEach(() => {
    if (saved === undefined) delete process.env['APR_WEBGPU_BACKENDS'];
    else process.env['APR_WEBGPU_BACKENDS'] = saved;
  });

  test('[ob:webgpu-device-reason] APR_WEBGPU_BACKENDS=none is a reason, not a device', async () => {
    process.env['APR_WEBGPU_BACKENDS'] = 'none';
    const r = await acquireGpu();
    expect(r).toEqual({ ok: false, reason: 'no usable WebGPU adapter (no backend to try); run .ci/install-webgpu.sh for a software adapter' });
  });
});

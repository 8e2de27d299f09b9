import { defineContract } from '../../contract/index.js';
import { DEFAULT_TILE, MATMUL_WGSL, type TileConfig } from './wgsl-matmul.js';
import { MATMUL4_WGSL } from './wgsl-matmul-v4.js';

/**
 * Fitting the kernels to what an adapter offers. Dawn's devices start at the WebGPU defaults (in the
 * OpenGL ES compatibility mode: 128 invocations per workgroup, 16 KiB of workgroup memory), lower than what
 * the kernels use and lower than what most adapters allow; so the device is requested with the limits the
 * kernels need, and the prefill tile is the largest one whose workgroup memory the adapter grants. An
 * adapter below a need the kernels cannot shrink (256-thread workgroups, five storage buffers in one stage)
 * gets a one-line reason instead of a device.
 */

/** The limits the kernels depend on (every GPUSupportedLimits has them). */
export interface KernelLimits {
  readonly maxComputeInvocationsPerWorkgroup: number;
  readonly maxComputeWorkgroupSizeX: number;
  readonly maxComputeWorkgroupSizeY: number;
  readonly maxStorageBuffersPerShaderStage: number;
  readonly maxComputeWorkgroupStorageSize: number;
  readonly maxStorageBufferBindingSize: number;
  readonly maxBufferSize: number;
}

export type KernelLimitName = keyof KernelLimits;

/**
 * What every kernel needs whatever the tile: 256 threads per workgroup (1-D 256 for the flat, reduction and
 * matvec kernels; 16×16 for the tiled products), at most five storage buffers in one pipeline (RMSNorm
 * backward), 8 KiB of workgroup memory (the matvec reductions, 2048 floats), 1 MiB buffers (the uniform arena).
 */
export const KERNEL_NEEDS: Readonly<Record<KernelLimitName, number>> = {
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupSizeY: 16,
  maxStorageBuffersPerShaderStage: 8,
  maxComputeWorkgroupStorageSize: 8192,
  maxStorageBufferBindingSize: 1 << 20,
  maxBufferSize: 1 << 20,
};

const WHAT: Readonly<Record<KernelLimitName, string>> = {
  maxComputeInvocationsPerWorkgroup: 'invocations per workgroup',
  maxComputeWorkgroupSizeX: 'threads along workgroup x',
  maxComputeWorkgroupSizeY: 'threads along workgroup y',
  maxStorageBuffersPerShaderStage: 'storage buffers per shader stage',
  maxComputeWorkgroupStorageSize: 'bytes of workgroup storage',
  maxStorageBufferBindingSize: 'bytes per storage binding',
  maxBufferSize: 'bytes per buffer',
};

/** Limits requested at the adapter's maximum (bigger models and tiles), not at the need. */
const AT_MAXIMUM: ReadonlySet<KernelLimitName> = new Set(['maxComputeWorkgroupStorageSize', 'maxStorageBufferBindingSize', 'maxBufferSize']);

/** Prefill tiles in order of preference when none is asked for: the default, then smaller (all proved, proofs/webgpu-kernels.ts). */
export const TILE_CANDIDATES: readonly TileConfig[] = [DEFAULT_TILE, { tm: 4, tn: 4, bk: 16 }, { tm: 2, tn: 2, bk: 8 }];

export interface KernelPlanInput {
  /** The adapter's limits (or a device's granted ones). */
  readonly limits: KernelLimits;
  /** A tile the caller insists on; else the first of TILE_CANDIDATES that fits. */
  readonly tile?: TileConfig;
}

export type KernelPlan =
  | { readonly ok: true; readonly tile: TileConfig; readonly requiredLimits: Readonly<Record<KernelLimitName, number>> }
  | { readonly ok: false; readonly reason: string };

const tileName = (t: TileConfig): string => `${t.tm}×${t.tn}×${t.bk}`;

/** Workgroup bytes of the prefill product with tile `t`: the scalar kernel, and the vec4 one where the tile allows it. */
function tileBytes(t: TileConfig): number {
  const scalar = MATMUL_WGSL.tiledBytes(t);
  return [t.tm, t.tn, t.bk].every((v) => v % 4 === 0) ? Math.max(scalar, MATMUL4_WGSL.tiledBytes(t)) : scalar;
}

function shortfalls(limits: KernelLimits): string[] {
  const names = Object.keys(KERNEL_NEEDS) as KernelLimitName[];
  return names.filter((k) => !(limits[k] >= KERNEL_NEEDS[k])).map((k) => `allows ${limits[k]} ${WHAT[k]}, the kernels need ${KERNEL_NEEDS[k]}`);
}

function chooseTile(limits: KernelLimits, asked: TileConfig | undefined): TileConfig | string {
  const room = limits.maxComputeWorkgroupStorageSize;
  if (asked) return tileBytes(asked) <= room ? asked : `allows ${room} ${WHAT.maxComputeWorkgroupStorageSize}, tile ${tileName(asked)} needs ${tileBytes(asked)}`;
  return TILE_CANDIDATES.find((t) => tileBytes(t) <= room) ?? `allows ${room} ${WHAT.maxComputeWorkgroupStorageSize}, the smallest tile needs ${Math.min(...TILE_CANDIDATES.map(tileBytes))}`;
}

function plan(input: KernelPlanInput): KernelPlan {
  const { limits } = input;
  const short = shortfalls(limits);
  if (short.length > 0) return { ok: false, reason: short.join('; ') };
  const tile = chooseTile(limits, input.tile);
  if (typeof tile === 'string') return { ok: false, reason: tile };
  const names = Object.keys(KERNEL_NEEDS) as KernelLimitName[];
  const requiredLimits = Object.fromEntries(names.map((k) => [k, AT_MAXIMUM.has(k) ? limits[k] : KERNEL_NEEDS[k]])) as Record<KernelLimitName, number>;
  return { ok: true, tile, requiredLimits };
}

export const planContract = defineContract<KernelPlanInput, KernelPlan>({
  id: 'webgpu-device-v1',
  equation: 'plan_limits',
  spec: 'plan(L, tile?) = {requiredLimits ≤ L covering every kernel need, tile with workgroup bytes ≤ L} when every need ≤ L, else a reason naming each shortfall',
  pre: [['tile sizes are positive integers', ({ tile }) => tile === undefined || [tile.tm, tile.tn, tile.bk].every((v) => Number.isInteger(v) && v >= 1)]],
  post: [
    ['required limits within the adapter and at least the needs', ({ limits }, p) => !p.ok || (Object.keys(KERNEL_NEEDS) as KernelLimitName[]).every((k) => p.requiredLimits[k] <= limits[k] && p.requiredLimits[k] >= KERNEL_NEEDS[k])],
    ['the tile fits', ({ limits }, p) => !p.ok || tileBytes(p.tile) <= limits.maxComputeWorkgroupStorageSize],
    ['a reason otherwise', (_i, p) => p.ok || p.reason.length > 0],
  ],
});

/** The limits to request from an adapter with `limits` and the prefill tile to use, or why its limits cannot run the kernels. */
export function planKernels(input: KernelPlanInput): KernelPlan {
  return planContract.run(input, () => plan(input));
}

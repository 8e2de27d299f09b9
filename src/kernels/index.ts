export type { AttentionShape, Backend, WeightMatrix } from './types.js';
export { cpuBackend, cpuPortableBackend, createCpuBackend, type CpuBackendOptions } from './cpu/index.js';

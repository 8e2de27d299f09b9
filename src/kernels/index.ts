export type { AttentionShape, Backend, WeightMatrix } from './types.js';
export { cpuBackend, cpuPortableBackend } from './cpu/index.js';

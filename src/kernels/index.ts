export type { AttentionShape, Backend, WeightMatrix } from './types.js';
export { cpuBackend } from './cpu/index.js';

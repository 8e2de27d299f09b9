export { detectIsolation, probeIsolation, which } from './isolation.js';
export { Limiter, mapLimit } from './pool.js';
export { activeLayers, spawnSandbox } from './process.js';
export type { ActiveLayers } from './process.js';
export { defaultWorkers, runInSandbox, runManyInSandbox } from './run.js';
export type { SandboxOptions } from './run.js';
export { DEFAULT_LIMITS } from './types.js';
export type { SandboxIsolation, SandboxJob, SandboxLimits, SandboxPolicy, SandboxResult, SandboxStatus, VisibleOutcome } from './types.js';

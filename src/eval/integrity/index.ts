export { CheckContext, ModelOpenError } from './context.js';
export {
  GOLDEN_TOLERANCE,
  GOLDEN_VERSION,
  type GoldenFingerprint,
  compareFingerprint,
  fingerprintForImport,
  goldenFingerprint,
  weightsDigest,
} from './golden.js';
export { type RunCheckOptions, STAGES, runCheck, summarize } from './pipeline.js';
export type { CheckReport, StageResult, StageStatus } from './types.js';

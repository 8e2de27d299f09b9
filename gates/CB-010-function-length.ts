import { functionGate, limits } from './lib/function-gate.js';
import { defineCheck } from './lib/types.js';

/** Functions stay small: lines from the signature to the closing brace. */
export const functionLength = defineCheck({
  id: 'CB-010',
  name: 'function-length',
  description: 'source functions stay under the line limits',
  thresholds: limits(60, 100),
  run: (ctx, t) => functionGate(ctx, 'lines', 'lines', t),
});

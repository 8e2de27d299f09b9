import { functionGate, limits } from './lib/function-gate.js';
import { defineCheck } from './lib/types.js';

/** Block nesting depth per function (if/loops/switch/try), as ESLint's `max-depth` counts it. */
export const nestingDepth = defineCheck({
  id: 'CB-013',
  name: 'nesting-depth',
  description: 'block nesting of each source function stays under the limits',
  thresholds: limits(4, 6),
  run: (ctx, t) => functionGate(ctx, 'nesting', 'nesting depth', t),
});
